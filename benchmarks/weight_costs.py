"""Where int4 weights lose accuracy: each FP32 rMD17 model with one weight matrix rounded to int4.

For aspirin and ethanol, the FP32 model (runs/<molecule>_fp32/best.pt, benchmarks/rmd17_fp32.py)
gets int4 weights (per-output-channel scales by the `mse` rule, as stage 1 of QAT starts) in one
module at a time, without any training, and is evaluated on the held-out frames; the last row
rounds every module at once. The force MAE a module's rounding adds is how sensitive the trained
model is to int4 there, which is what stage-1 QAT has to repair. Writes
docs/results/weight_costs.{md,json}.

    python benchmarks/weight_costs.py          # ~4 min on one core
"""

import argparse
import copy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from rmd17_fp32 import machine, write_report  # noqa: E402

DOCS = ROOT / "docs" / "results"
DATA = {"aspirin": "tests/data/rmd17/aspirin_1000.xyz", "ethanol": "tests/data/rmd17/train_1000.xyz"}
ALL = "every module (int4 post-training quantization)"


def with_int4(model, names):
    """A copy of model whose modules `names` have int4 weights (scale rule mse, no training)."""
    from torch.nn.utils import parametrize

    from gaqmd.quant.weights import weight_quantizer

    model = copy.deepcopy(model)
    modules = dict(model.named_modules())
    for name in names:
        parametrize.register_parametrization(modules[name], "weight", weight_quantizer(modules[name], None, "mse"))
    return model


def measure(molecule: str) -> dict:
    import torch

    from gaqmd.data import GraphDataset, Split
    from gaqmd.model.io import load_model
    from gaqmd.quant.weights import weight_quantizer
    from gaqmd.train.evaluation import read_labelled_frames
    from gaqmd.train.metrics import evaluate

    path = ROOT / "runs" / f"{molecule}_fp32" / "best.pt"
    model, metadata = load_model(path, dtype=torch.float64)
    frames = read_labelled_frames(metadata, path, ROOT / DATA[molecule], "all")
    test = GraphDataset([frames[i] for i in Split.from_dict(metadata["split"]).test], model.config.species,
                        model.config.cutoff)
    force_mae = lambda m: evaluate(m, test, dtype=torch.float64).force_mae  # noqa: E731
    names = [name for name, module in model.named_modules() if weight_quantizer(module, None, "mse") is not None]
    result = {"fp32": force_mae(model), "int4": {}, "parameters": {}}
    print(f"{molecule} FP32 {result['fp32']:.2f} meV/Å", flush=True)
    for name in names:
        result["parameters"][name] = dict(model.named_modules())[name].weight.numel()
        result["int4"][name] = force_mae(with_int4(model, [name]))
        print(f"{molecule} int4 {name}: {result['int4'][name]:.2f} meV/Å", flush=True)
    result["int4"][ALL] = force_mae(with_int4(model, names))
    return result


def markdown(saved: dict) -> str:
    molecules = list(saved["molecules"])
    first = saved["molecules"][molecules[0]]
    header = " | ".join(f"{m} force MAE (meV/Å)" for m in molecules)
    lines = ["# Where int4 weights lose accuracy (post-training, one module at a time)", "",
             f"Machine: {saved['machine']}. Command: `python benchmarks/weight_costs.py`. Each FP32 model with "
             "the weights of one module rounded to int4 (per-output-channel scales, `mse` rule, no training), "
             "force MAE on the 100 held-out frames; in brackets the increase over FP32 ("
             + ", ".join(f"{m} {saved['molecules'][m]['fp32']:.2f}" for m in molecules) + " meV/Å).", "",
             f"| module | weights | {header} |", "|---|---|" + "---|" * len(molecules)]
    for name in first["int4"]:
        size = first["parameters"].get(name, sum(first["parameters"].values()))
        cells = " | ".join(f"{saved['molecules'][m]['int4'][name]:.2f} (+{saved['molecules'][m]['int4'][name] - saved['molecules'][m]['fp32']:.2f})"
                           for m in molecules)
        lines.append(f"| {name} | {size} | {cells} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=DOCS)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    missing = [m for m in DATA if not (ROOT / "runs" / f"{m}_fp32" / "best.pt").is_file()]
    if missing:
        parser.error(f"missing FP32 models for {missing} (run benchmarks/rmd17_fp32.py first)")
    saved = {"machine": machine(), "molecules": {m: measure(m) for m in DATA}}
    write_report(args.output, "weight_costs", saved, markdown(saved))
    return 0


if __name__ == "__main__":
    sys.exit(main())
