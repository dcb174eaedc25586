"""Would other int8 activation ranges close the W4A8 gap? Scale variants on the W4A32 models.

For each molecule, the GAQ W4A8 activation quantizers of `examples/configs/qat.yaml` are calibrated
on the W4A32 model of benchmarks/gaq_rmd17.py (every training frame, no fine-tuning, as the recipe
does); then the scales of the int8 scalar quantizers are chosen in other ways, over the same
training frames, with everything else (int4 weights, MDDQ vectors) unchanged:
- max: max |x| / 127 per channel (the recipe);
- least MSE: per channel, the clip ratio r in [0.2, 1] (r · max |x| / 127) with the least rounding
  error, saturated values included;
- per species: one scale per (species, channel) for node scalars (node features, readout inputs),
  max over the atoms of that species;
- per species pair: one scale per (ordered species pair of the edge, channel) for the radial-MLP
  activations, max over those edges;
- both of the last two.
The same quantizers (max) on the FP32 model the W4A32 model came from show what the int8
activations cost on their own, with float weights.
Values beyond a range saturate and keep the unclipped straight-through derivative, as in the
recipe. PyTorch only: the format and the engine hold one scale per channel, and this measures what
finer scales would buy before they are built. Force MAE on the validation and held-out frames.
Writes docs/results/activation_ranges.{md,json}.

    python benchmarks/activation_ranges.py          # ~15 min on one core
"""

import argparse
import copy
import sys
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from gaq_rmd17 import DATA  # noqa: E402
from rmd17_fp32 import machine, write_report  # noqa: E402

DOCS = ROOT / "docs" / "results"
STAGE2 = ROOT / "examples" / "configs" / "qat.yaml"
CLIP_RATIOS = [0.2 + 0.025 * k for k in range(33)]
VARIANTS = ("max", "least MSE", "per species", "per species pair", "per species and species pair")


def parent_file(molecule: str, mode: str = "w4a32") -> Path:
    return ROOT / "runs" / f"{molecule}_{mode}" / "best.pt"


class Slot(NamedTuple):
    """Where an int8 scalar quantizer sits: holder[key] (a ModuleList) or getattr(holder, key);
    kind is "edge" for the radial MLP's quantizers, else "node"."""

    holder: Any
    key: Any
    quantizer: Any
    kind: str

    def replace(self, module) -> None:
        if isinstance(self.key, int):
            self.holder[self.key] = module
        else:
            setattr(self.holder, self.key, module)


def int8_slots(model) -> list[Slot]:
    """Every int8 scalar quantizer of the model (MDDQ magnitudes excluded)."""
    from gaqmd.quant.activations import IrrepsQuantizer
    from gaqmd.quant.lsq import LsqQuantizer

    slots = []
    for name, module in model.named_modules():
        for attribute in ("input_quantizer", "output_quantizer"):
            quantizer = getattr(module, attribute, None)
            kind = "edge" if ".radial_mlp" in name else "node"
            if isinstance(quantizer, LsqQuantizer):
                slots.append(Slot(module, attribute, quantizer, kind))
            elif isinstance(quantizer, IrrepsQuantizer):
                for k, degree in enumerate(quantizer.degrees):
                    if degree == 0:
                        slots.append(Slot(quantizer.blocks, k, quantizer.blocks[k], kind))
    return slots


def attach_groups(model, quantizers) -> None:
    """A forward pre-hook that gives every (quantizer, kind) its rows' group indices: the species of
    each atom ("node") or species[i] · S + species[j] of each edge (i, j) ("edge")."""
    num_species = len(model.config.species)

    def hook(module, args):
        species, edge_index = args[1], args[2]
        groups = {"node": species, "edge": species[edge_index[0]] * num_species + species[edge_index[1]]}
        for quantizer, kind in quantizers:
            quantizer.groups = groups[kind]

    model.register_forward_pre_hook(hook)


