"""Langevin MD of aspirin in OpenMM on gaqmd's native engine (GaqForce), and an XmlSerializer round trip.

    PYTHONPATH=python python examples/openmm_gaq_force.py --steps 1000

An ordinary OpenMM script: builds a Topology/System from the first frame of
tests/data/rmd17/aspirin_1000.xyz, adds ``gaqmd.openmm.gaq_force(model, topology=...)`` for the
bundled W4A8 (GAQ) aspirin model, runs LangevinMiddleIntegrator on the CPU platform and prints the
energy, temperature and ns/day. ``--model`` takes a gaqmd model file (``.pt``, lowered to the
engine's description on the fly, as the bundled one is) or a ``.gaq`` file from
``gaqmd export model.pt -o model.gaq`` (read directly; no torch needed).

The GaqForce is a plain ``openmm.Force``, so the System serializes with ``openmm.XmlSerializer``
like any other: the script writes the System to an XML string, reads it back and checks that the
copy gives the identical energy at the final positions (exit status 1 if not; ``--system-xml PATH``
also saves the XML).
Needs OpenMM >= 8.6 and the compiled gaqmd._core.
"""

import argparse
import math
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
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--system-xml", type=Path, default=None, help="also write the serialized System here")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error("--steps must be >= 1")
    return args


def potential_energy(system, positions, platform_name="CPU", threads=1) -> float:
    """Potential energy (kJ/mol) of `system` at `positions` (nm) in a fresh Context."""
    import openmm
    from openmm import unit

    platform = openmm.Platform.getPlatformByName(platform_name)
    properties = {"Threads": str(threads)} if platform_name == "CPU" else {}
    context = openmm.Context(system, openmm.VerletIntegrator(0.001), platform, properties)
    context.setPositions(positions)
    return context.getState(getEnergy=True).getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)


def main(argv=None) -> int:
    args = parse_args(argv)

    import openmm
    from openmm import unit

    from gaqmd.md import read_structure
    from gaqmd.models import bundled_model
    from gaqmd.openmm import gaq_force

    model_path = args.model or bundled_model("aspirin_w4a8")
    structure = read_structure(args.data)  # Topology + positions (nm) of the file's first frame
    topology = structure.topology

    system = openmm.System()
    for atom in topology.atoms():
        system.addParticle(atom.element.mass)
    start = time.perf_counter()
    force = gaq_force(model_path, topology=topology)  # a .pt file is lowered here (takes a few seconds)
    print(f"model {model_path.name}: {force.getName()} built in {time.perf_counter() - start:.2f} s")
    system.addForce(force)

    integrator = openmm.LangevinMiddleIntegrator(
        args.temperature * unit.kelvin, args.friction / unit.picosecond, args.timestep * unit.femtoseconds
    )
    integrator.setRandomNumberSeed(args.seed)
    platform = openmm.Platform.getPlatformByName("CPU")
    context = openmm.Context(system, integrator, platform, {"Threads": str(args.threads)})
    context.setPositions(structure.positions * unit.nanometer)
    initial = context.getState(getEnergy=True).getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
    print(f"{system.getNumParticles()} atoms, platform {platform.getName()}, {args.threads} thread(s)")
    print(f"initial potential energy {initial:.6f} kJ/mol")
    context.setVelocitiesToTemperature(args.temperature * unit.kelvin, args.seed)

    start = time.perf_counter()
    integrator.step(args.steps)
    elapsed = time.perf_counter() - start

    state = context.getState(getEnergy=True, getPositions=True)
    energy = state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
    kinetic = state.getKineticEnergy().value_in_unit(unit.kilojoule_per_mole)
    dof = 3 * system.getNumParticles()  # no constraints, no CMMotionRemover
    gas_constant = unit.MOLAR_GAS_CONSTANT_R.value_in_unit(unit.kilojoule_per_mole / unit.kelvin)
    temperature = 2 * kinetic / (dof * gas_constant)
    ns_per_day = args.steps * args.timestep * 1e-6 / elapsed * 86400
    print(f"{args.steps} steps of {args.timestep} fs in {elapsed:.3f} s ({1e3 * elapsed / args.steps:.2f} ms/step)")
    print(f"potential energy {energy:.6f} kJ/mol, temperature {temperature:.1f} K")
    print(f"{ns_per_day:.3f} ns/day")

    # XmlSerializer: the System (GaqForce included) to a string and back.
    xml = openmm.XmlSerializer.serialize(system)
    if args.system_xml is not None:
        args.system_xml.write_text(xml, encoding="utf-8")
    copy = openmm.XmlSerializer.deserialize(xml)
    positions = state.getPositions(asNumpy=True)
    before = potential_energy(system, positions, threads=args.threads)
    after = potential_energy(copy, positions, threads=args.threads)
    identical = before == after and math.isfinite(before)
    print(f"XmlSerializer round trip ({len(xml) / 1024:.0f} KiB of XML): energy {before:.9f} kJ/mol before, "
          f"{after:.9f} after: {'identical' if identical else 'DIFFERENT'}")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
