"""Where int4 weights lose accuracy, before QAT and after it.

Before: for aspirin and ethanol, the FP32 model (runs/<molecule>_fp32/best.pt,
benchmarks/rmd17_fp32.py) gets int4 weights (per-output-channel scales by the `mse` rule, as stage
1 of QAT starts) in one module at a time, without any training, and is evaluated on the held-out
frames; the last row rounds every module at once. The force MAE a module's rounding adds is how
sensitive the trained model is to int4 there, which is what stage-1 QAT has to repair.

After: the stage-1 W4A32 model (runs/<molecule>_w4a32/best.pt, benchmarks/gaq_rmd17.py) with its
latent float weights moved by uniform noise of a few amplitudes, the size of the last epochs' Adam
steps (lr 5e-6 x 170 steps = 8.5e-4 per epoch): how many int4 codes flip, and what that does to the
held-out force error. Writes docs/results/weight_costs.{md,json}.

    python benchmarks/weight_costs.py          # ~6 min on one core
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
AMPLITUDES = (1e-5, 1e-4, 1e-3)  # latent-weight noise, uniform in [-a, a]
SEEDS = 3


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
    result["flips"] = code_flips(molecule, test, force_mae)
    return result


def int4_codes(model):
    """Every int4 code of the model as deployed, one flat int8 tensor."""
    import torch

    from gaqmd.quant import unpack_int4
    from gaqmd.quant.convert import convert_weights

    packed = convert_weights(model).values()
    return torch.cat([unpack_int4(w.packed, sum(o * i for o, i in w.shapes)) for w in packed])


def code_flips(molecule: str, test, force_mae) -> dict:
    """The W4A32 model with its latent weights jittered: codes flipped and force MAE per amplitude."""
    import torch

    from gaqmd.model.io import load_model

    model = load_model(ROOT / "runs" / f"{molecule}_w4a32" / "best.pt", dtype=torch.float64)[0]
    codes = int4_codes(model)
    latent = {name: p.detach().clone() for name, p in model.named_parameters() if name.endswith(".weight.original")}
    rows = {"none": {"flipped": [0], "force_mae": [force_mae(model)]}, "codes": int(codes.numel())}
    generator = torch.Generator().manual_seed(0)
    for amplitude in AMPLITUDES:
        row = rows[f"{amplitude:g}"] = {"flipped": [], "force_mae": []}
        for _ in range(SEEDS):
            with torch.no_grad():
                for name, parameter in model.named_parameters():
                    if name in latent:
                        noise = torch.rand(parameter.shape, generator=generator, dtype=parameter.dtype)
                        parameter.copy_(latent[name] + amplitude * (2 * noise - 1))
            row["flipped"].append(int((int4_codes(model) != codes).sum()))
            row["force_mae"].append(force_mae(model))
        print(f"{molecule} W4A32 latent noise {amplitude:g}: {row}", flush=True)
    return rows


def markdown(saved: dict) -> str:
    molecules = list(saved["molecules"])
    first = saved["molecules"][molecules[0]]
    header = " | ".join(f"{m} force MAE (meV/Å)" for m in molecules)
    lines = ["# Where int4 weights lose accuracy", "", "## Before QAT: one module at a time", "",
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
    lines += ["", "## After stage 1: code flips", "",
              "The stage-1 W4A32 models with every latent float weight moved by uniform noise in [-a, a] "
              f"({SEEDS} draws per amplitude): int4 codes flipped (of "
              + ", ".join(f"{m} {saved['molecules'][m]['flips']['codes']}" for m in molecules)
              + ") and held-out force MAE per draw. In the last epochs of stage 1 (lr 5e-6) Adam moves a latent "
              "weight by up to 8.5e-4 per epoch.", "",
              "| a | " + " | ".join(f"{m} codes flipped | {m} force MAE (meV/Å)" for m in molecules) + " |",
              "|---|" + "---|---|" * len(molecules)]
    for amplitude in ["none", *(f"{a:g}" for a in AMPLITUDES)]:
        cells = []
        for m in molecules:
            row = saved["molecules"][m]["flips"][amplitude]
            cells += [", ".join(str(n) for n in row["flipped"]), ", ".join(f"{v:.2f}" for v in row["force_mae"])]
        lines.append(f"| {amplitude} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=DOCS)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    missing = [f"runs/{m}_{mode}/best.pt" for m in DATA for mode in ("fp32", "w4a32")
               if not (ROOT / "runs" / f"{m}_{mode}" / "best.pt").is_file()]
    if missing:
        parser.error(f"missing {missing} (run benchmarks/rmd17_fp32.py and benchmarks/gaq_rmd17.py first)")
    saved = {"machine": machine(), "molecules": {m: measure(m) for m in DATA}}
    write_report(args.output, "weight_costs", saved, markdown(saved))
    return 0


if __name__ == "__main__":
    sys.exit(main())
