"""Commands on the native engine: `gaqmd export`, `md`, `check`."""
from pathlib import Path


def add_export(subparsers) -> None:
    p = subparsers.add_parser(
        "export",
        help="write a model.gaq file for the native engine (GaqForce, ASE calculator)",
        description="Lower a gaqmd model or checkpoint (fp32, w4a32 or w4a8) to the model.gaq artifact: the XML "
        "serialization of a GaqForce holding the packed int4 weights, scales, codebook and every coefficient "
        "(docs/format.md).",
    )
    p.add_argument("model", type=Path, help="model file (.pt from `gaqmd train` or `gaqmd quantize`)")
    p.add_argument("-o", "--output", type=Path, required=True, help="output file, e.g. model.gaq")


def add_md(subparsers) -> None:
    from gaqmd.md.simulate import ENGINES, INTEGRATORS, TRAJECTORY_FORMATS, MDOptions

    defaults = MDOptions()
    p = subparsers.add_parser(
        "md",
        help="OpenMM molecular dynamics with a gaqmd model",
        description="Run MD in OpenMM from a PDB or XYZ structure (a box in the file makes it periodic). Writes "
        "topology.pdb, trajectory.dcd/.xtc (readable by mdtraj), energies.csv and summary.json (ns/day).",
    )
    p.add_argument("model", type=Path, help="model.gaq (from `gaqmd export`) or a gaqmd model file (.pt)")
    p.add_argument("structure", type=Path, help="PDB or XYZ file")
    p.add_argument("--steps", type=int, default=defaults.steps)
    p.add_argument("--dt", type=float, default=defaults.dt_fs, help="time step in fs")
    p.add_argument("--temperature", type=float, default=defaults.temperature_k, help="K (initial velocities; bath)")
    p.add_argument("--integrator", choices=INTEGRATORS, default=defaults.integrator, help="verlet: NVE")
    p.add_argument("--friction", type=float, default=defaults.friction_per_ps, help="Langevin friction, 1/ps")
    p.add_argument("--platform", default=defaults.platform, help="OpenMM platform: Reference, CPU (CUDA when built)")
    p.add_argument("--threads", type=int, default=None, help="CPU platform threads")
    p.add_argument("--report", type=int, default=defaults.report_interval, help="steps between frames/CSV rows")
    p.add_argument("--format", choices=TRAJECTORY_FORMATS, default=defaults.trajectory_format)
    p.add_argument("--engine", choices=ENGINES, default=defaults.engine,
                   help="native: the C++ GaqForce; pytorch: the model through openmm.PythonForce (reference)")
    p.add_argument("--seed", type=int, default=defaults.seed)
    p.add_argument("-o", "--output", type=Path, default=Path("md"), help="output directory")
    p.add_argument("--no-progress", action="store_true")


def add_check(subparsers) -> None:
    from gaqmd.checks.workflow import CheckOptions

    defaults = CheckOptions()
    p = subparsers.add_parser(
        "check",
        help="MD checks of a deployed model against its FP32 reference, with a report",
        description="Equilibrate the molecule with the model (native engine, OpenMM), then measure: ns/day against "
        "the FP32 PyTorch path, the mean temperature under a Langevin thermostat, NVE drift over a time-step scan, parity with the FP32 model along an NVE "
        "trajectory, bond/angle distributions against the FP32 model's trajectory, and the LEE. Writes "
        "report.md, PNGs and summary.json.",
    )
    p.add_argument("model", type=Path, help="model.gaq or gaqmd model file (run on the native engine)")
    p.add_argument("structure", type=Path, help="PDB or XYZ of a molecule (no periodic box)")
    p.add_argument("--reference", type=Path, required=True, help="FP32 gaqmd model file (.pt), run through PyTorch")
    p.add_argument("-o", "--output", type=Path, default=Path("check"), help="report directory")
    p.add_argument("--temperature", type=float, default=defaults.temperature_k, help="K")
    p.add_argument("--equilibration-steps", type=int, default=defaults.equilibration_steps, help="Langevin, 0.5 fs")
    p.add_argument("--thermostat-steps", type=int, default=defaults.thermostat_steps,
                   help="Langevin steps (0.5 fs, friction 1/ps) over which the mean temperature is measured")
    p.add_argument("--dt", type=float, nargs="+", default=list(defaults.dts_fs), help="NVE time steps to scan, fs")
    p.add_argument("--nve-ps", type=float, default=defaults.nve_ps, help="length of each NVE run, ps")
    p.add_argument("--sample-steps", type=int, default=defaults.sample_steps, help="NVE steps for parity/stability")
    p.add_argument("--platform", default=defaults.platform)


def run_export(args) -> int:
    from gaqmd.export.source import model_description
    from gaqmd.openmm.force import save_model

    attributes, arrays = model_description(args.model)
    save_model(args.output, attributes, arrays)
    size = args.output.stat().st_size
    print(f"wrote {args.output} ({attributes['mode']}, {size / 1024:.1f} KiB)")
    return 0


def run_md(args) -> int:
    from gaqmd.md import MDOptions, read_structure, run_md

    options = MDOptions(steps=args.steps, dt_fs=args.dt, temperature_k=args.temperature, integrator=args.integrator,
                        friction_per_ps=args.friction, platform=args.platform, report_interval=args.report,
                        trajectory_format=args.format, engine=args.engine, threads=args.threads, seed=args.seed)
    result = run_md(args.model, read_structure(args.structure), args.output, options, progress=not args.no_progress)
    print(f"{result.steps} steps in {result.seconds:.1f} s: {result.ns_per_day:.3f} ns/day")
    print(f"wrote {', '.join(path.name for path in result.files.values())} to {args.output}")
    return 0


def run_check(args) -> int:
    from gaqmd.checks.workflow import CheckOptions, run_checks
    from gaqmd.md import read_structure

    options = CheckOptions(temperature_k=args.temperature, equilibration_steps=args.equilibration_steps,
                           thermostat_steps=args.thermostat_steps, dts_fs=tuple(args.dt), nve_ps=args.nve_ps, sample_steps=args.sample_steps,
                           platform=args.platform)
    summary = run_checks(args.model, args.reference, read_structure(args.structure), args.output, options)
    print(f"speed: native {summary.engine_ns_per_day:.3f} ns/day, FP32 PyTorch {summary.reference_ns_per_day:.3f} "
          f"ns/day ({summary.speedup:.1f}x)")
    for dt, drift in summary.drift_meV_per_atom_ps.items():
        verdict = "no significant drift" if summary.conserved[dt] else "NOT conserved"
        print(f"NVE dt {dt} fs: drift {drift:+.4f} ± {summary.drift_stderr_meV_per_atom_ps[dt]:.4f} meV/atom/ps "
              f"({verdict} over {options.nve_ps:g} ps)")
    print(f"parity vs FP32: force MAE {summary.parity_force_mae_meV_A:.2f} meV/Å, energy MAE "
          f"{summary.parity_energy_mae_meV:.2f} meV; LEE {summary.lee_meV_A:.3g} meV/Å; "
          f"{'stable' if summary.stable else 'UNSTABLE'}")
    print(f"Langevin at {options.temperature_k:g} K: mean temperature {summary.thermostat_temperature_k:.1f} ± "
          f"{summary.thermostat_temperature_stderr_k:.1f} K")
    print(f"wrote {', '.join(summary.files)} to {args.output}")
    return 0


COMMANDS = {
    "export": (add_export, run_export),
    "md": (add_md, run_md),
    "check": (add_check, run_check),
}
