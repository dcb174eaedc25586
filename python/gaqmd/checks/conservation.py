"""Energy conservation in NVE: OpenMM's VerletIntegrator run from a given state, total energy fitted vs time.

Units: energies are stored in eV (converted with gaqmd.openmm.units), times in ps; the drift is
reported in meV/atom/ps and fluctuations in meV/atom, where "atom" counts particles with mass > 0.
Positions and velocities given as plain arrays are in OpenMM units (nm, nm/ps); openmm.unit
Quantities are converted.

Drift = slope of an ordinary least-squares line through E_total(t). Successive energies are
correlated (Verlet's energy oscillates at twice the vibrational frequencies), so the textbook
standard error of the slope is too small; it is multiplied by sqrt(g), g the statistical
inefficiency of the fit residuals (1 + 2 sum of their autocorrelation up to its first zero).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import openmm
from openmm import app, unit
from tqdm.auto import tqdm

from gaqmd.openmm import units


@dataclass(frozen=True, eq=False)
class StartState:
    """Where an NVE run starts: a System with positions (N, 3) nm, velocities (N, 3) nm/ps, box (3, 3) nm or None."""

    system: openmm.System
    positions: np.ndarray
    velocities: np.ndarray
    box: np.ndarray | None = None
    # Context.getSystem() does not own its System: the Context it came from must outlive it
    owner: object = field(default=None, repr=False)


@dataclass(frozen=True)
class LinearFit:
    """y ≈ intercept + slope * t; residuals (n,) in the units of y; stderr corrected by sqrt(inefficiency)."""

    slope: float
    stderr: float
    intercept: float
    inefficiency: float
    residuals: np.ndarray = field(repr=False, compare=False)


@dataclass(frozen=True)
class ConservationResult:
    """One NVE run. drift, drift_stderr: meV/atom/ps; rms_fluctuation (about the fit), max_abs_change
    (max |E(t) - E(0)|): meV/atom; times (n,) ps; total/potential energies (n,) eV; intercept eV;
    max_drift (meV/atom/ps) and n_sigma: the thresholds of the verdict (see nve_drift)."""

    dt_fs: float
    steps: int
    n_atoms: int
    platform: str
    drift: float
    drift_stderr: float
    rms_fluctuation: float
    max_abs_change: float
    intercept: float
    conserved: bool
    reason: str
    max_drift: float
    n_sigma: float
    times: np.ndarray = field(repr=False, compare=False)
    total_energy: np.ndarray = field(repr=False, compare=False)
    potential_energy: np.ndarray = field(repr=False, compare=False)
    # (f, N, 3) Å every frame_every steps from t = 0 when nve_drift was asked for them, else empty
    frames: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 3)), repr=False, compare=False)


def _plain(values, quantity_unit) -> np.ndarray:
    if unit.is_quantity(values):
        values = values.value_in_unit(quantity_unit)
    return np.array(values, dtype=np.float64)  # also takes a list of openmm.Vec3


def start_state(start) -> StartState:
    """A StartState from a Simulation, a Context, a StartState, or a (system, positions, velocities) tuple."""
    if isinstance(start, StartState):
        return start
    owner = start
    if isinstance(start, app.Simulation):
        start = start.context
    if isinstance(start, openmm.Context):
        state = start.getState(getPositions=True, getVelocities=True)
        system = start.getSystem()
        box = None
        if system.usesPeriodicBoundaryConditions():
            box = _plain(state.getPeriodicBoxVectors(asNumpy=True), unit.nanometer)
        return StartState(system, _plain(state.getPositions(asNumpy=True), unit.nanometer),
                          _plain(state.getVelocities(asNumpy=True), unit.nanometer / unit.picosecond), box, owner)
    system, positions, velocities = start
    return StartState(system, _plain(positions, unit.nanometer), _plain(velocities, unit.nanometer / unit.picosecond))


def _context(state: StartState, integrator: openmm.Integrator, platform: str) -> openmm.Context:
    context = openmm.Context(state.system, integrator, openmm.Platform.getPlatformByName(platform))
    if state.box is not None:
        context.setPeriodicBoxVectors(*(openmm.Vec3(*row) for row in state.box))
    context.setPositions(state.positions)
    context.setVelocities(state.velocities)
    return context


def equilibrate(start, temperature_k: float = 300.0, steps: int = 1000, dt_fs: float = 0.5,
                friction_per_ps: float = 1.0, platform: str = "Reference", seed: int = 1) -> StartState:
    """Langevin (LangevinMiddleIntegrator) at temperature_k for steps from start, velocities first drawn
    from Maxwell-Boltzmann (reproducible by seed); start as for start_state, or (system, positions) alone."""
    if isinstance(start, tuple) and len(start) == 2:
        start = (*start, np.zeros((start[0].getNumParticles(), 3)))
    state = start_state(start)
    integrator = openmm.LangevinMiddleIntegrator(temperature_k, friction_per_ps, dt_fs * 1e-3)
    integrator.setRandomNumberSeed(seed)
    context = _context(state, integrator, platform)
    context.setVelocitiesToTemperature(temperature_k, seed)
    integrator.step(steps)
    return replace(start_state(context), system=state.system, owner=state.owner)


def statistical_inefficiency(values: np.ndarray) -> float:
    """g = 1 + 2 sum_k (1 - k/n) rho_k over lags k up to the first rho_k <= 0 (>= 1; 1 for white noise)."""
    x = np.asarray(values, dtype=np.float64) - np.mean(values)
    n = len(x)
    if n < 3 or not np.any(x):
        return 1.0
    spectrum = np.fft.rfft(x, 2 * n)  # zero padding: linear, not circular, correlation
    rho = np.fft.irfft(spectrum * spectrum.conj(), 2 * n)[: n - 1]
    rho = rho[1:] / rho[0]
    stop = int(np.argmax(rho <= 0.0)) if np.any(rho <= 0.0) else len(rho)
    lags = np.arange(1, stop + 1)
    return float(1.0 + 2.0 * ((1.0 - lags / n) * rho[:stop]).sum())


def linear_drift(times: np.ndarray, values: np.ndarray) -> LinearFit:
    """Least-squares line through values (n,) vs times (n,), n >= 3."""
    t, y = np.asarray(times, dtype=np.float64), np.asarray(values, dtype=np.float64)
    if len(t) < 3:
        raise ValueError(f"a drift fit needs at least 3 samples, got {len(t)}")
    t_mean = t.mean()
    sxx = float(((t - t_mean) ** 2).sum())
    slope = float(((t - t_mean) * (y - y.mean())).sum() / sxx)
    intercept = float(y.mean() - slope * t_mean)
    residuals = y - (intercept + slope * t)
    g = statistical_inefficiency(residuals)
    stderr = float(np.sqrt((residuals**2).sum() / (len(t) - 2) / sxx * g))
    return LinearFit(slope, stderr, intercept, g, residuals)


def _n_atoms(system: openmm.System) -> int:
    masses = [system.getParticleMass(i).value_in_unit(unit.dalton) for i in range(system.getNumParticles())]
    return max(1, sum(mass > 0 for mass in masses))


def _verdict(drift: float, stderr: float, max_drift: float, n_sigma: float) -> tuple[bool, str]:
    sigmas = abs(drift) / stderr if stderr > 0 else np.inf
    summary = f"drift {drift:+.3g} ± {stderr:.2g} meV/atom/ps ({sigmas:.1f} σ)"
    if sigmas > n_sigma and abs(drift) > max_drift:
        return False, f"{summary}: significant (> {n_sigma:g} σ) and above {max_drift:g} meV/atom/ps"
    if abs(drift) > max_drift:
        return True, f"{summary}: above {max_drift:g} meV/atom/ps but within {n_sigma:g} σ of zero"
    return True, f"{summary}: within {max_drift:g} meV/atom/ps"


def nve_drift(start, dt_fs: float = 0.5, steps: int = 2000, report_every: int = 10, platform: str = "Reference",
              *, max_drift: float = 0.1, n_sigma: float = 3.0, max_energy_change: float = 1.0, frame_every: int = 0,
              stop_when: Callable[[np.ndarray], str | None] | None = None,
              progress: bool = False) -> ConservationResult:
    """Run steps of VerletIntegrator(dt_fs) from start (see start_state; a Simulation's own Context is not
    touched), recording the total energy every report_every steps and at t = 0, and the positions every
    frame_every steps (a multiple of report_every; 0: none) into result.frames. stop_when(frame (N, 3) Å)
    returns why the run must end at that frame (e.g. a dissociation), or None. progress: a bar on stderr.

    Not conserved when |drift| > max_drift meV/atom/ps and |drift| > n_sigma standard errors, or when the
    run blows up: an OpenMMException, a non-finite energy, or |E(t) - E(0)| > max_energy_change eV/atom
    (the run stops there and the fit covers the samples before it).
    """
    if steps < 2 * report_every:
        raise ValueError(f"steps={steps} gives fewer than 3 energy samples at report_every={report_every}")
    if frame_every % report_every:
        raise ValueError(f"frame_every={frame_every} is not a multiple of report_every={report_every}")
    state = start_state(start)
    integrator = openmm.VerletIntegrator(dt_fs * 1e-3)
    context = _context(state, integrator, platform)
    n_atoms = _n_atoms(state.system)
    times, total, potential, frames, failure = [], [], [], [], None
    bar = tqdm(total=steps, unit="step", desc=f"NVE {dt_fs:g} fs", disable=not progress, file=sys.stderr)
    for block in range(steps // report_every + 1):
        try:
            if block:
                integrator.step(report_every)
                bar.update(report_every)
            with_frame = frame_every and block * report_every % frame_every == 0
            energies = context.getState(getEnergy=True, getPositions=bool(with_frame))
        except openmm.OpenMMException as error:
            failure = f"blew up after step {(block - 1) * report_every}: {str(error).splitlines()[0]}"
            break
        kinetic = units.kj_per_mol_to_ev(energies.getKineticEnergy().value_in_unit(unit.kilojoule_per_mole))
        pot = units.kj_per_mol_to_ev(energies.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole))
        if not np.isfinite(kinetic + pot):
            failure = f"blew up: non-finite energy at step {block * report_every}"
            break
        if total and abs(kinetic + pot - total[0]) > max_energy_change * n_atoms:
            failure = (f"blew up: energy changed by {(kinetic + pot - total[0]) / n_atoms:+.3g} eV/atom "
                       f"(> {max_energy_change:g}) at step {block * report_every}")
            break
        times.append(block * report_every * dt_fs * 1e-3)
        total.append(kinetic + pot)
        potential.append(pot)
        if with_frame:
            frames.append(10.0 * _plain(energies.getPositions(asNumpy=True), unit.nanometer))
            failure = stop_when(frames[-1]) if stop_when else None
            if failure:
                break
    bar.close()
    result = drift_from_energies(np.array(times), np.array(total), n_atoms, max_drift=max_drift,
                                 n_sigma=n_sigma, potential_energy=np.array(potential), dt_fs=dt_fs, steps=steps,
                                 platform=platform, failure=failure)
    return replace(result, frames=np.array(frames).reshape(len(frames), -1, 3)) if frame_every else result


def drift_from_energies(times: np.ndarray, total_energy: np.ndarray, n_atoms: int, *, max_drift: float = 0.1,
                        n_sigma: float = 3.0, potential_energy: np.ndarray | None = None, dt_fs: float = float("nan"),
                        steps: int = 0, platform: str = "", failure: str | None = None) -> ConservationResult:
    """The ConservationResult of a recorded series: times (n,) ps, total_energy (n,) eV of n_atoms atoms
    (e.g. read from a StateDataReporter log); failure: why the run stopped early, if it did."""
    times, total = np.asarray(times, dtype=np.float64), np.asarray(total_energy, dtype=np.float64)
    potential = np.full_like(total, np.nan) if potential_energy is None else np.asarray(potential_energy, float)
    if not np.isfinite(total).all():
        first = int(np.argmin(np.isfinite(total)))
        failure = failure or f"blew up: non-finite energy at {times[first]:g} ps"
        times, total, potential = times[:first], total[:first], potential[:first]
    per_atom = 1e3 / n_atoms  # eV -> meV/atom
    if len(times) >= 3:
        fit = linear_drift(times, total)
        drift, stderr = fit.slope * per_atom, fit.stderr * per_atom
        rms, intercept = float(np.sqrt(np.mean(fit.residuals**2))) * per_atom, fit.intercept
        conserved, reason = _verdict(drift, stderr, max_drift, n_sigma)
    else:
        drift = stderr = rms = intercept = float("nan")
        conserved, reason = False, "fewer than 3 energy samples"
    if failure is not None:
        conserved, reason = False, failure
    max_change = float(np.abs(total - total[0]).max()) * per_atom if len(total) else float("nan")
    return ConservationResult(dt_fs, steps, n_atoms, platform, drift, stderr, rms, max_change, intercept,
                              conserved, reason, max_drift, n_sigma, times, total, potential)


def timestep_scan(start, dts_fs: Sequence[float] = (0.25, 0.5, 1.0), duration_ps: float = 1.0,
                  report_every_fs: float = 5.0, platform: str = "Reference", **verdict) -> list[ConservationResult]:
    """nve_drift from the same start for each time step, each run duration_ps long, reporting every
    report_every_fs (rounded to whole steps); verdict: max_drift, n_sigma, max_energy_change."""
    results = []
    for dt in dts_fs:
        report_every = max(1, round(report_every_fs / dt))
        steps = max(2 * report_every, round(duration_ps * 1e3 / dt / report_every) * report_every)
        results.append(nve_drift(start, dt, steps, report_every, platform, **verdict))
    return results


def format_conservation(results: ConservationResult | Sequence[ConservationResult]) -> str:
    """Plain-text table, one row per run."""
    results = [results] if isinstance(results, ConservationResult) else list(results)
    header = (f"{'dt fs':>6} {'steps':>7} {'drift meV/atom/ps':>20} {'RMS meV/atom':>13} "
              f"{'max|ΔE| meV/atom':>17}  verdict")
    lines = [header, "-" * len(header)]
    for r in results:
        drift = f"{r.drift:+.4f} ± {r.drift_stderr:.4f}"
        verdict = "conserved" if r.conserved else f"NOT CONSERVED: {r.reason}"
        lines.append(f"{r.dt_fs:>6g} {r.steps:>7} {drift:>20} {r.rms_fluctuation:>13.4f} "
                     f"{r.max_abs_change:>17.4f}  {verdict}")
    return "\n".join(lines)
