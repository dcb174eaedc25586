"""Command-line interface: `gaqmd train`, `quantize`, `evaluate`, `analyze`, `vmc`, `export`, `md`, `check`. Thin: parsing and printing."""

import argparse
import os
import sys
from pathlib import Path
from typing import Optional, Sequence


def _add_train(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="train an FP32 equivariant potential from a YAML config",
        description="Train an FP32 equivariant potential. Writes checkpoint.pt, best.pt, config.yaml, history.csv, "
        "learning_curve.png, parity_*.png and metrics.json into the config's output directory.",
    )
    p.add_argument("config", type=Path, help="YAML run config with sections data, model, train and keys preset, output")
    p.add_argument("--preset", help="model preset (small, medium); overrides the file")
    p.add_argument("--set", dest="assignments", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config entry, e.g. --set train.lr=0.01 --set model.channels=64 (repeatable)")
    p.add_argument("--resume", action="store_true", help="continue from <output>/checkpoint.pt")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: OMP_NUM_THREADS or all cores)")


def _add_evaluate(subparsers) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="energy and force errors of models on labelled frames",
        description="Evaluate one or more models on a labelled data file and print one table row per model. "
        "Errors: energy per frame in meV, force components in meV/Å.",
    )
    p.add_argument("models", nargs="+", type=Path, help="model files (.pt from `gaqmd train`)")
    p.add_argument("--data", type=Path, required=True, help="extxyz, ASE .db or MD17 .npz file with energies and forces")
    p.add_argument("--energy-unit", default=None, help="eV, meV, kcal/mol, kJ/mol, Hartree (default: the model's training units for its training file, else eV)")
    p.add_argument("--length-unit", default=None, help="A, bohr, nm (default as for --energy-unit)")
    p.add_argument("--forces-are-gradients", action="store_true", help="the file stores dE/dx instead of forces")
    p.add_argument("--split", choices=("test", "all"), default="all",
                   help="'test': only the frames the model was never trained or validated on (needs its training file)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lee-frames", type=int, default=10, help="frames used for the LEE (4 random rotations each)")


