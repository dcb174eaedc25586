"""Clipped or unclipped straight-through forces through the int8 activations of GAQ W4A8.

The stage-2 models (runs/{aspirin,ethanol}_w4a8, benchmarks/gaq_rmd17.py) are evaluated twice with
the same codes and ranges: with the clipped straight-through derivative of the int8 (LSQ)
activations (0 beyond the calibrated range, `int8_ste: clipped`) and the unclipped one (1 there,
`int8_ste: unclipped`, the recipe). Energies are identical; forces differ only on frames where
some activation leaves the range calibrated on the training frames. The W4A32 parent is the
reference. Force MAE on the validation and the held-out test frames, and the worst frame's.
Writes docs/results/int8_ste.{md,json}.

    python benchmarks/int8_ste.py          # ~3 min on one core
"""

import argparse
import copy
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from rmd17_fp32 import machine, write_report  # noqa: E402

DOCS = ROOT / "docs" / "results"
DATA = {"aspirin": "aspirin_1000.xyz", "ethanol": "train_1000.xyz"}
MODELS = ("w4a32", "w4a8 clipped", "w4a8 unclipped")


def frame_errors(model, dataset, atoms: int) -> dict:
    """Force MAE (meV/Å) over the frames and per frame (the molecule's atom count per frame)."""
    import torch

    from gaqmd.train.metrics import predict

    p = predict(model, dataset, dtype=torch.float64)
    per_frame = 1e3 * np.abs(p.forces_pred - p.forces_true).reshape(len(p.energy_true), atoms, 3).mean(axis=(1, 2))
    return {"force_mae": float(per_frame.mean()), "worst_frame": float(per_frame.max()),
            "worst_index": int(per_frame.argmax())}


def measure(molecule: str) -> dict:
    import torch

    from gaqmd.data import GraphDataset, Split
    from gaqmd.model.io import load_model
    from gaqmd.quant.activations import set_int8_ste
    from gaqmd.train.evaluation import read_labelled_frames

    parent_path = ROOT / "runs" / f"{molecule}_w4a32" / "best.pt"
    parent, metadata = load_model(parent_path, dtype=torch.float64)
    gaq = load_model(ROOT / "runs" / f"{molecule}_w4a8" / "best.pt", dtype=torch.float64)[0]
    clipped, unclipped = copy.deepcopy(gaq), copy.deepcopy(gaq)
    set_int8_ste(clipped, clipped=True)
    set_int8_ste(unclipped, clipped=False)
    frames = read_labelled_frames(metadata, parent_path, ROOT / "tests" / "data" / "rmd17" / DATA[molecule], "all")
    split = Split.from_dict(metadata["split"])
    atoms = len(frames[0].numbers)
    parts = {part: (getattr(split, part), GraphDataset([frames[i] for i in getattr(split, part)],
                                                       parent.config.species, parent.config.cutoff))
             for part in ("val", "test")}
    result = {}
    for name, model in zip(MODELS, (parent, clipped, unclipped)):
        result[name] = {}
        for part, (indices, dataset) in parts.items():
            errors = frame_errors(model, dataset, atoms)
            errors["worst_index"] = int(indices[errors["worst_index"]])
            result[name][part] = errors
        print(f"{molecule} {name}: {result[name]}", flush=True)
    return result


def markdown(saved: dict) -> str:
    lines = ["# Clipped or unclipped straight-through forces through the int8 activations", "",
             f"Machine: {saved['machine']}. Command: `python benchmarks/int8_ste.py`. The stage-2 GAQ W4A8 "
             "models (`examples/configs/qat.yaml` on the W4A32 models of benchmarks/gaq_rmd17.py: ranges calibrated "
             "as max |x| over every training frame) with the derivative of an int8 activation beyond its range 0 "
             "(clipped, the LSQ paper) or 1 (unclipped); same codes, same energies. Force MAE in meV/Å on the "
             "validation and the held-out test frames; worst frame: the largest per-frame force MAE, with its index "
             "in the data file.", "",
             "| molecule | model | validation | test | worst validation frame | worst test frame |",
             "|---|---|---|---|---|---|"]
    for molecule, result in saved["molecules"].items():
        for name in MODELS:
            val, test = result[name]["val"], result[name]["test"]
            lines.append(f"| {molecule} | {name} | {val['force_mae']:.2f} | {test['force_mae']:.2f} | "
                         f"{val['worst_frame']:.1f} (#{val['worst_index']}) | "
                         f"{test['worst_frame']:.1f} (#{test['worst_index']}) |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--molecules", nargs="+", default=list(DATA), choices=list(DATA))
    parser.add_argument("--output", type=Path, default=DOCS)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    for molecule in args.molecules:
        for mode in ("w4a32", "w4a8"):
            if not (ROOT / "runs" / f"{molecule}_{mode}" / "best.pt").is_file():
                parser.error(f"missing runs/{molecule}_{mode}/best.pt (run benchmarks/gaq_rmd17.py first)")
    saved = {"machine": machine(), "molecules": {m: measure(m) for m in args.molecules}}
    write_report(args.output, "int8_ste", saved, markdown(saved))
    return 0


if __name__ == "__main__":
    sys.exit(main())
