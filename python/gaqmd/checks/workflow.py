"""`gaqmd check`: every check of a deployed model against its FP32 reference, in one run.

From a structure: equilibrate with the model (Langevin), then from that state
0. thermostat: the model's mean kinetic temperature under Langevin dynamics (a force field that
   pumps energy in runs above the target);
1. speed: the same NVE steps with the native engine and with the FP32 PyTorch model (PythonForce);
2. conservation: NVE time-step scan with the native engine;
3. sampling: an NVE trajectory of each model, for parity (model vs reference on the model's frames)
   and stability (bond/angle distributions of the model's trajectory vs the reference's);
4. LEE and energy invariance of the native engine on the sampled frames;
and write report.md with its PNGs, and the model's NVE trajectory (trajectory.dcd, topology.pdb).
"""

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import openmm
from openmm import unit

from gaqmd.checks.conservation import StartState, _context, equilibrate, start_state, timestep_scan
from gaqmd.checks.equivariance import local_equivariance_error, model_energy_forces
from gaqmd.checks.parity import energy_force_parity
from gaqmd.checks.report import write_report
from gaqmd.checks.stability import stability_check
from gaqmd.checks.thermostat import format_thermostat, langevin_temperature
from gaqmd.data import Frame
from gaqmd.md.simulate import build_system
from gaqmd.md.structure import Structure


@dataclass(frozen=True)
class CheckOptions:
    temperature_k: float = 300.0
    equilibration_steps: int = 2000  # Langevin, 0.5 fs
    thermostat_steps: int = 10000  # Langevin, 0.5 fs, friction 1/ps, after the equilibration
    dts_fs: tuple[float, ...] = (0.25, 0.5, 1.0)  # NVE time-step scan
    nve_ps: float = 1.0  # length of each NVE run of the scan
    sample_steps: int = 2000  # NVE steps (0.5 fs) sampled for parity and stability
    sample_every: int = 20
    speed_steps: int = 200
    lee_frames: int = 5
    platform: str = "CPU"
    seed: int = 1


@dataclass(frozen=True)
class CheckSummary:
    engine_ns_per_day: float
    reference_ns_per_day: float
    speedup: float
    drift_meV_per_atom_ps: dict[str, float]  # time step (fs) -> drift
    drift_stderr_meV_per_atom_ps: dict[str, float]
    conserved: dict[str, bool]  # no drift both significant and above the threshold (conservation.nve_drift)
    parity_force_mae_meV_A: float
    parity_energy_mae_meV: float
    lee_meV_A: float
    stable: bool
    thermostat_temperature_k: float  # mean kinetic temperature under Langevin at temperature_k
    thermostat_temperature_stderr_k: float
    files: list[str] = field(default_factory=list)


def ns_per_day(start: StartState, steps: int, platform: str, dt_fs: float = 0.5) -> float:
    """Wall-clock speed of `steps` VerletIntegrator steps from start (after one warm-up step)."""
    integrator = openmm.VerletIntegrator(dt_fs * unit.femtosecond)
    context = _context(start, integrator, platform)
    integrator.step(1)
    begin = time.perf_counter()
    integrator.step(steps)
    context.getState(getEnergy=True)
    seconds = time.perf_counter() - begin
    return steps * dt_fs * 1e-6 / seconds * 86400.0