def _add_quantize(subparsers) -> None:
    p = subparsers.add_parser(
        "quantize",
        help="quantization-aware fine-tuning (GAQ) of an FP32 model",
        description="Fine-tune an FP32 model with fake quantization (modes fp32, w4a32, w4a8, w4a8-naive). "
        "The YAML has sections quant (see gaqmd.quant.QuantConfig), train, output and optionally data "
        "(default: the FP32 model's own data and split). Writes the same files as `gaqmd train`.",
    )
    p.add_argument("config", type=Path, help="YAML with sections quant, train, output [, data]")
    p.add_argument("--from", dest="parent", type=Path, required=True, help="FP32 model file (best.pt of `gaqmd train`)")
    p.add_argument("--set", dest="assignments", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config entry, e.g. --set quant.mode=w4a8-naive --set train.epochs=5 (repeatable)")
    p.add_argument("--resume", action="store_true", help="continue from <output>/checkpoint.pt")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")


def _add_export(subparsers) -> None:
    p = subparsers.add_parser(
        "export",
        help="write a model.gaq file for the native engine (GaqForce, ASE calculator)",
        description="Lower a gaqmd model or checkpoint (fp32, w4a32 or w4a8) to the model.gaq artifact: the XML "
        "serialization of a GaqForce holding the packed int4 weights, scales, codebook and every coefficient "
        "(docs/format.md).",
    )
    p.add_argument("model", type=Path, help="model file (.pt from `gaqmd train` or `gaqmd quantize`)")
    p.add_argument("-o", "--output", type=Path, required=True, help="output file, e.g. model.gaq")


def _add_md(subparsers) -> None:
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


def _add_check(subparsers) -> None:
    from gaqmd.checks.workflow import CheckOptions

    defaults = CheckOptions()
    p = subparsers.add_parser(
        "check",
        help="MD checks of a deployed model against its FP32 reference, with a report",
        description="Equilibrate the molecule with the model (native engine, OpenMM), then measure: ns/day against "
        "the FP32 PyTorch path, NVE drift over a time-step scan, parity with the FP32 model along an NVE "
        "trajectory, bond/angle distributions against the FP32 model's trajectory, and the LEE. Writes "
        "report.md, PNGs and summary.json.",
    )
    p.add_argument("model", type=Path, help="model.gaq or gaqmd model file (run on the native engine)")
    p.add_argument("structure", type=Path, help="PDB or XYZ of a molecule (no periodic box)")
    p.add_argument("--reference", type=Path, required=True, help="FP32 gaqmd model file (.pt), run through PyTorch")
    p.add_argument("-o", "--output", type=Path, default=Path("check"), help="report directory")
    p.add_argument("--temperature", type=float, default=defaults.temperature_k, help="K")
    p.add_argument("--equilibration-steps", type=int, default=defaults.equilibration_steps, help="Langevin, 0.5 fs")
    p.add_argument("--dt", type=float, nargs="+", default=list(defaults.dts_fs), help="NVE time steps to scan, fs")
    p.add_argument("--nve-ps", type=float, default=defaults.nve_ps, help="length of each NVE run, ps")
    p.add_argument("--sample-steps", type=int, default=defaults.sample_steps, help="NVE steps for parity/stability")
    p.add_argument("--platform", default=defaults.platform)


def _add_analyze(subparsers) -> None:
    p = subparsers.add_parser(
        "analyze",
        help="analyses of a trained model (irreps: what each degree l carries)",
        description="Analyses of a trained FP32 or QAT model file.",
    )
    analyses = p.add_subparsers(dest="analysis", required=True, metavar="ANALYSIS")
    q = analyses.add_parser(
        "irreps",
        help="per-l feature norms, ablations and embedding maps (after arXiv 2410.08131)",
        description="How much each irrep degree l carries in a trained model: for the output node features of "
        "every interaction layer, the share of each l in the squared norm; the change of energy MAE (meV) and "
        "force MAE (meV/Å) when degree l is zeroed at inference in every layer, and when all l > 0 are zeroed "
        "in one layer at a time; and 2-D maps (PHATE if installed, else PCA) of rotation-invariant per-l atom "
        "embeddings coloured by element. Prints a table and writes irreps_analysis.json, irreps_analysis.md, "
        "irreps_norm_share.png, irreps_ablation.png and irreps_embeddings.png into --output.",
    )
    q.add_argument("model", type=Path, help="model file (.pt from `gaqmd train` or `gaqmd quantize`)")
    q.add_argument("--data", type=Path, required=True, help="extxyz, ASE .db or MD17 .npz file with energies and forces")
    q.add_argument("--split", choices=("test", "all"), default="all",
                   help="'test': only the frames the model was never trained or validated on (needs its training file)")
    q.add_argument("--energy-unit", default=None, help="eV, meV, kcal/mol, kJ/mol, Hartree (default: the model's training units for its training file, else eV)")
    q.add_argument("--length-unit", default=None, help="A, bohr, nm (default as for --energy-unit)")
    q.add_argument("--forces-are-gradients", action="store_true", help="the file stores dE/dx instead of forces")
    q.add_argument("--frames", type=int, default=100, metavar="N",
                   help="analyze at most N frames of the split, evenly spread over it (default 100)")
    q.add_argument("--projection", choices=("auto", "phate", "pca"), default="auto",
                   help="2-D projection of the embeddings; auto: PHATE when the phate package imports, else PCA")
    q.add_argument("--batch-size", type=int, default=16)
    q.add_argument("--output", type=Path, default=Path("irreps_analysis"), metavar="DIR",
                   help="directory for the JSON, markdown and PNG files (default: ./irreps_analysis)")


def _add_vmc(subparsers) -> None:
    p = subparsers.add_parser(
        "vmc",
        help="variational Monte Carlo energy of an atom or molecule (FermiNet-style ansatz)",
        description="Optimise a FermiNet-style neural wavefunction by VMC (Metropolis sampling, Forward "
        "Laplacian local energies, Adam) and evaluate its energy with a blocked error bar. Prints the energy "
        "in Hartree and writes vmc_summary.json, energy_trace.png and vmc_geometry.xyz (positions in Å, "
        "energy in eV) into --output. Example: gaqmd vmc --system LiH --pretrain 500 --optimizer minsr --time-limit 1500",
    )
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--system", metavar="NAME", help="H2, LiH or an element symbol (an atom at the origin), e.g. He, Li")
    where.add_argument("--xyz", type=Path, metavar="FILE",
                       help="molecule from a plain XYZ file (positions in --length-unit)")
    p.add_argument("--bond", type=float, default=None, help="H2 or LiH bond length in bohr (default 1.4, 3.015)")
    p.add_argument("--length-unit", choices=("A", "bohr"), default="A", help="unit of the --xyz positions (default A)")
    p.add_argument("--charge", type=int, default=0, help="total charge in e (default 0)")
    p.add_argument("--spin", type=int, default=None,
                   help="2S = n_up - n_down (default: ground state for atoms H-Ar, else n_electrons mod 2)")
    p.add_argument("--steps", type=int, default=1000, help="optimisation steps (default 1000)")
    p.add_argument("--walkers", type=int, default=256, help="MCMC walkers (default 256)")
    p.add_argument("--eval-steps", type=int, default=200, help="evaluation samples of all walkers (default 200)")
    p.add_argument("--optimizer", choices=("adam", "minsr"), default="adam",
                   help="adam, or minsr: stochastic reconfiguration in its minimum-step form (default adam)")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default 1e-2 for adam, 5e-2 for minsr)")
    p.add_argument("--time-limit", type=float, default=None, metavar="SECONDS",
                   help="stop the optimisation after this many seconds of the run (default: no limit)")
    p.add_argument("--pretrain", type=int, default=0, metavar="STEPS",
                   help="Hartree-Fock pretraining steps of the orbitals with PySCF (default 0: none)")
    p.add_argument("--pretrain-basis", default="cc-pvdz", help="PySCF basis of the pretraining UHF (default cc-pvdz)")
    p.add_argument("--determinants", type=int, default=4, help="determinants K (default 4)")
    p.add_argument("--hidden", type=int, default=32, help="one-electron features per layer (default 32)")
    p.add_argument("--layers", type=int, default=2, help="interaction layers (default 2)")
    p.add_argument("--no-jastrow", action="store_true", help="leave out the electron-electron Jastrow factor")
    p.add_argument("--method", choices=("forward", "hessian"), default="forward",
                   help="Laplacian: forward (Forward Laplacian, default) or hessian (autograd reference)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--output", type=Path, default=Path("vmc_run"), metavar="DIR",
                   help="directory for the JSON, PNG and XYZ files (default: ./vmc_run)")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gaqmd", description="Quantized equivariant ML potentials for OpenMM.")
    subparsers = p.add_subparsers(dest="command", required=True)
    _add_train(subparsers)
    _add_quantize(subparsers)
    _add_evaluate(subparsers)
    _add_analyze(subparsers)
    _add_vmc(subparsers)
    _add_export(subparsers)
    _add_md(subparsers)
    _add_check(subparsers)
    return p


