"""NVE MD of aspirin in ASE on gaqmd's native engine: ``gaqmd.ase.GaqCalculator`` + VelocityVerlet.

    PYTHONPATH=python python examples/ase_route.py --steps 1000

Reads the first frame of tests/data/rmd17/aspirin_1000.xyz with ``ase.io.read``, attaches
``GaqCalculator(model)`` (a ``.gaq`` file from ``gaqmd export``, or a gaqmd model file lowered on
the fly; default: the bundled W4A8 aspirin model), draws Maxwell-Boltzmann velocities (no net
momentum or rotation), runs ``ase.md.verlet.VelocityVerlet`` with a 0.5 fs step and prints the
drift of the total energy per atom (last minus first, and the largest excursion) and the final
temperature. Units are ASE's: Å, eV, fs via ``ase.units``. Needs ase and the compiled gaqmd._core.

The quantized model's activation rounding makes its energy piecewise constant, with forces from the
straight-through derivative (docs/quantization.md), so its total energy wanders far more than a
smooth model's: over 1000 steps here the bundled W4A8 model drifted by about +2.8 meV/atom
(largest excursion 5.1) and the FP32 one (``--model python/gaqmd/models/aspirin_fp32.pt``) by
-0.09 (0.32); seed 1, one run each (64-channel models of 2026-12-06).
"""

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT / "tests" / "data" / "rmd17" / "aspirin_1000.xyz"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=1000, help="MD steps (default 1000)")
    parser.add_argument("--model", type=Path, default=None,
                        help="model.gaq or gaqmd model file (default: bundled aspirin_w4a8.pt)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="xyz/extxyz file; its first frame is used")
    parser.add_argument("--timestep", type=float, default=0.5, help="fs (default 0.5)")
    parser.add_argument("--temperature", type=float, default=300.0, help="K of the initial velocities (default 300)")
    parser.add_argument("--threads", type=int, default=1, help="engine worker threads (default 1)")
    parser.add_argument("--report", type=int, default=250, help="print energies every this many steps (default 250)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error("--steps must be >= 1")
    if args.report < 1:
        parser.error("--report must be >= 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)

    import ase.io
    import numpy as np
    from ase import units
    from ase.md.velocitydistribution import Stationary, ZeroRotation
    from ase.md.verlet import VelocityVerlet

    try:
        from ase.md.velocitydistribution import thermalize_momenta  # newer ASE deprecate MaxwellBoltzmannDistribution
    except ImportError:
        from ase.md.velocitydistribution import MaxwellBoltzmannDistribution as thermalize_momenta

    from gaqmd.ase import GaqCalculator
    from gaqmd.models import bundled_model

    model_path = args.model or bundled_model("aspirin_w4a8")
    atoms = ase.io.read(args.data, index=0)
    atoms.calc = GaqCalculator(model_path, threads=args.threads)
    thermalize_momenta(atoms, temperature_K=args.temperature, rng=np.random.default_rng(args.seed))
    Stationary(atoms)
    ZeroRotation(atoms)
    n_atoms = len(atoms)
    print(f"model {model_path.name}, {n_atoms} atoms ({atoms.get_chemical_formula()}), {args.threads} thread(s)")

    total_energies = []

    def record():
        epot, ekin = atoms.get_potential_energy(), atoms.get_kinetic_energy()
        total_energies.append(epot + ekin)
        step = len(total_energies) - 1
        if step % args.report == 0:
            print(f"step {step:6d}  Epot {epot:.6f} eV  Ekin {ekin:.6f} eV  Etot {epot + ekin:.6f} eV  "
                  f"T {atoms.get_temperature():.1f} K")

    dynamics = VelocityVerlet(atoms, timestep=args.timestep * units.fs)
    dynamics.attach(record, interval=1)  # also called once before the first step
    start = time.perf_counter()
    dynamics.run(args.steps)
    elapsed = time.perf_counter() - start

    total = np.asarray(total_energies)
    drift = (total[-1] - total[0]) / n_atoms
    excursion = np.max(np.abs(total - total[0])) / n_atoms
    ns_per_day = args.steps * args.timestep * 1e-6 / elapsed * 86400
    print(f"{args.steps} steps of {args.timestep} fs in {elapsed:.3f} s ({1e3 * elapsed / args.steps:.2f} ms/step), "
          f"{ns_per_day:.3f} ns/day")
    print(f"total energy drift {1e3 * drift:+.4f} meV/atom (largest excursion {1e3 * excursion:.4f} meV/atom) "
          f"over {args.steps * args.timestep / 1000:.4g} ps")
    print(f"final potential energy {atoms.get_potential_energy():.6f} eV, temperature {atoms.get_temperature():.1f} K")
    return 0


if __name__ == "__main__":
    sys.exit(main())