def sample_nve(start: StartState, steps: int, every: int, platform: str, dt_fs: float = 0.5) -> np.ndarray:
    """Positions (steps // every + 1, n, 3) Å of an NVE run from start."""
    integrator = openmm.VerletIntegrator(dt_fs * unit.femtosecond)
    context = _context(start, integrator, platform)
    frames = []
    for block in range(steps // every + 1):
        if block:
            integrator.step(every)
        positions = context.getState(getPositions=True).getPositions(asNumpy=True)
        frames.append(positions.value_in_unit(unit.angstrom))
    return np.asarray(frames, dtype=np.float64)


def write_trajectory(frames: np.ndarray, numbers: np.ndarray, output: Path, dt_ps: float) -> list[Path]:
    """frames (F, n, 3) Å -> output/trajectory.dcd and output/topology.pdb (mdtraj, bonds inferred)."""
    from gaqmd.checks.stability import as_trajectory

    trajectory = as_trajectory(frames, numbers)
    trajectory.time = np.arange(len(frames)) * dt_ps
    paths = [output / "trajectory.dcd", output / "topology.pdb"]
    trajectory.save_dcd(str(paths[0]))
    trajectory[0].save_pdb(str(paths[1]))
    return paths


def _with_system(state: StartState, system: openmm.System) -> StartState:
    return StartState(system, state.positions, state.velocities, state.box, state.owner)


def run_checks(model, reference, structure: Structure, output: Path, options: CheckOptions = CheckOptions(),
               log=print) -> CheckSummary:
    """model: model.gaq or gaqmd model file run on the native engine; reference: the FP32 gaqmd model
    file (.pt) run through PyTorch. Writes report.md, PNGs and summary.json into output."""
    from gaqmd.model.io import load_model
    from gaqmd.native import NativeModel

    if structure.box is not None:
        raise ValueError("gaqmd check runs on molecules in vacuum; the structure has a periodic box")
    output = Path(output)
    numbers = np.array([atom.element.atomic_number for atom in structure.topology.atoms()])
    engine_system = build_system(model, structure, "native")
    reference_system = build_system(reference, structure, "pytorch")
    log(f"equilibrating {len(numbers)} atoms at {options.temperature_k:g} K ({options.equilibration_steps} steps)")
    start = equilibrate((engine_system, structure.positions), options.temperature_k, options.equilibration_steps,
                        platform=options.platform, seed=options.seed)
    reference_start = _with_system(start_state(start), reference_system)

    log(f"thermostat: Langevin at {options.temperature_k:g} K with the model ({options.thermostat_steps} steps)")
    thermostat = langevin_temperature(start, options.temperature_k, options.thermostat_steps,
                                      platform=options.platform, seed=options.seed + 1)

    log("speed: native engine vs FP32 PyTorch (PythonForce), same steps")
    engine_speed = ns_per_day(start, options.speed_steps, options.platform)
    reference_speed = ns_per_day(reference_start, options.speed_steps, options.platform)

    log(f"NVE time-step scan {options.dts_fs} fs, {options.nve_ps:g} ps each")
    scan = timestep_scan(start, options.dts_fs, options.nve_ps, platform=options.platform)

    log(f"sampling {options.sample_steps} NVE steps with each model")
    frames = sample_nve(start, options.sample_steps, options.sample_every, options.platform)
    reference_frames = sample_nve(reference_start, options.sample_steps, options.sample_every, options.platform)
    native = NativeModel(model)
    reference_model = model_energy_forces(load_model(Path(reference))[0])
    parity = energy_force_parity(native, reference_model, frames, numbers)
    stability = stability_check(frames, numbers, reference=reference_frames)
    lee_set = [Frame(numbers, positions) for positions in frames[:: max(1, len(frames) // options.lee_frames)]]
    equivariance = local_equivariance_error(native, lee_set[: options.lee_frames])

    notes = (f"Model `{Path(model).name}` ({native.mode}, native engine) vs FP32 reference `{Path(reference).name}` "
             f"(PyTorch through openmm.PythonForce), OpenMM {options.platform} platform. Speed: native "
             f"{engine_speed:.3f} ns/day, reference {reference_speed:.3f} ns/day ({engine_speed / reference_speed:.1f}x). "
             f"Thermostat: {format_thermostat(thermostat)}.")
    output.mkdir(parents=True, exist_ok=True)
    paths = write_trajectory(frames, numbers, output, options.sample_every * 0.5e-3)
    paths += write_report(output, conservation=scan, stability=stability, parity=parity, equivariance=equivariance,
                         title="gaqmd check", notes=notes)
    summary = CheckSummary(
        engine_speed, reference_speed, engine_speed / reference_speed,
        {f"{run.dt_fs:g}": run.drift for run in scan}, {f"{run.dt_fs:g}": run.drift_stderr for run in scan},
        {f"{run.dt_fs:g}": run.conserved for run in scan},
        parity.force_mae, parity.energy_mae, equivariance.lee, stability.stable, thermostat.mean_k,
        thermostat.stderr_k, [p.name for p in paths])
    (output / "summary.json").write_text(json.dumps({"options": asdict(options), **asdict(summary)}, indent=2) + "\n")
    return summary
