"""ML/MM: aspirin on gaqmd's native engine in a periodic box of TIP3P water (openmm-ml, mechanical embedding).

    PYTHONPATH=python python examples/mixed_aspirin_water.py --steps 1000 --output last.pdb

1. Solvate: aspirin (first frame of tests/data/rmd17/aspirin_1000.xyz) at the centre of a cubic box
   (``--box``, default 24 Å: at least 2 x the model's 5 Å cutoff and 2 x the 9 Å MM cutoff, plus
   margin); waters in random orientations on the cubic lattice nearest to 1 g/cm^3 (8^3 sites in
   24 Å: 1.11 g/cm^3 before the cavity is cut), dropping every water with an atom within
   ``--clearance`` (2.4 Å) of an aspirin atom; the minimization and dynamics then relax them.
2. The MM System, built by hand:
   - flexible TIP3P water: charges O -0.834, H +0.417; Lennard-Jones O sigma 0.315061 nm,
     epsilon 0.636386 kJ/mol, H none; HarmonicBondForce (0.9572 Å, 462750.4 kJ/mol/nm^2) and
     HarmonicAngleForce (104.52 deg, 836.8 kJ/mol/rad^2), OpenMM's tip3p.xml values for
     ``rigidWater=False``. Flexible rather than rigid because aspirin's hydrogens need a 0.5 fs
     step anyway, and so every degree of freedom is integrated the same way;
   - aspirin's particles with per-element GAFF-like Lennard-Jones parameters and zero charges, so
     the aspirin-water coupling is Lennard-Jones only in this example (a real study would take
     GAFF or OpenFF charges, e.g. from openmmforcefields). Every aspirin pair is an exception with
     nothing in it: aspirin's internal interactions come from the ML model alone;
   - NonbondedForce, PME (or ``--nonbonded cutoff``: CutoffPeriodic) with a 0.9 nm cutoff, the
     pairs within each water excluded; a CMMotionRemover.
3. ``MLPotential("gaq", model=...).createMixedSystem(topology, mm_system, aspirin_atoms)``: openmm-ml
   removes the MM terms inside the ML region (none here) and adds a GaqForce for aspirin (force
   group 1 here, the MM forces stay in group 0). For a periodic system openmm-ml asks the potential
   whether it is long-range; gaqmd's answers False (it sees only neighbours within its cutoff).
   ``interpolate=True`` builds the system whose global parameter ``lambda_interpolate`` goes from
   the MM System (0; here aspirin then has no internal interactions at all) to the ML/MM one (1);
   the script prints its energy at 0, 0.5 and 1.
4. A short minimization (``--minimize`` iterations), Langevin dynamics (LangevinMiddleIntegrator,
   0.5 fs) for ``--steps`` on the CPU platform, energies and ns/day, and a PDB of the last frame
   with ``--output``.

``--model``: the bundled W4A8 aspirin model by default, or a ``.gaq`` file from ``gaqmd export``.
openmm-ml finds the "gaq" potential through gaqmd's ``openmmml.potentials`` entry point.
Needs OpenMM >= 8.6, openmm-ml and the compiled gaqmd._core.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT / "tests" / "data" / "rmd17" / "aspirin_1000.xyz"

# TIP3P (flexible: OpenMM's tip3p.xml with rigidWater=False)
WATER_CHARGES = (-0.834, 0.417, 0.417)  # O, H1, H2 (e)
WATER_OXYGEN_LJ = (0.315061, 0.636386)  # sigma nm, epsilon kJ/mol; the hydrogens have none
WATER_OH = 0.9572  # Å
WATER_HOH = np.deg2rad(104.52)  # rad
WATER_BOND_K = 462750.4  # kJ/mol/nm^2
WATER_ANGLE_K = 836.8  # kJ/mol/rad^2
WATER_MASS = 18.01528  # g/mol
# Aspirin's Lennard-Jones parameters by element (GAFF ca / o / ha): sigma nm, epsilon kJ/mol
ASPIRIN_LJ = {1: (0.259964, 0.0627600), 6: (0.339967, 0.359824), 8: (0.295992, 0.878640)}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=1000, help="MD steps (default 1000)")
    parser.add_argument("--model", type=Path, default=None,
                        help="model.gaq or gaqmd model file (default: bundled aspirin_w4a8.pt)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="extxyz file; its first frame is used")
    parser.add_argument("--box", type=float, default=24.0, help="cubic box edge in Å (default 24)")
    parser.add_argument("--clearance", type=float, default=2.4,
                        help="drop waters with an atom closer than this to aspirin, Å (default 2.4)")
    parser.add_argument("--nonbonded", choices=["pme", "cutoff"], default="pme",
                        help="NonbondedForce method: PME or CutoffPeriodic (default pme)")
    parser.add_argument("--cutoff", type=float, default=0.9, help="MM nonbonded cutoff in nm (default 0.9)")
    parser.add_argument("--minimize", type=int, default=200, help="minimizer iterations (default 200; 0: none)")
    parser.add_argument("--timestep", type=float, default=0.5, help="fs (default 0.5)")
    parser.add_argument("--temperature", type=float, default=300.0, help="K (default 300)")
    parser.add_argument("--friction", type=float, default=1.0, help="1/ps (default 1)")
    parser.add_argument("--threads", type=int, default=1, help="OpenMM CPU platform threads (default 1)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--output", type=Path, default=None, help="write the last frame as a PDB file here")
    args = parser.parse_args(argv)
    if args.steps < 0 or args.minimize < 0:
        parser.error("--steps and --minimize must be >= 0")
    if args.box < 20 * args.cutoff:
        parser.error(f"--box {args.box} Å is less than twice the MM cutoff ({20 * args.cutoff:g} Å)")
    return args


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """A uniformly random proper rotation matrix."""
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q * np.linalg.det(q)


def solvate(numbers, positions, edge: float = 24.0, clearance: float = 2.4, seed: int = 1):
    """Aspirin at the centre of a cubic water box.

    numbers (n,), positions (n, 3) Å of the solute; edge, clearance in Å.
    Returns (topology with box and water bonds, positions (N, 3) Å, solute atom indices 0..n-1).
    """
    from openmm import app, unit

    rng = np.random.default_rng(seed)
    solute = np.asarray(positions, dtype=np.float64)
    solute = solute - solute.mean(axis=0) + edge / 2
    # lattice spacing for ~1 g/cm^3: one water per 18.015 g/mol / (1 g/cm^3 * N_A) = 29.9 Å^3
    per_side = max(1, round(edge / (WATER_MASS / 0.602214076) ** (1 / 3)))
    spacing = edge / per_side
    water = np.array([[0.0, 0.0, 0.0], [WATER_OH, 0.0, 0.0],
                      [WATER_OH * np.cos(WATER_HOH), WATER_OH * np.sin(WATER_HOH), 0.0]])
    waters = []
    for site in np.ndindex(per_side, per_side, per_side):
        molecule = (np.array(site) + 0.5) * spacing + water @ random_rotation(rng).T
        delta = molecule[:, None, :] - solute[None, :, :]
        delta -= edge * np.round(delta / edge)  # minimum image
        if np.min(np.linalg.norm(delta, axis=-1)) >= clearance:
            waters.append(molecule)

    topology = app.Topology()
    residue = topology.addResidue("AIN", topology.addChain())  # AIN: aspirin's PDB ligand code
    for index, z in enumerate(numbers):
        element = app.Element.getByAtomicNumber(int(z))
        topology.addAtom(f"{element.symbol}{index + 1}", element, residue)
    chain = topology.addChain()
    for _ in waters:
        residue = topology.addResidue("HOH", chain)
        oxygen = topology.addAtom("O", app.element.oxygen, residue)
        for name in ("H1", "H2"):
            topology.addBond(oxygen, topology.addAtom(name, app.element.hydrogen, residue))
    topology.setPeriodicBoxVectors(np.eye(3) * edge / 10 * unit.nanometer)
    return topology, np.concatenate([solute, *waters]), list(range(len(numbers)))


def build_mm_system(topology, solute_atoms, nonbonded: str = "pme", cutoff_nm: float = 0.9):
    """The MM System of the module docstring (flexible TIP3P; LJ-only, charge-free solute)."""
    import openmm

    system = openmm.System()
    system.setDefaultPeriodicBoxVectors(*topology.getPeriodicBoxVectors())
    nonbonded_force = openmm.NonbondedForce()
    nonbonded_force.setNonbondedMethod(openmm.NonbondedForce.PME if nonbonded == "pme"
                                       else openmm.NonbondedForce.CutoffPeriodic)
    nonbonded_force.setCutoffDistance(cutoff_nm)
    bonds, angles = openmm.HarmonicBondForce(), openmm.HarmonicAngleForce()
    solute = set(solute_atoms)
    for atom in topology.atoms():
        system.addParticle(atom.element.mass)
        if atom.index in solute:
            sigma, epsilon = ASPIRIN_LJ[atom.element.atomic_number]
            nonbonded_force.addParticle(0.0, sigma, epsilon)
        elif atom.element.atomic_number == 8:
            nonbonded_force.addParticle(WATER_CHARGES[0], *WATER_OXYGEN_LJ)
        else:
            nonbonded_force.addParticle(WATER_CHARGES[1], 0.0, 0.0)
    for residue in topology.residues():
        if residue.name != "HOH":
            continue
        oxygen, h1, h2 = (atom.index for atom in residue.atoms())
        bonds.addBond(oxygen, h1, WATER_OH / 10, WATER_BOND_K)
        bonds.addBond(oxygen, h2, WATER_OH / 10, WATER_BOND_K)
        angles.addAngle(h1, oxygen, h2, WATER_HOH, WATER_ANGLE_K)
        for i, j in ((oxygen, h1), (oxygen, h2), (h1, h2)):
            nonbonded_force.addException(i, j, 0.0, 1.0, 0.0)
    ordered = sorted(solute)
    for a, i in enumerate(ordered):  # no MM interaction inside the solute: the ML model has it all
        for j in ordered[:a]:
            nonbonded_force.addException(i, j, 0.0, 1.0, 0.0)
    for force in (bonds, angles, nonbonded_force, openmm.CMMotionRemover()):
        system.addForce(force)
    return system


def energies(context, groups=None) -> dict[str, float]:
    """{'total', 'ML', 'MM'} potential energies in kJ/mol (ML: force group 1, MM: group 0)."""
    from openmm import unit

    def energy(selection):
        state = context.getState(getEnergy=True, groups=selection)
        return state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)

    return {"total": energy(-1), "ML": energy({1}), "MM": energy({0})}


def main(argv=None) -> int:
    args = parse_args(argv)

    import openmm
    from openmm import app, unit
    from openmmml import MLPotential

    from gaqmd.data import read_frames
    from gaqmd.models import bundled_model

    model_path = args.model or bundled_model("aspirin_w4a8")
    frame = read_frames(args.data, energy_key=None, forces_key=None, index="0")[0]
    topology, positions, aspirin_atoms = solvate(frame.numbers, frame.positions, args.box, args.clearance, args.seed)
    n_waters = topology.getNumResidues() - 1
    density = n_waters * WATER_MASS / 0.602214076 / args.box ** 3  # g/cm^3, ignoring aspirin's volume
    print(f"aspirin ({len(aspirin_atoms)} atoms) + {n_waters} TIP3P waters in a {args.box:g} Å box "
          f"({topology.getNumAtoms()} atoms; water {density:.2f} g/cm^3 of the whole box)")

    mm_system = build_mm_system(topology, aspirin_atoms, args.nonbonded, args.cutoff)
    potential = MLPotential("gaq", model=str(model_path))
    system = potential.createMixedSystem(topology, mm_system, aspirin_atoms, forceGroup=1)
    print(f"mixed system ({model_path.name}): " + ", ".join(f"{f.getName()} (group {f.getForceGroup()})"
                                                          for f in system.getForces()))

    platform = openmm.Platform.getPlatformByName("CPU")
    properties = {"Threads": str(args.threads)}
    positions_nm = positions * 0.1 * unit.nanometer  # Å -> nm

    # The same ML/MM system with lambda_interpolate: 0 = the MM System, 1 = ML/MM.
    interpolated = potential.createMixedSystem(topology, mm_system, aspirin_atoms, interpolate=True)
    probe = openmm.Context(interpolated, openmm.VerletIntegrator(0.001), platform, properties)
    probe.setPositions(positions_nm)
    for value in (0.0, 0.5, 1.0):
        probe.setParameter("lambda_interpolate", value)
        energy = probe.getState(getEnergy=True).getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
        print(f"interpolate=True, lambda_interpolate {value:.1f}: potential energy {energy:.3f} kJ/mol")
    del probe

    integrator = openmm.LangevinMiddleIntegrator(
        args.temperature * unit.kelvin, args.friction / unit.picosecond, args.timestep * unit.femtoseconds
    )
    integrator.setRandomNumberSeed(args.seed)
    context = openmm.Context(system, integrator, platform, properties)
    context.setPositions(positions_nm)
    initial = energies(context)
    print(f"initial: total {initial['total']:.3f} kJ/mol = ML (aspirin) {initial['ML']:.3f} + "
          f"MM {initial['MM']:.3f}")
    if args.minimize:
        start = time.perf_counter()
        openmm.LocalEnergyMinimizer.minimize(context, 10.0, args.minimize)
        minimized = energies(context)
        print(f"minimized ({args.minimize} iterations at most, {time.perf_counter() - start:.2f} s): total "
              f"{minimized['total']:.3f} kJ/mol = ML {minimized['ML']:.3f} + MM {minimized['MM']:.3f}")

    context.setVelocitiesToTemperature(args.temperature * unit.kelvin, args.seed)
    start = time.perf_counter()
    integrator.step(args.steps)
    elapsed = time.perf_counter() - start

    final = energies(context)
    state = context.getState(getEnergy=True, getPositions=True)
    kinetic = state.getKineticEnergy().value_in_unit(unit.kilojoule_per_mole)
    dof = 3 * system.getNumParticles() - system.getNumConstraints() - 3  # CMMotionRemover: -3
    gas_constant = unit.MOLAR_GAS_CONSTANT_R.value_in_unit(unit.kilojoule_per_mole / unit.kelvin)
    print(f"{args.steps} steps of {args.timestep} fs on {platform.getName()} ({args.threads} thread(s)) "
          f"in {elapsed:.3f} s ({1e3 * elapsed / max(args.steps, 1):.2f} ms/step)")
    print(f"final: total {final['total']:.3f} kJ/mol = ML {final['ML']:.3f} + MM {final['MM']:.3f}, "
          f"temperature {2 * kinetic / (dof * gas_constant):.1f} K")
    if args.steps:
        print(f"{args.steps * args.timestep * 1e-6 / elapsed * 86400:.3f} ns/day")
    if args.output is not None:
        with open(args.output, "w", encoding="utf-8") as handle:
            app.PDBFile.writeFile(topology, state.getPositions(), handle)
        print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
