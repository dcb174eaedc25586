"""Where stage 2 of GAQ loses accuracy: the W4A8 model with one group of activation quantizers off.

From the aspirin W4A32 model (runs/aspirin_w4a32/best.pt, benchmarks/gaq_rmd17.py), the GAQ W4A8
activation quantizers are calibrated on every training frame as `examples/configs/qat.yaml` does (no
fine-tuning), except that the radial basis is rounded to int8 too (`edge_basis: int8`) so that its
cost is one of the rows (this measurement is why qat.yaml keeps it float); then each group of
quantizers is replaced by the identity in turn and the model is evaluated on the held-out frames.
The force MAE a group's removal recovers is what it costs.
Writes docs/results/activation_costs.{md,json}.

    python benchmarks/activation_costs.py          # ~6 min on one core
"""

import argparse
import copy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from rmd17_fp32 import machine, write_report  # noqa: E402

DOCS = ROOT / "docs" / "results"
PARENT = ROOT / "runs" / "aspirin_w4a32" / "best.pt"
STAGE2 = ROOT / "examples" / "configs" / "qat.yaml"
DATA = ROOT / "tests" / "data" / "rmd17" / "aspirin_1000.xyz"


def without_blocks(model, attribute: str, degree: int):
    """A copy of model whose irreps quantizers at `attribute` pass blocks of this degree unchanged."""
    from torch import nn

    from gaqmd.quant.activations import IrrepsQuantizer

    model = copy.deepcopy(model)
    for module in model.modules():
        quantizer = getattr(module, attribute, None)
        if isinstance(quantizer, IrrepsQuantizer):
            for k, block_degree in enumerate(quantizer.degrees):
                if block_degree == degree:
                    quantizer.blocks[k] = nn.Identity()
    return model


def without_scalar_quantizers(model, selected):
    """A copy of model with the input/output quantizers of modules for which selected(name, attribute)
    is true replaced by the identity."""
    from torch import nn

    model = copy.deepcopy(model)
    for name, module in model.named_modules():
        for attribute in ("input_quantizer", "output_quantizer"):
            if getattr(module, attribute, None) is not None and selected(name, attribute):
                setattr(module, attribute, nn.Identity())
    return model


GROUPS = {
    "node features entering each interaction, l=0 (int8)": lambda m: without_blocks(m, "input_quantizer", 0),
    "node features entering each interaction, l=1 (MDDQ)": lambda m: without_blocks(m, "input_quantizer", 1),
    "linear_up output, l=0 (int8)": lambda m: without_blocks(m, "output_quantizer", 0),
    "linear_up output, l=1 (MDDQ)": lambda m: without_blocks(m, "output_quantizer", 1),
    "radial MLP inputs (basis and hidden, int8)": lambda m: without_scalar_quantizers(
        m, lambda name, attribute: "radial_mlp.layers" in name),
    "radial MLP input, the radial basis alone (int8)": lambda m: without_scalar_quantizers(
        m, lambda name, attribute: name.endswith("radial_mlp.layers.0")),
    "radial MLP output, the path weights (int8)": lambda m: without_scalar_quantizers(
        m, lambda name, attribute: name.endswith("radial_mlp") and attribute == "output_quantizer"),
    "readout MLP inputs (int8)": lambda m: without_scalar_quantizers(m, lambda name, attribute: name.startswith("readout")),
}


def measure() -> dict:
    import torch
    import yaml

    from gaqmd.data import GraphDataset, Split
    from gaqmd.model.io import load_model
    from gaqmd.quant import QuantConfig, add_activation_quantizers
    from gaqmd.train.evaluation import read_labelled_frames
    from gaqmd.train.metrics import evaluate

    parent, metadata = load_model(PARENT, dtype=torch.float64)
    frames = read_labelled_frames(metadata, PARENT, DATA, "all")
    split = Split.from_dict(metadata["split"])
    test = GraphDataset([frames[i] for i in split.test], parent.config.species, parent.config.cutoff)
    force_mae = lambda model: evaluate(model, test, dtype=torch.float64).force_mae  # noqa: E731
    stage2 = yaml.safe_load(STAGE2.read_text())["quant"]
    config = QuantConfig.from_dict({**stage2, "mode": "w4a8", "edge_basis": "int8"})
    quantized = add_activation_quantizers(copy.deepcopy(parent), config, [frames[i] for i in split.train])
    result = {"w4a32": force_mae(parent), "w4a8": force_mae(quantized), "without": {}}
    print(f"W4A32 {result['w4a32']:.2f}  W4A8 {result['w4a8']:.2f} meV/Å", flush=True)
    for label, remove in GROUPS.items():
        result["without"][label] = force_mae(remove(quantized))
        print(f"without {label}: {result['without'][label]:.2f} meV/Å", flush=True)
    return result


def markdown(saved: dict) -> str:
    w4a8, gap = saved["w4a8"], saved["w4a8"] - saved["w4a32"]
    lines = ["# Where stage 2 of GAQ loses accuracy (aspirin)", "",
             f"Machine: {saved['machine']}. Command: `python benchmarks/activation_costs.py`. The W4A32 model "
             f"({saved['w4a32']:.2f} meV/Å) with the GAQ W4A8 activation quantizers calibrated as "
             f"`examples/configs/qat.yaml` does, radial basis int8 included ({w4a8:.2f} meV/Å, +{gap:.2f}); each "
             "row removes one group of quantizers (identity) from that model. Force MAE on the 100 held-out "
             "frames; groups overlap where named so (the radial basis is one of the radial MLP inputs).", "",
             "| quantizers removed | force MAE (meV/Å) | recovered (meV/Å) | share of the W4A32 → W4A8 gap |",
             "|---|---|---|---|"]
    for label, value in saved["without"].items():
        lines.append(f"| {label} | {value:.2f} | {w4a8 - value:.2f} | {100 * (w4a8 - value) / gap:.0f}% |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=DOCS)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    if not PARENT.is_file():
        parser.error(f"missing {PARENT} (run benchmarks/gaq_rmd17.py first)")
    saved = {"machine": machine(), **measure()}
    write_report(args.output, "activation_costs", saved, markdown(saved))
    return 0


if __name__ == "__main__":
    sys.exit(main())
