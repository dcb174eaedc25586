"""Does a thermostat hold the model at its target temperature? A force field with a
non-conservative part (straight-through forces of rounded activations) pumps energy in, and under
Langevin dynamics that shows as a kinetic temperature above the target.

The kinetic temperature is T = 2 KE / (f k_B), f = 3 N_massive - constraints - 3 if the system removes
centre-of-mass motion. Its mean over the run carries a standard error corrected by the statistical
inefficiency of the series (successive samples are correlated).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import openmm
from openmm import unit

from gaqmd.checks.conservation import _context, start_state, statistical_inefficiency

BOLTZMANN_KJ_PER_MOL_K = (unit.BOLTZMANN_CONSTANT_kB * unit.AVOGADRO_CONSTANT_NA).value_in_unit(
    unit.kilojoule_per_mole / unit.kelvin)


@dataclass(frozen=True)
class ThermostatResult:
    """Langevin run at target_k: mean_k ± stderr_k (K) of the kinetic temperature; times (n,) ps and
    temperatures (n,) K sampled every report_every steps."""

    target_k: float
    friction_per_ps: float
    dt_fs: float
    mean_k: float
    stderr_k: float
    times: np.ndarray = field(repr=False, compare=False)
    temperatures: np.ndarray = field(repr=False, compare=False)

    @property
    def bias_k(self) -> float:
        return self.mean_k - self.target_k


def degrees_of_freedom(system: openmm.System) -> int:
    massive = sum(1 for i in range(system.getNumParticles()) if system.getParticleMass(i).value_in_unit(unit.dalton) > 0)
    removes_com = any(isinstance(system.getForce(k), openmm.CMMotionRemover) for k in range(system.getNumForces()))
    return 3 * massive - system.getNumConstraints() - (3 if removes_com else 0)


def langevin_temperature(start, target_k: float = 300.0, steps: int = 10000, dt_fs: float = 0.5,
                         friction_per_ps: float = 1.0, report_every: int = 10, platform: str = "Reference",
                         seed: int = 2) -> ThermostatResult:
    """Kinetic temperature of a LangevinMiddleIntegrator run of `steps` from start (as for
    conservation.start_state; the start should already be equilibrated at target_k)."""
    state = start_state(start)
    integrator = openmm.LangevinMiddleIntegrator(target_k, friction_per_ps, dt_fs * 1e-3)
    integrator.setRandomNumberSeed(seed)
    context = _context(state, integrator, platform)
    kelvin_per_kj_mol = 2.0 / (degrees_of_freedom(state.system) * BOLTZMANN_KJ_PER_MOL_K)
    temperatures = []
    for _ in range(steps // report_every):
        integrator.step(report_every)
        kinetic = context.getState(getEnergy=True).getKineticEnergy().value_in_unit(unit.kilojoule_per_mole)
        temperatures.append(kinetic * kelvin_per_kj_mol)
    temperatures = np.asarray(temperatures)
    stderr = float(np.sqrt(temperatures.var(ddof=1) * statistical_inefficiency(temperatures) / len(temperatures)))
    times = np.arange(1, len(temperatures) + 1) * report_every * dt_fs * 1e-3
    return ThermostatResult(target_k, friction_per_ps, dt_fs, float(temperatures.mean()), stderr, times, temperatures)


def format_thermostat(result: ThermostatResult) -> str:
    return (f"Langevin at {result.target_k:g} K (friction {result.friction_per_ps:g}/ps, {result.dt_fs:g} fs, "
            f"{result.times[-1]:g} ps): mean kinetic temperature {result.mean_k:.1f} ± {result.stderr_k:.1f} K "
            f"(bias {result.bias_k:+.1f} K)")
