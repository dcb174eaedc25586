"""How to store l=2 node features in W4A8: the three options measured on an l_max=2 ethanol model.

Options (gaqmd.quant.vector_baselines, `l2_mode`): "mddq-fp16" (uint8 magnitude x the unit
5-vector in float16), "int8-shared" (int8 per component, one learned scale per channel), "fp16"
(every component in float16), each as the features come (`l2_frame: global`) or in the per-atom
local frames the l=1 directions use (`l2_frame: local`); the whole-model naive per-component int8
(w4a8-naive) is the symmetry-breaking reference. The model: the `small` preset with l_max = 2, trained in FP32 on rMD17
ethanol (`gaqmd train examples/configs/ethanol.yaml --set model.l_max=2`), then int4 weights
fine-tuned (stage 1, examples/configs/qat_weights.yaml), both one thread each within the budgets
below. Each option attaches the W4A8 activation quantizers to that W4A32 model and calibrates their
scales on every training frame ("max" rule, as `gaqmd quantize` does); with --qat the named
variants are also fine-tuned (stage 2, examples/configs/qat.yaml, --qat-minutes each) and evaluated. Errors and the LEE
(DESIGN §4) on the held-out frames; writes docs/results/l2_options.{md,json}.

    python benchmarks/l2_options.py                    # ~45 min on one core (training included)
    python benchmarks/l2_options.py --qat int8-shared:local fp16:global   # plus stage-2 QAT of these
    python benchmarks/l2_options.py --reuse            # report from docs/results/l2_options.json
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from rmd17_fp32 import machine  # noqa: E402

DOCS = ROOT / "docs" / "results"
DATA = ROOT / "tests" / "data" / "rmd17" / "train_1000.xyz"
FP32_MINUTES, W4A32_MINUTES = 25, 15
OPTIONS = ("mddq-fp16", "int8-shared", "fp16")
FRAMES = ("global", "local")
LEE_BAR = 0.15  # meV/Å, issue 3
ACCURACY_MARGIN = 0.01  # force MAE differences below this fraction do not outweigh bytes


def run_dir(stage: str) -> Path:
    return ROOT / "runs" / f"ethanol_l2_{stage}"


def gaqmd(arguments: list[str], log: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with open(log, "w") as output:
        if subprocess.run([sys.executable, "-m", "gaqmd", *arguments, "--threads", "1"], cwd=ROOT, env=env,
                          stdout=output, stderr=subprocess.STDOUT).returncode:
            raise SystemExit(f"gaqmd {arguments[0]} failed; see {log}")


def train_models(qat: list[str], qat_minutes: float) -> None:
    """FP32 l_max=2 model, its W4A32 stage, and a stage-2 QAT run per variant OPTION:FRAME in qat;
    each is skipped when its best.pt exists."""
    if not (run_dir("fp32") / "best.pt").is_file():
        gaqmd(["train", "examples/configs/ethanol.yaml", "--set", "model.l_max=2", "--set",
               f"output={run_dir('fp32').relative_to(ROOT)}", "--set", f"train.max_minutes={FP32_MINUTES}"],
              ROOT / "runs" / "ethanol_l2_fp32.log")
    if not (run_dir("w4a32") / "best.pt").is_file():
        gaqmd(["quantize", "examples/configs/qat_weights.yaml", "--from", str(run_dir("fp32") / "best.pt"),
               "--set", f"output={run_dir('w4a32').relative_to(ROOT)}", "--set",
               f"train.max_minutes={W4A32_MINUTES}"], ROOT / "runs" / "ethanol_l2_w4a32.log")
    for variant in qat:
        option, frame = variant.split(":")
        output = run_dir(f"w4a8_{option}_{frame}")
        if not (output / "best.pt").is_file():
            gaqmd(["quantize", "examples/configs/qat.yaml", "--from", str(run_dir("w4a32") / "best.pt"),
                   "--set", f"quant.l2_mode={option}", "--set", f"quant.l2_frame={frame}",
                   "--set", f"output={output.relative_to(ROOT)}", "--set", f"train.max_minutes={qat_minutes}"],
                  ROOT / "runs" / f"{output.name}.log")


def row_of(evaluation, variant: str, l2_bits: float, engine_lee: float) -> dict:
    m, q = evaluation.metrics, evaluation.symmetry
    row = {"variant": variant, "l2_bits_per_channel": l2_bits, "force_mae": m.force_mae, "energy_mae": m.energy_mae,
           "lee": q.lee, "engine_lee": engine_lee, "energy_invariance": q.energy_invariance,
           "activation_bytes_per_atom": evaluation.activation_bytes_per_atom, "frames": m.n_frames}
    print(f"{variant:32s} F {m.force_mae:7.2f} meV/Å  E {m.energy_mae:7.2f} meV  LEE {q.lee:.2e} meV/Å  "
          f"engine {engine_lee:.2e} meV/Å  {evaluation.activation_bytes_per_atom:.0f} B/atom", flush=True)
    return row


def deployed_lee(model, frames) -> float:
    """LEE (meV/Å, 4 rotations) of the model exported to the native engine, as OpenMM runs it."""
    from gaqmd.checks import local_equivariance_error
    from gaqmd.native import NativeModel

    return local_equivariance_error(NativeModel(model), frames, 4).lee


def l2_bits(config) -> float:
    """Bits one l=2 channel takes in this configuration."""
    from e3nn import o3

    from gaqmd.quant.footprint import feature_bytes

    return 8 * feature_bytes(o3.Irreps("1x2e"), config)


def measure(lee_frames: int, qat: list[str]) -> list[dict]:
    import torch

    from gaqmd.data.splits import Split
    from gaqmd.model.io import load_model
    from gaqmd.quant import QuantConfig, add_activation_quantizers
    from gaqmd.train.evaluation import evaluate_loaded, evaluate_model_file, read_labelled_frames

    rows = []
    path = run_dir("w4a32") / "best.pt"
    metadata = load_model(path)[1]
    frames = read_labelled_frames(metadata, path, DATA, "all")
    split = Split.from_dict(metadata["split"])
    train, test = [frames[i] for i in split.train], [frames[i] for i in split.test]
    for stage in ("fp32", "w4a32"):
        stage_path = run_dir(stage) / "best.pt"
        rows.append(row_of(evaluate_model_file(stage_path, DATA, "test", lee_frames=lee_frames), stage.upper(),
                           l2_bits(QuantConfig(mode=stage)), deployed_lee(stage_path, test[:lee_frames])))
    variants = {f"PTQ w4a8, {option}, {frame} frame": QuantConfig(mode="w4a8", scale_init="max", l2_mode=option,
                                                                   l2_frame=frame)
                for frame in FRAMES for option in OPTIONS}
    variants["PTQ w4a8-naive"] = QuantConfig(mode="w4a8-naive", scale_init="max")
    for variant, config in variants.items():
        model = add_activation_quantizers(load_model(path, dtype=torch.float64)[0], config, train)
        rows.append(row_of(evaluate_loaded(model, config, test, variant, lee_frames=lee_frames), variant,
                           l2_bits(config), deployed_lee(model, test[:lee_frames])))
    for variant in qat:
        option, frame = variant.split(":")
        config = QuantConfig(mode="w4a8", l2_mode=option, l2_frame=frame)
        qat_path = run_dir(f"w4a8_{option}_{frame}") / "best.pt"
        evaluation = evaluate_model_file(qat_path, DATA, "test", lee_frames=lee_frames)
        rows.append(row_of(evaluation, f"QAT w4a8, {option}, {frame} frame", l2_bits(config),
                           deployed_lee(qat_path, test[:lee_frames])))
    return rows


def verdict(rows: list[dict]) -> str:
    """The option to use (QAT rows when present): among those meeting the LEE bar, the fewest bits per
    l=2 channel within ACCURACY_MARGIN of the lowest force MAE."""
    prefix = "QAT" if any(row["variant"].startswith("QAT") for row in rows) else "PTQ w4a8,"
    symmetric = [row for row in rows
                 if row["variant"].startswith(prefix) and max(row["lee"], row["engine_lee"]) <= LEE_BAR]
    if not symmetric:
        return f"no option meets LEE ≤ {LEE_BAR} meV/Å"
    best_mae = min(row["force_mae"] for row in symmetric)
    close = [row for row in symmetric if row["force_mae"] <= (1 + ACCURACY_MARGIN) * best_mae]
    choice = min(close, key=lambda row: (row["l2_bits_per_channel"], row["force_mae"]))
    name = lambda row: row["variant"].split(", ", 1)[1]  # noqa: E731
    others = "; ".join(f"{name(row)} {row['force_mae']:.2f} meV/Å at {row['l2_bits_per_channel']:.0f} bits"
                       for row in symmetric if row is not choice)
    return (f"{name(choice)}, {choice['force_mae']:.2f} meV/Å at {choice['l2_bits_per_channel']:.0f} bits per l=2 "
            f"channel: the fewest bits among the variants with LEE ≤ {LEE_BAR} meV/Å (PyTorch and engine) and a "
            "force MAE within "
            f"{100 * ACCURACY_MARGIN:g}% of the best of them (the others: {others or 'none'})")


def markdown(saved: dict) -> str:
    rows = saved["rows"]
    lines = ["# Storing l=2 features in W4A8 (rMD17 ethanol, l_max = 2 model)", "",
             f"Machine: {saved['machine']}. Command: `{saved['command']}`. Model: `small` preset with l_max = 2 "
             f"(FP32 {FP32_MINUTES} min, then int4 weights {W4A32_MINUTES} min of QAT, one core each). PTQ rows: "
             "the W4A32 model with W4A8 activation quantizers calibrated on every training frame ('max'); QAT rows: "
             "stage-2 fine-tuning of that variant. Local frame: the l=2 block quantized in the per-atom frames of "
             "the l=1 directions. Errors on the held-out frames; LEE on the first "
             f"{saved['lee_frames']} of them (4 rotations), of the PyTorch model and of the same model exported to the "
             "native engine (as OpenMM runs it).", "",
             "| variant | bits per l=2 channel | activation bytes/atom | force MAE (meV/Å) | energy MAE (meV) "
             "| LEE (meV/Å) | engine LEE (meV/Å) | energy invariance (meV) |",
             "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['variant']} | {row['l2_bits_per_channel']:.0f} | {row['activation_bytes_per_atom']:.0f} "
                     f"| {row['force_mae']:.2f} | {row['energy_mae']:.2f} | {row['lee']:.2e} | {row['engine_lee']:.2e} "
                     f"| {row['energy_invariance']:.2e} |")
    lines += ["", f"Choice: {verdict(rows)}."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--qat", nargs="*", default=[], metavar="OPTION:FRAME",
                        help=f"also fine-tune these variants (stage 2), e.g. int8-shared:local; options {OPTIONS}, "
                        f"frames {FRAMES}")
    parser.add_argument("--qat-minutes", type=float, default=10.0, help="wall-time budget of each --qat run")
    parser.add_argument("--lee-frames", type=int, default=20)
    parser.add_argument("--output", type=Path, default=DOCS)
    parser.add_argument("--reuse", action="store_true", help="rewrite the report from OUTPUT/l2_options.json")
    args = parser.parse_args(argv)
    saved_path = args.output / "l2_options.json"
    if args.reuse:
        saved = json.loads(saved_path.read_text())
    else:
        import torch

        torch.set_num_threads(1)
        (ROOT / "runs").mkdir(exist_ok=True)
        for variant in args.qat:
            option, _, frame = variant.partition(":")
            if option not in OPTIONS or frame not in FRAMES:
                parser.error(f"--qat {variant}: expected OPTION:FRAME with OPTION in {OPTIONS}, FRAME in {FRAMES}")
        train_models(args.qat, args.qat_minutes)
        command = "python benchmarks/l2_options.py"
        command += f" --qat {' '.join(args.qat)} --qat-minutes {args.qat_minutes:g}" if args.qat else ""
        saved = {"machine": machine(), "command": command, "lee_frames": args.lee_frames,
                 "rows": measure(args.lee_frames, args.qat)}
        args.output.mkdir(parents=True, exist_ok=True)
        saved_path.write_text(json.dumps(saved, indent=2) + "\n")
    text = markdown(saved)
    (args.output / "l2_options.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
