"""Stage 2 of GAQ on aspirin: how the activation ranges are calibrated, and whether fine-tuning helps.

From the W4A32 model of benchmarks/gaq_rmd17.py (runs/aspirin_w4a32/best.pt), W4A8 (GAQ) variants:
calibration only, on the first 40 training frames (the earlier recipe's start) with the "lsq" or
"max" rule, or on every training frame with "max" (`gaqmd quantize examples/configs/qat.yaml`,
epochs: 0); then that calibration fine-tuned for --epochs epochs at each learning rate in --lrs
(ranges frozen, energy shift refitted each epoch). Errors on the held-out frames, float64.
Writes docs/results/stage2_recipes.{md,json}.

    python benchmarks/stage2_recipes.py      # ~20 min on one core
    python benchmarks/stage2_recipes.py --previous runs/old_aspirin_w4a8_qat45/best.pt
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from rmd17_fp32 import machine, write_report  # noqa: E402

DOCS = ROOT / "docs" / "results"
PARENT = ROOT / "runs" / "aspirin_w4a32" / "best.pt"
DATA = ROOT / "tests" / "data" / "rmd17" / "aspirin_1000.xyz"
FEW_FRAMES = 40


def calibrated_only(n_frames: int, rule: str) -> dict:
    """PTQ of the parent: W4A8 quantizers calibrated on its first n_frames training frames."""
    import torch

    from gaqmd.data import GraphDataset, Split
    from gaqmd.model.io import load_model
    from gaqmd.quant import QuantConfig, add_activation_quantizers
    from gaqmd.train.evaluation import read_labelled_frames
    from gaqmd.train.metrics import evaluate

    model, metadata = load_model(PARENT, dtype=torch.float64)
    frames = read_labelled_frames(metadata, PARENT, DATA, "all")
    split = Split.from_dict(metadata["split"])
    model = add_activation_quantizers(model, QuantConfig(mode="w4a8", weight_scale="mse", scale_init=rule),
                                      [frames[i] for i in split.train[:n_frames]], batch_size=5)
    test = GraphDataset([frames[i] for i in split.test], model.config.species, model.config.cutoff)
    metrics = evaluate(model, test, dtype=torch.float64)
    return {"force_mae": metrics.force_mae, "energy_mae": metrics.energy_mae}


def quantize_run(name: str, settings: list[str]) -> dict:
    """`gaqmd quantize examples/configs/qat.yaml` from the parent with --set settings; its test metrics."""
    output = ROOT / "runs" / "stage2_recipes" / name
    command = [sys.executable, "-m", "gaqmd", "quantize", "examples/configs/qat.yaml", "--from", str(PARENT),
               "--threads", "1", "--set", f"output={output}", *[f"--set={s}" for s in settings]]
    output.parent.mkdir(parents=True, exist_ok=True)
    with open(output.parent / f"{name}.log", "w") as log:
        subprocess.run(command, cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=log,
                       stderr=subprocess.STDOUT, check=True)
    test = json.loads((output / "metrics.json").read_text())["test"]
    return {"force_mae": test["force_mae"], "energy_mae": test["energy_mae"]}


def markdown(saved: dict) -> str:
    lines = ["# Stage 2 of GAQ on aspirin: calibration and fine-tuning", "",
             f"Machine: {saved['machine']}. Command: `python benchmarks/stage2_recipes.py --epochs {saved['epochs']}`. "
             "Every row starts from the same W4A32 model (int4 weights after stage-1 QAT, "
             f"{saved['parent_force_mae']:.2f} meV/Å, {saved['parent_energy_mae']:.2f} meV) and quantizes the "
             "activations as GAQ W4A8; errors on the 100 held-out frames.", "",
             "| stage 2 | force MAE (meV/Å) | energy MAE (meV) |", "|---|---|---|"]
    lines += [f"| {row['variant']} | {row['force_mae']:.2f} | {row['energy_mae']:.2f} |" for row in saved["rows"]]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=4, help="fine-tuning epochs per learning rate")
    parser.add_argument("--lrs", type=float, nargs="+", default=[1e-6, 3e-5, 1e-4])
    parser.add_argument("--previous", type=Path, help="also evaluate this W4A8 model file")
    parser.add_argument("--previous-label", default="earlier recipe: 40 frames 'lsq', then 45 min of QAT at lr 3e-4")
    parser.add_argument("--output", type=Path, default=DOCS)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    if not PARENT.is_file():
        parser.error(f"missing {PARENT} (run benchmarks/gaq_rmd17.py first)")
    parent = json.loads((PARENT.parent / "metrics.json").read_text())["test"]
    rows = []
    for rule in ("lsq", "max"):
        rows.append({"variant": f"calibrated on {FEW_FRAMES} training frames, '{rule}' rule",
                     **calibrated_only(FEW_FRAMES, rule)})
    rows.append({"variant": "calibrated on every training frame, 'max' rule (qat.yaml, epochs: 0)",
                 **quantize_run("calibrated", ["train.epochs=0"])})
    for lr in args.lrs:
        rows.append({"variant": f"then fine-tuned {args.epochs} epochs at lr {lr:g} (ranges frozen)",
                     **quantize_run(f"lr{lr:g}", [f"train.epochs={args.epochs}", f"train.lr={lr}",
                                                  "quant.vector_warmup_epochs=0"])})
    if args.previous:
        from gaqmd.train.evaluation import evaluate_model_file

        metrics = evaluate_model_file(args.previous, DATA, "test", lee_frames=1).metrics
        rows.append({"variant": args.previous_label, "force_mae": metrics.force_mae, "energy_mae": metrics.energy_mae})
    for row in rows:
        print(f"{row['variant']:80s} F {row['force_mae']:7.2f} E {row['energy_mae']:7.2f}", flush=True)
    saved = {"machine": machine(), "epochs": args.epochs, "parent_force_mae": parent["force_mae"],
             "parent_energy_mae": parent["energy_mae"], "rows": rows}
    write_report(args.output, "stage2_recipes", saved, markdown(saved))
    return 0


if __name__ == "__main__":
    sys.exit(main())