def grouped_scales_quantizer(base, num_groups: int):
    """An int8 quantizer with one scale per (group, channel) taken from the rows it sees while
    recording, rows (n, channels) with their group ids in .groups (set by attach_groups)."""
    import torch
    from torch import nn

    class GroupedScales(nn.Module):
        def __init__(self):
            super().__init__()
            self.qmin, self.qmax = base.qmin, base.qmax
            self.peak = torch.zeros(num_groups, base.num_channels, dtype=torch.float64)
            self.recording = True
            self.groups = None

        def forward(self, x):
            if x.shape[0] != self.groups.shape[0]:
                raise ValueError(f"{x.shape[0]} rows but {self.groups.shape[0]} group ids")
            if self.recording:
                with torch.no_grad():
                    self.peak.index_reduce_(0, self.groups, x.detach().abs().to(self.peak.dtype), "amax")
                return base(x)
            scale = torch.clamp(self.peak[self.groups].to(x.dtype) / self.qmax, min=torch.finfo(x.dtype).tiny)
            rounded = torch.clamp(torch.round(x / scale), self.qmin, self.qmax) * scale
            return x + (rounded - x).detach()

    return GroupedScales()


def run_frames(model, dataset) -> None:
    import torch

    from gaqmd.model import energy_and_forces

    for graph in dataset.batches(16):
        energy_and_forces(model, graph.to(dtype=torch.float64))


def least_mse(model, train) -> list[float]:
    """Per-channel scales set in place to the clip ratio of CLIP_RATIOS with the least rounding error;
    returns the chosen ratios of every channel."""
    import torch

    slots = int8_slots(model)
    ratios = torch.tensor(CLIP_RATIOS, dtype=torch.float64)
    errors = {id(s.quantizer): torch.zeros(len(ratios), s.quantizer.num_channels, dtype=torch.float64)
              for s in slots}

    def accumulate(quantizer, args):
        x = quantizer._per_channel(args[0].detach()).to(torch.float64)  # (channels, n)
        for k, ratio in enumerate(ratios):
            scale = ratio * quantizer.scale.detach().to(torch.float64)[:, None]
            rounded = torch.clamp(torch.round(x / scale), quantizer.qmin, quantizer.qmax) * scale
            errors[id(quantizer)][k] += (rounded - x).pow(2).sum(-1)

    handles = [s.quantizer.register_forward_pre_hook(accumulate) for s in slots]
    run_frames(model, train)
    for handle in handles:
        handle.remove()
    chosen = []
    with torch.no_grad():
        for quantizer in (s.quantizer for s in slots):
            best = ratios[errors[id(quantizer)].argmin(0)]
            quantizer.scale.mul_(best.to(quantizer.scale.dtype))
            chosen += best.tolist()
    return chosen


def per_group(model, train, kinds: set) -> None:
    """Scalar quantizers of the given kinds ("node", "edge") replaced in place by grouped ones."""
    num_species = len(model.config.species)
    grouped = []
    for slot in (s for s in int8_slots(model) if s.kind in kinds):
        quantizer = grouped_scales_quantizer(slot.quantizer, num_species**2 if slot.kind == "edge" else num_species)
        slot.replace(quantizer)
        grouped.append((quantizer, slot.kind))
    attach_groups(model, grouped)
    run_frames(model, train)
    for quantizer, _ in grouped:
        quantizer.recording = False


