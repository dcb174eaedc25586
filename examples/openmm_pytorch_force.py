"""Langevin MD of aspirin in OpenMM with a gaqmd model as a PythonForce (the PyTorch reference path).

    PYTHONPATH=python python examples/openmm_pytorch_force.py --steps 100

Loads the bundled FP32 aspirin model, builds an OpenMM Topology/System from the first frame of
tests/data/rmd17/aspirin_1000.xyz, runs Langevin dynamics on the CPU platform and prints ns/day.
Needs OpenMM >= 8.6 (openmm.PythonForce).
"""

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT / "tests" / "data" / "rmd17" / "aspirin_1000.xyz"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=100, help="MD steps to time (default 100)")
    parser.add_argument("--model", type=Path, default=None, help="gaqmd model file (default: bundled aspirin_fp32)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="extxyz file; its first frame is used")
    parser.add_argument("--energy-unit", default="meV", help="energy unit of --data (default meV)")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32", help="model precision")
    parser.add_argument("--timestep", type=float, default=0.5, help="fs (default 0.5)")
    parser.add_argument("--temperature", type=float, default=300.0, help="K (default 300)")
    parser.add_argument("--friction", type=float, default=1.0, help="1/ps (default 1)")
    parser.add_argument("--threads", type=int, default=1, help="torch and OpenMM CPU threads (default 1)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error("--steps must be >= 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)

    import openmm
    import torch
    from openmm import app, unit

    from gaqmd.data import Units, read_frames
    from gaqmd.models import bundled_model
    from gaqmd.openmm import pytorch_force_from_file, units

    torch.set_num_threads(args.threads)
    model_path = args.model or bundled_model("aspirin_fp32")
    frame = read_frames(args.data, Units(energy=args.energy_unit), energy_key=None, forces_key=None, index="0")[0]

    topology = app.Topology()
    residue = topology.addResidue("MOL", topology.addChain())
    for index, z in enumerate(frame.numbers):
        element = app.Element.getByAtomicNumber(int(z))
        topology.addAtom(f"{element.symbol}{index}", element, residue)
    system = openmm.System()
    for atom in topology.atoms():
        system.addParticle(atom.element.mass)
    system.addForce(pytorch_force_from_file(model_path, topology, dtype=args.dtype))

    integrator = openmm.LangevinMiddleIntegrator(
        args.temperature * unit.kelvin, args.friction / unit.picosecond, args.timestep * unit.femtosecond
    )
    integrator.setRandomNumberSeed(args.seed)
    platform = openmm.Platform.getPlatformByName("CPU")
    context = openmm.Context(system, integrator, platform, {"Threads": str(args.threads)})
    context.setPositions(units.angstrom_to_nm(frame.positions))
    context.setVelocitiesToTemperature(args.temperature * unit.kelvin, args.seed)

    integrator.step(2)  # warm-up: first calls of torch and the neighbour list
    start = time.perf_counter()
    integrator.step(args.steps)
    elapsed = time.perf_counter() - start

    state = context.getState(getEnergy=True)
    kinetic = state.getKineticEnergy().value_in_unit(unit.kilojoule_per_mole)
    dof = 3 * system.getNumParticles()  # no constraints, no CMMotionRemover
    temperature = 2 * kinetic / (dof * unit.MOLAR_GAS_CONSTANT_R.value_in_unit(unit.kilojoule_per_mole / unit.kelvin))
    ns_per_day = args.steps * args.timestep * 1e-6 / elapsed * 86400
    print(f"model {model_path.name} ({args.dtype}), {system.getNumParticles()} atoms, "
          f"platform {platform.getName()}, {args.threads} thread(s)")
    print(f"{args.steps} steps of {args.timestep} fs in {elapsed:.3f} s ({1e3 * elapsed / args.steps:.2f} ms/step)")
    print(f"potential energy {state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole):.3f} kJ/mol, "
          f"temperature {temperature:.1f} K")
    print(f"{ns_per_day:.3f} ns/day")
    return 0


if __name__ == "__main__":
    sys.exit(main())
