"""Per-irrep bit widths at equal bytes: does giving l=0 and l=1 node features different widths beat
uniform W4A8?

Starting point: the W4A32 QAT model of benchmarks/gaq_rmd17.py (int4 weights trained), so only the
activation quantization differs between rows. Each row attaches the GAQ activation quantizers with
`irrep_bits = (b0, b1)` (int bits of the C scalars, magnitude bits of the C vectors; every vector
also has a 16-bit direction index), calibrates the scales on every training frame ("max" rule,
radial basis float, int8 derivative unclipped, as stage 2 of examples/configs/qat.yaml does) and
evaluates the held-out frames.
Rows with b0 + b1 = 16 store the same bytes per atom as uniform (8, 8). No retraining: this compares
the formats, not how well QAT adapts to each.
Writes docs/results/irrep_bits.{md,json}.

    python benchmarks/irrep_bits.py                   # ~15 min on one core
"""

import argparse
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from rmd17_fp32 import machine  # noqa: E402

from gaqmd.data import GraphDataset  # noqa: E402
from gaqmd.data.splits import Split  # noqa: E402
from gaqmd.model.io import load_model  # noqa: E402
from gaqmd.quant import QuantConfig, add_activation_quantizers  # noqa: E402
from gaqmd.train.evaluation import read_labelled_frames  # noqa: E402
from gaqmd.train.metrics import evaluate  # noqa: E402

DOCS = ROOT / "docs" / "results"
DATA = {"aspirin": ROOT / "tests/data/rmd17/aspirin_1000.xyz", "ethanol": ROOT / "tests/data/rmd17/train_1000.xyz"}
WIDTHS = ((8, 8), (10, 6), (12, 4), (6, 10), (4, 12))


def packed_bytes_per_atom(model, bits: tuple[int, int]) -> float:
    """Bit-packed bytes of the node features each interaction stores and gathers (its input and
    linear_up output): scalars b0 bits, vectors b1 magnitude bits + 16 direction bits."""
    per_block = {0: bits[0], 1: bits[1] + 16}
    return sum(2 * mul * per_block[ir.l] / 8 for layer in model.layers for mul, ir in layer.irreps_in)


def measure(molecule: str, bits: tuple[int, int], runs: Path, test_frames: int) -> dict:
    path = runs / f"{molecule}_w4a32" / "best.pt"
    model, metadata = load_model(path, dtype=torch.float64)
    frames = read_labelled_frames(metadata, path, DATA[molecule], "all")
    train = [frames[i] for i in Split.from_dict(metadata["split"]).train]
    config = QuantConfig(mode="w4a8", scale_init="max", edge_basis="float", int8_ste="unclipped", irrep_bits=bits)
    model = add_activation_quantizers(model, config, train)
    test = [frames[i] for i in Split.from_dict(metadata["split"]).test[:test_frames]]
    metrics = evaluate(model, GraphDataset(test, model.config.species, model.config.cutoff), batch_size=25,
                       dtype=torch.float64)
    row = {"molecule": molecule, "bits": list(bits), "force_mae": metrics.force_mae, "energy_mae": metrics.energy_mae,
           "packed_bytes_per_atom": packed_bytes_per_atom(model, bits), "frames": len(test)}
    print(f"{molecule:8s} bits {bits}: F MAE {metrics.force_mae:7.2f} meV/Å, E MAE {metrics.energy_mae:7.2f} meV, "
          f"{row['packed_bytes_per_atom']:.0f} B/atom", flush=True)
    return row


def markdown(rows: list[dict], args) -> str:
    lines = ["# Per-irrep bit widths at equal bytes (PTQ of activations on the W4A32 QAT models)", "",
             f"Machine: {machine()}. Command: `python benchmarks/irrep_bits.py`. (b0, b1): int bits of the "
             "scalars, magnitude bits of the vectors (+16-bit direction each); activation scales calibrated "
             f"('max') on every training frame, errors on {rows[0]['frames']} held-out frames. Layer 0 stores "
             "scalars only, so the bytes per atom differ slightly between rows of equal b0 + b1.", "",
             "| molecule | (b0, b1) | node-feature bytes/atom (bit-packed) | force MAE (meV/Å) | energy MAE (meV) |",
             "|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['molecule']} | ({row['bits'][0]}, {row['bits'][1]}) | "
                     f"{row['packed_bytes_per_atom']:.0f} | {row['force_mae']:.2f} | {row['energy_mae']:.2f} |")
    lines += ["", "Verdict per molecule (best equal-bytes split vs uniform (8, 8), force MAE):", ""]
    for molecule in dict.fromkeys(row["molecule"] for row in rows):
        mine = [row for row in rows if row["molecule"] == molecule]
        uniform = next(row for row in mine if row["bits"] == [8, 8])
        best = min(mine, key=lambda row: row["force_mae"])
        if best is uniform:
            lines.append(f"- {molecule}: uniform (8, 8) is best ({uniform['force_mae']:.2f} meV/Å).")
        else:
            gain = 100 * (1 - best["force_mae"] / uniform["force_mae"])
            lines.append(f"- {molecule}: ({best['bits'][0]}, {best['bits'][1]}) beats uniform (8, 8): "
                         f"{best['force_mae']:.2f} vs {uniform['force_mae']:.2f} meV/Å ({gain:.0f}% lower).")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=Path, default=ROOT / "runs", help="directory with <molecule>_w4a32/best.pt")
    parser.add_argument("--molecules", nargs="+", default=list(DATA), choices=list(DATA))
    parser.add_argument("--test-frames", type=int, default=100)
    parser.add_argument("--output", type=Path, default=DOCS)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rows = [measure(molecule, bits, args.runs, args.test_frames) for molecule in args.molecules for bits in WIDTHS]
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "irrep_bits.json").write_text(json.dumps({"machine": machine(), "rows": rows}, indent=2) + "\n")
    text = markdown(rows, args)
    (args.output / "irrep_bits.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