def measure(molecule: str) -> dict:
    import torch
    import yaml

    from gaqmd.data import GraphDataset, Split
    from gaqmd.model.io import load_model
    from gaqmd.quant import QuantConfig, add_activation_quantizers
    from gaqmd.train.evaluation import read_labelled_frames
    from gaqmd.train.metrics import evaluate

    path = parent_file(molecule)
    parent, metadata = load_model(path, dtype=torch.float64)
    frames = read_labelled_frames(metadata, path, ROOT / DATA[molecule], "all")
    split = Split.from_dict(metadata["split"])
    dataset = lambda indices: GraphDataset([frames[i] for i in indices], parent.config.species,  # noqa: E731
                                           parent.config.cutoff)
    train, val, test = dataset(split.train), dataset(split.val), dataset(split.test)
    stage2 = yaml.safe_load(STAGE2.read_text())["quant"]
    int4_rules = {key: metadata["quant"][key] for key in ("group_size", "weight_scale", "learn_weight_scales")}
    config = QuantConfig.from_dict({**stage2, **int4_rules, "mode": "w4a8"})
    train_frames = [frames[i] for i in split.train]
    recipe = add_activation_quantizers(copy.deepcopy(parent), config, train_frames)
    errors = lambda model: {"val": evaluate(model, val, dtype=torch.float64).force_mae,  # noqa: E731
                            "test": evaluate(model, test, dtype=torch.float64).force_mae}
    fp32 = load_model(parent_file(molecule, "fp32"), dtype=torch.float64)[0].eval()
    fp32_a8 = add_activation_quantizers(copy.deepcopy(fp32), config, train_frames)
    result = {"fp32": errors(fp32), "fp32_a8": errors(fp32_a8), "w4a32": errors(parent.eval()), "variants": {}}

    def clip_to_least_mse(model):
        ratios = sorted(least_mse(model, train))
        result["least_mse_ratios"] = {"mean": sum(ratios) / len(ratios), "p5": ratios[len(ratios) // 20],
                                      "channels": len(ratios)}

    adjust = {
        "max": lambda model: None,
        "least MSE": clip_to_least_mse,
        "per species": lambda model: per_group(model, train, {"node"}),
        "per species pair": lambda model: per_group(model, train, {"edge"}),
        "per species and species pair": lambda model: per_group(model, train, {"node", "edge"}),
    }
    for variant in VARIANTS:
        model = copy.deepcopy(recipe)
        adjust[variant](model)
        result["variants"][variant] = errors(model.eval())
        print(f"{molecule} {variant}: {result['variants'][variant]}", flush=True)
    return result


def markdown(saved: dict) -> str:
    lines = ["# Activation ranges: per-channel max against finer or clipped int8 scales", "",
             f"Machine: {saved['machine']}. Command: `python benchmarks/activation_ranges.py`. From each W4A32 model "
             "of results/gaq_rmd17.md, the GAQ W4A8 activation quantizers of `examples/configs/qat.yaml` "
             "calibrated on every training frame; rows change only the scales of the int8 scalar quantizers "
             "(the script's docstring defines them; per species and per species pair exist in PyTorch only). "
             "The second row puts the same quantizers (max) on the FP32 model. "
             "Force MAE (meV/Å) on the 50 validation and 100 held-out frames.", "",
             "| int8 scales | " + " | ".join(f"{m} val | {m} test" for m in saved["molecules"]) + " |",
             "|---|" + "---|---|" * len(saved["molecules"])]
    rows = [("FP32 (no quantizers)", lambda r: r["fp32"]),
            ("FP32 weights, int8 activations (max)", lambda r: r["fp32_a8"]),
            ("W4A32 (no activation quantizers)", lambda r: r["w4a32"])]
    rows += [(variant, lambda r, v=variant: r["variants"][v]) for variant in VARIANTS]
    for label, pick in rows:
        cells = [f"{pick(saved['molecules'][m])[split]:.2f}" for m in saved["molecules"] for split in ("val", "test")]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("")
    for molecule, result in saved["molecules"].items():
        ratios = result["least_mse_ratios"]
        lines.append(f"{molecule}: the least-MSE clip ratios of the {ratios['channels']} int8 channels average "
                     f"{ratios['mean']:.2f} (5th percentile {ratios['p5']:.2f}).")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--molecules", nargs="+", default=["aspirin", "ethanol"], choices=sorted(DATA))
    parser.add_argument("--output", type=Path, default=DOCS)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    for path in [parent_file(m, mode) for m in args.molecules for mode in ("fp32", "w4a32")]:
        if not path.is_file():
            parser.error(f"missing {path} (run benchmarks/rmd17_fp32.py and benchmarks/gaq_rmd17.py first)")
    saved = {"machine": machine(), "molecules": {m: measure(m) for m in args.molecules}}
    write_report(args.output, "activation_ranges", saved, markdown(saved))
    return 0


if __name__ == "__main__":
    sys.exit(main())
