"""Commands on models: `gaqmd train`, `quantize`, `evaluate`, `analyze`."""
from pathlib import Path


def add_train(subparsers) -> None:
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


def add_quantize(subparsers) -> None:
    p = subparsers.add_parser(
        "quantize",
        help="quantization-aware fine-tuning (GAQ) of an FP32 model",
        description="Fine-tune an FP32 model with fake quantization (modes fp32, w4a32, w4a8, w4a8-naive), "
        "or add activation quantization (w4a8, w4a8-naive) to a w4a32 model: the staged schedule "
        "(examples/configs/qat_weights.yaml, then qat.yaml). "
        "The YAML has sections quant (see gaqmd.quant.QuantConfig), train, output and optionally data "
        "(default: the FP32 model's own data and split). Writes the same files as `gaqmd train`.",
    )
    p.add_argument("config", type=Path, help="YAML with sections quant, train, output [, data]")
    p.add_argument("--from", dest="parent", type=Path, required=True, help="FP32 model file (best.pt of `gaqmd train`), or a w4a32 model for a staged run")
    p.add_argument("--set", dest="assignments", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config entry, e.g. --set quant.mode=w4a8-naive --set train.epochs=5 (repeatable)")
    p.add_argument("--resume", action="store_true", help="continue from <output>/checkpoint.pt")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")


def add_labelled_data(p) -> None:
    """The options naming a labelled data file, its units, and which of its frames to use."""
    p.add_argument("--data", type=Path, required=True, help="extxyz, ASE .db or MD17 .npz file with energies and forces")
    p.add_argument("--energy-unit", default=None, help="eV, meV, kcal/mol, kJ/mol, Hartree (default: the model's training units for its training file, else eV)")
    p.add_argument("--length-unit", default=None, help="A, bohr, nm (default as for --energy-unit)")
    p.add_argument("--forces-are-gradients", action="store_true", help="the file stores dE/dx instead of forces")
    p.add_argument("--split", choices=("test", "val", "all"), default="all",
                   help="'test': only the frames the model was never trained or validated on; 'val': its validation "
                        "frames (both need its training file)")


def add_evaluate(subparsers) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="energy and force errors of models on labelled frames",
        description="Evaluate one or more models on a labelled data file and print one table row per model. "
        "Errors: energy per frame in meV, force components in meV/Å.",
    )
    p.add_argument("models", nargs="+", type=Path, help="model files (.pt from `gaqmd train`)")
    add_labelled_data(p)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lee-frames", type=int, default=10, help="frames used for the LEE (4 random rotations each; 0 skips it)")


def add_analyze(subparsers) -> None:
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
    add_labelled_data(q)
    q.add_argument("--frames", type=int, default=100, metavar="N",
                   help="analyze at most N frames of the split, evenly spread over it (default 100)")
    q.add_argument("--projection", choices=("auto", "phate", "pca"), default="auto",
                   help="2-D projection of the embeddings; auto: PHATE when the phate package imports, else PCA")
    q.add_argument("--batch-size", type=int, default=16)
    q.add_argument("--output", type=Path, default=Path("irreps_analysis"), metavar="DIR",
                   help="directory for the JSON, markdown and PNG files (default: ./irreps_analysis)")


def run_train(args) -> int:
    import torch

    from gaqmd.train import load_run_config, train

    if args.threads:
        torch.set_num_threads(args.threads)
    config = load_run_config(args.config, preset=args.preset, assignments=args.assignments)
    metrics = train(config, resume=args.resume)
    print(f"test ({metrics.n_frames} frames): energy MAE {metrics.energy_mae:.2f} meV, force MAE {metrics.force_mae:.2f} meV/Å")
    print(f"outputs in {config.output}")
    return 0


def run_quantize(args) -> int:
    import torch

    from gaqmd.quant.finetune import quantize

    if args.threads:
        torch.set_num_threads(args.threads)
    metrics = quantize(args.parent, args.config, args.assignments, resume=args.resume)
    print(f"test ({metrics.n_frames} frames): energy MAE {metrics.energy_mae:.2f} meV, force MAE {metrics.force_mae:.2f} meV/Å")
    return 0


def run_evaluate(args) -> int:
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


def run_analyze(args) -> int:
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


COMMANDS = {
    "train": (add_train, run_train),
    "quantize": (add_quantize, run_quantize),
    "evaluate": (add_evaluate, run_evaluate),
    "analyze": (add_analyze, run_analyze),
}