def _run_train(args) -> int:
    import torch

    from gaqmd.train import load_run_config, train

    if args.threads:
        torch.set_num_threads(args.threads)
    config = load_run_config(args.config, preset=args.preset, assignments=args.assignments)
    metrics = train(config, resume=args.resume)
    print(f"test ({metrics.n_frames} frames): energy MAE {metrics.energy_mae:.2f} meV, force MAE {metrics.force_mae:.2f} meV/Å")
    print(f"outputs in {config.output}")
    return 0


def _run_quantize(args) -> int:
    import torch

    from gaqmd.quant.finetune import quantize

    if args.threads:
        torch.set_num_threads(args.threads)
    metrics = quantize(args.parent, args.config, args.assignments, resume=args.resume)
    print(f"test ({metrics.n_frames} frames): energy MAE {metrics.energy_mae:.2f} meV, force MAE {metrics.force_mae:.2f} meV/Å")
    return 0


def _run_evaluate(args) -> int:
    from gaqmd.train.evaluation import evaluate_model_file, format_table

    rows = [
        evaluate_model_file(
            path,
            args.data,
            split=args.split,
            energy_unit=args.energy_unit,
            length_unit=args.length_unit,
            forces_are_gradients=args.forces_are_gradients,
            batch_size=args.batch_size,
            lee_frames=args.lee_frames,
        )
        for path in args.models
    ]
    print(format_table(rows))
    return 0


def _run_analyze(args) -> int:
    from gaqmd.analysis import analyze_model_file, format_table, write_report

    analysis = analyze_model_file(
        args.model,
        args.data,
        split=args.split,
        energy_unit=args.energy_unit,
        length_unit=args.length_unit,
        forces_are_gradients=args.forces_are_gradients,
        frames=args.frames,
        projection=args.projection,
        batch_size=args.batch_size,
    )
    print(format_table(analysis))
    paths = write_report(analysis, args.output)
    print(f"wrote {', '.join(path.name for path in paths)} to {args.output}")
    return 0


def _run_export(args) -> int:
    from gaqmd.export.source import model_description
    from gaqmd.openmm.force import save_model

    attributes, arrays = model_description(args.model)
    save_model(args.output, attributes, arrays)
    size = args.output.stat().st_size
    print(f"wrote {args.output} ({attributes['mode']}, {size / 1024:.1f} KiB)")
    return 0


