"""Stage 1 of GAQ (int4 weights, w4a32) on aspirin: int4 scales recomputed every step vs learned.

Two `gaqmd quantize examples/configs/qat_weights.yaml` runs from runs/aspirin_fp32/best.pt, side
by side (one thread each), identical but for quant.learn_weight_scales, for --epochs epochs (the
cosine schedule spans them). Recomputed scales follow each channel's largest latent weight (the
'mse' clip rule), so one weight crossing it re-scales and can flip every code of its channel;
learned (LSQ) scales start at the same values and move by gradient. Reports test errors, how much
validation force MAE jumps between epochs in the run's second half, and the validation curves.
Writes docs/results/stage1_scales.{md,json,png}.

    python benchmarks/stage1_scales.py               # ~10 min on 2 cores
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
PARENT = ROOT / "runs" / "aspirin_fp32" / "best.pt"
VARIANTS = {"recomputed every step": "false", "learned (LSQ)": "true"}


def start_run(name: str, learned: str, epochs: int) -> subprocess.Popen:
    output = ROOT / "runs" / "stage1_scales" / name
    output.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "gaqmd", "quantize", "examples/configs/qat_weights.yaml", "--from", str(PARENT),
               "--threads", "1", "--set", f"output={output}", "--set", f"quant.learn_weight_scales={learned}",
               "--set", f"train.epochs={epochs}"]
    log = open(output.parent / f"{name}.log", "w")
    return subprocess.Popen(command, cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=log,
                            stderr=subprocess.STDOUT)


def read_run(name: str) -> dict:
    output = ROOT / "runs" / "stage1_scales" / name
    lines = (output / "history.csv").read_text().splitlines()
    header = lines[0].split(",")
    history = [dict(zip(header, map(float, line.split(",")))) for line in lines[1:]]
    val_forces = [row["val_force_mae"] for row in history]
    second_half = val_forces[len(val_forces) // 2 :]
    jumps = [abs(b - a) for a, b in zip(second_half, second_half[1:])]
    test = json.loads((output / "metrics.json").read_text())["test"]
    return {"force_mae": test["force_mae"], "energy_mae": test["energy_mae"], "val_force_mae": val_forces,
            "mean_jump": sum(jumps) / len(jumps), "largest_jump": max(jumps)}


def plot(rows: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4))
    for label, row in rows.items():
        axis.plot(range(1, len(row["val_force_mae"]) + 1), row["val_force_mae"], label=f"int4 scales {label}")
    axis.set_xlabel("epoch")
    axis.set_ylabel("validation force MAE (meV/Å)")
    axis.set_title("aspirin, stage 1 (w4a32) QAT")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def markdown(saved: dict) -> str:
    lines = ["# Stage 1 of GAQ on aspirin: recomputed vs learned int4 scales", "",
             f"Machine: {saved['machine']}. Command: `python benchmarks/stage1_scales.py --epochs {saved['epochs']}` "
             "(both runs at once, one thread each). From the FP32 model "
             f"({saved['fp32_force_mae']:.2f} meV/Å), `examples/configs/qat_weights.yaml` for {saved['epochs']} epochs; "
             "errors on the 100 held-out frames; jumps = |change of validation force MAE| between consecutive epochs of "
             "the second half of the run.", "",
             "| int4 scales | test force MAE (meV/Å) | test energy MAE (meV) | mean jump (meV/Å) | largest jump (meV/Å) |",
             "|---|---|---|---|---|"]
    for label, row in saved["rows"].items():
        lines.append(f"| {label} | {row['force_mae']:.2f} | {row['energy_mae']:.2f} | {row['mean_jump']:.2f} | "
                     f"{row['largest_jump']:.2f} |")
    return "\n".join(lines + ["", "![validation curves](stage1_scales.png)", ""])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--reuse", action="store_true", help="report on the runs already in runs/stage1_scales")
    parser.add_argument("--output", type=Path, default=DOCS)
    args = parser.parse_args(argv)
    if not PARENT.is_file():
        parser.error(f"missing {PARENT} (run benchmarks/rmd17_fp32.py first)")
    names = {label: "learned" if learned == "true" else "recomputed" for label, learned in VARIANTS.items()}
    if not args.reuse:
        processes = [start_run(names[label], learned, args.epochs) for label, learned in VARIANTS.items()]
        if any(process.wait() != 0 for process in processes):
            raise SystemExit("a stage-1 run failed; see runs/stage1_scales/*.log")
    rows = {label: read_run(name) for label, name in names.items()}
    fp32 = json.loads((ROOT / "docs" / "results" / "rmd17_fp32.json").read_text())["aspirin"]["test"]
    saved = {"machine": machine(), "epochs": args.epochs, "fp32_force_mae": fp32["force_mae"], "rows": rows}
    args.output.mkdir(parents=True, exist_ok=True)
    plot(rows, args.output / "stage1_scales.png")
    write_report(args.output, "stage1_scales", saved, markdown(saved))
    return 0


if __name__ == "__main__":
    sys.exit(main())
