"""Which W4A8 quantizers make NVE heat? The GAQ aspirin model on the native engine with groups of
activation quantizers made effectively float, each run from the same equilibrated state.

"Float" is done in the model description itself: the group's LSQ/magnitude step becomes 1e-6 with a
clamp range of ±2^30 steps (±1e3 feature units), so its rounding sits far below the features'
scale while the engine and the rest of the model stay as deployed. Writes
docs/results/nve_ablation.{md,json}.

    python benchmarks/nve_ablation.py --ps 10          # ~5 min on one core
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from rmd17_fp32 import machine  # noqa: E402

DOCS = ROOT / "docs" / "results"
FINE_STEP, HUGE_RANGE = 1e-6, 2**30

GROUPS = {
    "none (as deployed)": lambda name: False,
    "radial MLP (inputs, hidden, outputs, attention key)": lambda name: ".radial" in name or "key_radial" in name,
    "node scalars (l=0 of each layer's input and linear_up output)": lambda name: name.endswith(".b0.scale"),
    "vector magnitudes (l=1)": lambda name: name.endswith(".b1.scale"),
    "readout inputs": lambda name: name.startswith("readout.") and ".in_q." in name,
    "every int8 rounding (directions still snapped)": lambda name: not name.startswith("readout.s"),
}


def with_float_group(description, in_group):
    """Copy of (attributes, arrays) with the quantizers whose `<name>.scale` is in the group made fine."""
    attributes, arrays = dict(description[0]), dict(description[1])
    for name in list(arrays):
        if not (name.endswith(".scale") and in_group(name)) or name in ("readout.scale",):
            continue
        prefix = name[: -len(".scale")]
        unsigned = attributes.get(prefix + ".kind") in ("mddq", "mddq-fp16") or prefix + ".log_domain" in attributes
        if not unsigned:
            attributes[prefix + ".qmin"] = str(-HUGE_RANGE)
        attributes[prefix + ".qmax"] = str(HUGE_RANGE)
        arrays[name] = np.full_like(arrays[name], FINE_STEP)
    return attributes, arrays


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ps", type=float, default=10.0, help="NVE length per variant, ps (0.5 fs steps)")
    parser.add_argument("--model", type=Path, default=ROOT / "runs" / "aspirin_w4a8" / "best.pt")
    parser.add_argument("--reference", type=Path, default=ROOT / "runs" / "aspirin_fp32" / "best.pt",
                        help="FP32 model used for the equilibration")
    parser.add_argument("--output", type=Path, default=DOCS)
    args = parser.parse_args(argv)
    from gaqmd.checks.conservation import StartState, equilibrate, nve_drift
    from gaqmd.export.source import model_description
    from gaqmd.md import read_structure
    from gaqmd.md.simulate import build_system

    structure = read_structure(ROOT / "tests" / "data" / "rmd17" / "aspirin_1000.xyz")
    description = model_description(args.model)
    start = equilibrate((build_system(args.reference, structure), structure.positions), 300.0, 4000, 0.5,
                        platform="CPU")
    steps = int(args.ps * 2000) // 20 * 20
    rows = []
    for label, in_group in GROUPS.items():
        system = build_system(with_float_group(description, in_group), structure)
        result = nve_drift(StartState(system, start.positions, start.velocities), 0.5, steps, 20, platform="CPU")
        rows.append({"float": label, "drift": result.drift, "drift_stderr": result.drift_stderr,
                     "rms_fluctuation": result.rms_fluctuation, "reason": result.reason})
        print(f"{label:55s} drift {result.drift:+.3f} ± {result.drift_stderr:.3f} meV/atom/ps, "
              f"rms {result.rms_fluctuation:.3f} meV/atom", flush=True)
    lines = ["# Which W4A8 quantizers make NVE heat (aspirin, native engine)", "",
             f"Machine: {machine()}. Command: `python benchmarks/nve_ablation.py --ps {args.ps:g}`. Model "
             f"`{args.model.relative_to(ROOT) if args.model.is_relative_to(ROOT) else args.model}`; every "
             f"variant runs {args.ps:g} ps of NVE at 0.5 fs from the same state (2 ps Langevin, 300 K, FP32 model). "
             f"A group made float: step {FINE_STEP:g} with a ±2^30-step range in the model description.", "",
             "| quantizers made float | drift (meV/atom/ps) | RMS fluctuation (meV/atom) |", "|---|---|---|"]
    lines += [f"| {row['float']} | {row['drift']:+.3f} ± {row['drift_stderr']:.3f} | {row['rms_fluctuation']:.3f} |"
              for row in rows]
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "nve_ablation.json").write_text(json.dumps({"machine": machine(), "ps": args.ps, "rows": rows},
                                                              indent=2) + "\n")
    (args.output / "nve_ablation.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
