"""Langevin MD of aspirin through openmm-ml: ``MLPotential("gaq", model=...)`` and ``createSystem``.

    PYTHONPATH=python python examples/openmm_ml_route.py --steps 1000

openmm-ml (``pip install openmmml``) finds gaqmd's potential under the name "gaq" through the
``openmmml.potentials`` entry point that installing gaqmd declares; the script does not register
anything itself. ``MLPotential("gaq", model=PATH)`` takes a ``.gaq`` file from ``gaqmd export`` or a
gaqmd model file (``.pt``, lowered on the fly; default: the bundled W4A8 aspirin model), and
``createSystem(topology)`` returns a System holding one GaqForce (the native C++ engine) and a
CMMotionRemover. The script builds the Topology from the first frame of
tests/data/rmd17/aspirin_1000.xyz, runs LangevinMiddleIntegrator on the CPU platform through an
``app.Simulation`` (with a StateDataReporter every ``--report`` steps) and prints the energy and
ns/day. Needs OpenMM >= 8.6, openmm-ml and the compiled gaqmd._core.
"""

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT / "tests" / "data" / "rmd17" / "aspirin_1000.xyz"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=1000, help="MD steps to time (default 1000)")
    parser.add_argument("--model", type=Path, default=None,
                        help="model.gaq or gaqmd model file (default: bundled aspirin_w4a8.pt)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="extxyz file; its first frame is used")
    parser.add_argument("--timestep", type=float, default=0.5, help="fs (default 0.5)")
    parser.add_argument("--temperature", type=float, default=300.0, help="K (default 300)")
    parser.add_argument("--friction", type=float, default=1.0, help="1/ps (default 1)")
    parser.add_argument("--threads", type=int, default=1, help="OpenMM CPU platform threads (default 1)")
    parser.add_argument("--report", type=int, default=250, help="StateDataReporter interval in steps (default 250)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error("--steps must be >= 1")
    if args.report < 1:
        parser.error("--report must be >= 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)

    import openmm
    from openmm import app, unit
    from openmmml import MLPotential

    from gaqmd.md import read_structure
    from gaqmd.models import bundled_model

    model_path = args.model or bundled_model("aspirin_w4a8")
    structure = read_structure(args.data)  # Topology + positions (nm) of the file's first frame
    topology = structure.topology

    potential = MLPotential("gaq", model=str(model_path))
    system = potential.createSystem(topology)
    print(f"model {model_path.name}: forces {', '.join(force.getName() for force in system.getForces())}")

    integrator = openmm.LangevinMiddleIntegrator(
        args.temperature * unit.kelvin, args.friction / unit.picosecond, args.timestep * unit.femtoseconds
    )
    integrator.setRandomNumberSeed(args.seed)
    platform = openmm.Platform.getPlatformByName("CPU")
    simulation = app.Simulation(topology, system, integrator, platform, {"Threads": str(args.threads)})
    simulation.context.setPositions(structure.positions * unit.nanometer)
    simulation.context.setVelocitiesToTemperature(args.temperature * unit.kelvin, args.seed)
    initial = simulation.context.getState(getEnergy=True).getPotentialEnergy()
    print(f"{system.getNumParticles()} atoms, platform {platform.getName()}, {args.threads} thread(s)")
    print(f"initial potential energy {initial.value_in_unit(unit.kilojoule_per_mole):.6f} kJ/mol")
    simulation.reporters.append(app.StateDataReporter(sys.stdout, args.report, step=True, potentialEnergy=True,
                                                      temperature=True, speed=True))

    start = time.perf_counter()
    simulation.step(args.steps)
    elapsed = time.perf_counter() - start

    state = simulation.context.getState(getEnergy=True)
    energy = state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
    ns_per_day = args.steps * args.timestep * 1e-6 / elapsed * 86400
    print(f"{args.steps} steps of {args.timestep} fs in {elapsed:.3f} s ({1e3 * elapsed / args.steps:.2f} ms/step)")
    print(f"potential energy {energy:.6f} kJ/mol")
    print(f"{ns_per_day:.3f} ns/day")
    return 0


if __name__ == "__main__":
    sys.exit(main())
