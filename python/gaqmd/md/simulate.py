"""Run OpenMM MD with a gaqmd model: progress bar, ns/day, energies to CSV, trajectory for mdtraj."""

import csv
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import openmm
from openmm import app, unit

from gaqmd.md.structure import Structure

INTEGRATORS = ("langevin", "verlet")
ENGINES = ("native", "pytorch")
TRAJECTORY_FORMATS = ("dcd", "xtc")
_BOLTZMANN_KJ_PER_MOL_K = (unit.MOLAR_GAS_CONSTANT_R).value_in_unit(unit.kilojoule_per_mole / unit.kelvin)


@dataclass(frozen=True)
class MDOptions:
    steps: int = 1000
    dt_fs: float = 0.5
    temperature_k: float = 300.0  # initial velocities, and the Langevin bath
    integrator: str = "langevin"  # "verlet" is NVE
    friction_per_ps: float = 1.0
    platform: str = "CPU"
    report_interval: int = 10  # steps between CSV rows and trajectory frames
    trajectory_format: str = "dcd"
    engine: str = "native"  # "native": GaqForce (C++); "pytorch": the model through openmm.PythonForce
    threads: int | None = None  # CPU platform threads
    seed: int = 0

    def __post_init__(self):
        for name, value, allowed in (("integrator", self.integrator, INTEGRATORS), ("engine", self.engine, ENGINES),
                                     ("trajectory_format", self.trajectory_format, TRAJECTORY_FORMATS)):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        if self.steps < 0 or self.report_interval < 1 or self.dt_fs <= 0:
            raise ValueError("steps must be >= 0, report_interval >= 1 and dt_fs > 0")


@dataclass(frozen=True)
class MDResult:
    steps: int
    seconds: float  # wall time of the dynamics (not the set-up)
    ns_per_day: float
    files: dict[str, Path] = field(default_factory=dict)


def _model_force(model, structure: Structure, engine: str) -> openmm.Force:
    periodic = structure.box is not None
    if engine == "pytorch":
        from gaqmd.openmm.pytorch_force import pytorch_force_from_file

        return pytorch_force_from_file(model, structure.topology, periodic=periodic)
    from gaqmd.export.source import model_description
    from gaqmd.openmm.force import gaq_force

    return gaq_force(model_description(model), topology=structure.topology, periodic=periodic)


def build_system(model, structure: Structure, engine: str = "native") -> openmm.System:
    """System with the structure's masses and box, the model's force and a centre-of-mass motion remover."""
    system = openmm.System()
    for atom in structure.topology.atoms():
        system.addParticle(atom.element.mass)
    if structure.box is not None:
        system.setDefaultPeriodicBoxVectors(*(openmm.Vec3(*row) for row in structure.box))
    system.addForce(_model_force(model, structure, engine))
    system.addForce(openmm.CMMotionRemover())
    return system


def _integrator(options: MDOptions) -> openmm.Integrator:
    dt = options.dt_fs * unit.femtosecond
    if options.integrator == "verlet":
        return openmm.VerletIntegrator(dt)
    integrator = openmm.LangevinMiddleIntegrator(options.temperature_k * unit.kelvin,
                                                 options.friction_per_ps / unit.picosecond, dt)
    integrator.setRandomNumberSeed(options.seed)
    return integrator


def _platform(options: MDOptions) -> tuple[openmm.Platform, dict[str, str]]:
    platform = openmm.Platform.getPlatformByName(options.platform)
    properties = {}
    if options.platform == "CPU" and options.threads:
        properties["Threads"] = str(options.threads)
    return platform, properties


class EnergyLog:
    """CSV of step, time (ps), potential/kinetic/total energy (kJ/mol) and temperature (K)."""

    COLUMNS = ("step", "time_ps", "potential_kj_mol", "kinetic_kj_mol", "total_kj_mol", "temperature_k")

    def __init__(self, path: Path, degrees_of_freedom: int):
        self.file = open(path, "w", newline="")
        self.writer = csv.writer(self.file)
        self.writer.writerow(self.COLUMNS)
        self.degrees_of_freedom = degrees_of_freedom

    def record(self, step: int, state: openmm.State) -> float:
        """Append a row; returns the total energy. Raises FloatingPointError when it is not finite."""
        potential = state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
        kinetic = state.getKineticEnergy().value_in_unit(unit.kilojoule_per_mole)
        temperature = 2.0 * kinetic / (self.degrees_of_freedom * _BOLTZMANN_KJ_PER_MOL_K)
        time_ps = state.getTime().value_in_unit(unit.picosecond)
        self.writer.writerow([step, f"{time_ps:.6f}", f"{potential:.8f}", f"{kinetic:.8f}",
                              f"{potential + kinetic:.8f}", f"{temperature:.3f}"])
        self.file.flush()
        if not np.isfinite(potential + kinetic):
            raise FloatingPointError(f"the simulation blew up: non-finite energy at step {step} ({time_ps:.3f} ps)")
        return potential + kinetic

    def close(self):
        self.file.close()


def _trajectory_reporter(path: Path, options: MDOptions):
    if options.trajectory_format == "xtc":
        return app.XTCReporter(str(path), options.report_interval)
    return app.DCDReporter(str(path), options.report_interval)


def run_md(model, structure: Structure, output: Path, options: MDOptions = MDOptions(),
           progress: bool = True) -> MDResult:
    """Run the dynamics and write topology.pdb, trajectory.{dcd,xtc}, energies.csv and summary.json."""
    from tqdm import tqdm

    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    system = build_system(model, structure, options.engine)
    platform, properties = _platform(options)
    simulation = app.Simulation(structure.topology, system, _integrator(options), platform, properties)
    simulation.context.setPositions(structure.positions * unit.nanometer)
    if structure.box is not None:
        simulation.context.setPeriodicBoxVectors(*(openmm.Vec3(*row) for row in structure.box))
    simulation.context.setVelocitiesToTemperature(options.temperature_k * unit.kelvin, options.seed)
    files = {"topology": output / "topology.pdb", "energies": output / "energies.csv",
             "trajectory": output / f"trajectory.{options.trajectory_format}", "summary": output / "summary.json"}
    with open(files["topology"], "w") as handle:
        app.PDBFile.writeFile(structure.topology, structure.positions * unit.nanometer, handle)
    simulation.reporters.append(_trajectory_reporter(files["trajectory"], options))
    log = EnergyLog(files["energies"], 3 * system.getNumParticles() - 3)
    try:
        log.record(0, simulation.context.getState(getEnergy=True))
        start, done = time.perf_counter(), 0
        with tqdm(total=options.steps, unit="step", disable=not progress, desc="md") as bar:
            while done < options.steps:
                chunk = min(options.report_interval, options.steps - done)
                simulation.step(chunk)
                done += chunk
                total = log.record(done, simulation.context.getState(getEnergy=True))
                bar.update(chunk)
                bar.set_postfix(E_total=f"{total:.2f} kJ/mol")
        seconds = time.perf_counter() - start
    finally:
        log.close()
    ns_per_day = options.steps * options.dt_fs * 1e-6 / max(seconds, 1e-12) * 86400.0
    result = MDResult(options.steps, seconds, ns_per_day, files)
    summary = {"options": asdict(options), "seconds": seconds, "ns_per_day": ns_per_day,
               "atoms": system.getNumParticles(), "platform": options.platform}
    files["summary"].write_text(json.dumps(summary, indent=2) + "\n")
    return result