def _run_md(args) -> int:
    from gaqmd.md import MDOptions, read_structure, run_md

    options = MDOptions(steps=args.steps, dt_fs=args.dt, temperature_k=args.temperature, integrator=args.integrator,
                        friction_per_ps=args.friction, platform=args.platform, report_interval=args.report,
                        trajectory_format=args.format, engine=args.engine, threads=args.threads, seed=args.seed)
    result = run_md(args.model, read_structure(args.structure), args.output, options, progress=not args.no_progress)
    print(f"{result.steps} steps in {result.seconds:.1f} s: {result.ns_per_day:.3f} ns/day")
    print(f"wrote {', '.join(path.name for path in result.files.values())} to {args.output}")
    return 0


def _run_check(args) -> int:
    from gaqmd.checks.workflow import CheckOptions, run_checks
    from gaqmd.md import read_structure

    options = CheckOptions(temperature_k=args.temperature, equilibration_steps=args.equilibration_steps,
                           dts_fs=tuple(args.dt), nve_ps=args.nve_ps, sample_steps=args.sample_steps,
                           platform=args.platform)
    summary = run_checks(args.model, args.reference, read_structure(args.structure), args.output, options)
    print(f"speed: native {summary.engine_ns_per_day:.3f} ns/day, FP32 PyTorch {summary.reference_ns_per_day:.3f} "
          f"ns/day ({summary.speedup:.1f}x)")
    for dt, drift in summary.drift_meV_per_atom_ps.items():
        verdict = "conserved" if summary.conserved[dt] else "NOT conserved"
        print(f"NVE dt {dt} fs: drift {drift:+.4f} meV/atom/ps ({verdict})")
    print(f"parity vs FP32: force MAE {summary.parity_force_mae_meV_A:.2f} meV/Å, energy MAE "
          f"{summary.parity_energy_mae_meV:.2f} meV; LEE {summary.lee_meV_A:.3g} meV/Å; "
          f"{'stable' if summary.stable else 'UNSTABLE'}")
    print(f"wrote {', '.join(summary.files)} to {args.output}")
    return 0


def _run_vmc(args) -> int:
    import torch

    from gaqmd.vmc.ansatz import AnsatzConfig
    from gaqmd.vmc.report import write_outputs
    from gaqmd.vmc.systems import named_system, read_xyz
    from gaqmd.vmc.train import TrainConfig, run_vmc

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.xyz is not None:
        if args.bond is not None:
            raise ValueError("--bond applies to --system H2 and LiH only")
        system = read_xyz(args.xyz, args.length_unit, args.charge, args.spin)
    else:
        system = named_system(args.system, args.bond, args.charge, args.spin)
    ansatz = AnsatzConfig(hidden_one=args.hidden, layers=args.layers, determinants=args.determinants,
                          jastrow=not args.no_jastrow)
    learning_rate = args.lr if args.lr is not None else (5e-2 if args.optimizer == "minsr" else 1e-2)
    train = TrainConfig(steps=args.steps, walkers=args.walkers, learning_rate=learning_rate, eval_steps=args.eval_steps,
                        method=args.method, seed=args.seed, optimizer=args.optimizer, time_limit=args.time_limit,
                        pretrain_steps=args.pretrain, pretrain_basis=args.pretrain_basis)
    if args.pretrain:
        from gaqmd.vmc.pretrain import require_pyscf

        try:
            require_pyscf()
        except ImportError as error:
            raise ValueError(str(error)) from None  # exit code 2 with the install hint
    print(f"{system.name}: {system.n_up} up, {system.n_down} down electrons, charge {system.charge}")
    result = run_vmc(system, ansatz, train, progress=not args.no_progress)
    print(f"E = {result.energy:.6f} ± {result.stderr:.6f} Ha (variance {result.variance:.4f} Ha², "
          f"{result.seconds:.0f} s)")
    settings = {"ansatz": vars(ansatz), "train": vars(train)}
    paths = write_outputs(args.output, system, result, settings)
    print(f"wrote {', '.join(path.name for path in paths)} to {args.output}")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parser().parse_args(argv)
    runners = {
        "train": _run_train, "quantize": _run_quantize, "evaluate": _run_evaluate, "analyze": _run_analyze,
        "vmc": _run_vmc, "export": _run_export, "md": _run_md, "check": _run_check,
    }
    try:
        return runners[args.command](args)
    except (ValueError, FileNotFoundError, FloatingPointError) as error:
        if os.environ.get("GAQMD_DEBUG"):
            raise
        print(f"gaqmd {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
