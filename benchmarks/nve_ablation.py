"""Which W4A8 quantizers make NVE heat, and how the heating falls with the bits of the roundings.
The GAQ aspirin model on the native engine, each variant run from the same equilibrated state.

Both are done in the model description itself. "Float": the group's LSQ/magnitude step becomes
1e-6 with a clamp range of ±2^30 steps (±1e3 feature units), so its rounding sits far below the
features' scale. "b bits": every int8 rounding's step is divided by 2^(b-8) and its code range
multiplied by the same factor (same clipping range, finer steps; the 16-bit directions stay). The
engine and the rest of the model stay as deployed. Writes docs/results/nve_ablation.{md,json}.

    python benchmarks/nve_ablation.py --ps 10                     # ~5 min on one core
    python benchmarks/nve_ablation.py --ps 10 --bits 8 10 12 14   # plus the bit-width sweep
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


def with_finer_roundings(description, bits: int):
    """Copy of (attributes, arrays) with every int8 rounding at `bits` bits over the same range."""
    factor = 2 ** (bits - 8)
    attributes, arrays = dict(description[0]), dict(description[1])
    for name in list(arrays):
        if not name.endswith(".scale") or name.startswith("readout.s"):
            continue
        prefix = name[: -len(".scale")]
        for bound in (".qmin", ".qmax"):
            if prefix + bound in attributes:
                attributes[prefix + bound] = str(int(attributes[prefix + bound]) * factor)
        arrays[name] = arrays[name] / factor
    return attributes, arrays


def finest_needed(groups: list[dict], sweep: list[dict]) -> str:
    """The smallest bit width whose drift is within 2σ of the directions-only variant (every int8
    rounding made float): from there on the roundings add no drift these runs can resolve."""
    floor = groups[-1]
    for row in sweep:
        sigma = (row["drift_stderr"] ** 2 + floor["drift_stderr"] ** 2) ** 0.5
        if abs(row["drift"] - floor["drift"]) <= 2 * sigma:
            return (f"from {row['bits']} bits on, the drift is within 2σ of the directions-only variant's "
                    f"({floor['drift']:+.3f} ± {floor['drift_stderr']:.3f} meV/atom/ps)")
    return "no bit width reaches the directions-only variant's drift within 2σ"


def run_variants(variants: dict, start, structure, steps: int) -> list[dict]:
    from gaqmd.checks.conservation import StartState, nve_drift
    from gaqmd.md.simulate import build_system

    rows = []
    for label, description in variants.items():
        system = build_system(description, structure)
        result = nve_drift(StartState(system, start.positions, start.velocities), 0.5, steps, 20, platform="CPU")
        rows.append({"variant": label, "drift": result.drift, "drift_stderr": result.drift_stderr,
                     "rms_fluctuation": result.rms_fluctuation, "reason": result.reason})
        print(f"{label:55s} drift {result.drift:+.3f} ± {result.drift_stderr:.3f} meV/atom/ps, "
              f"rms {result.rms_fluctuation:.3f} meV/atom", flush=True)
    return rows


def table(header: str, rows: list[dict]) -> list[str]:
    return [f"| {header} | drift (meV/atom/ps) | RMS fluctuation (meV/atom) |", "|---|---|---|"] + [
        f"| {row['variant']} | {row['drift']:+.3f} ± {row['drift_stderr']:.3f} | {row['rms_fluctuation']:.3f} |"
        for row in rows]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ps", type=float, default=10.0, help="NVE length per variant, ps (0.5 fs steps)")
    parser.add_argument("--model", type=Path, default=ROOT / "runs" / "aspirin_w4a8" / "best.pt")
    parser.add_argument("--reference", type=Path, default=ROOT / "runs" / "aspirin_fp32" / "best.pt",
                        help="FP32 model used for the equilibration")
    parser.add_argument("--output", type=Path, default=DOCS)
    parser.add_argument("--bits", type=int, nargs="*", default=[],
                        help="also run every int8 rounding at these bit widths (same ranges)")
    parser.add_argument("--reuse", action="store_true", help="rewrite the report from OUTPUT/nve_ablation.json")
    args = parser.parse_args(argv)
    if args.reuse:
        saved = json.loads((args.output / "nve_ablation.json").read_text())
        write_report(args.output, saved, saved["command"])
        return 0
    from gaqmd.checks.conservation import equilibrate
    from gaqmd.export.source import model_description
    from gaqmd.md import read_structure
    from gaqmd.md.simulate import build_system

    structure = read_structure(ROOT / "tests" / "data" / "rmd17" / "aspirin_1000.xyz")
    description = model_description(args.model)
    start = equilibrate((build_system(args.reference, structure), structure.positions), 300.0, 4000, 0.5,
                        platform="CPU")
    steps = int(args.ps * 2000) // 20 * 20
    groups = run_variants({label: with_float_group(description, in_group) for label, in_group in GROUPS.items()},
                          start, structure, steps)
    sweep = run_variants({f"{b} bits": with_finer_roundings(description, b) for b in args.bits}, start, structure, steps)
    for row, b in zip(sweep, args.bits):
        row["bits"] = b
    model = args.model.relative_to(ROOT) if args.model.is_relative_to(ROOT) else args.model
    command = " ".join(["python benchmarks/nve_ablation.py", f"--ps {args.ps:g}", f"--model {model}",
                        *(["--bits", *map(str, args.bits)] if args.bits else [])])
    saved = {"machine": machine(), "ps": args.ps, "command": command, "groups": groups, "bits": sweep}
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "nve_ablation.json").write_text(json.dumps(saved, indent=2) + "\n")
    write_report(args.output, saved, command)
    return 0


def write_report(output: Path, saved: dict, command: str) -> None:
    groups, sweep = saved["groups"], saved["bits"]
    lines = ["# Which W4A8 quantizers make NVE heat (aspirin, native engine)", "",
             f"Machine: {saved['machine']}. Command: `{command}`. Every variant runs {saved['ps']:g} ps of NVE at "
             "0.5 fs from the same state (2 ps Langevin, 300 K, FP32 model). A group made float: step "
             f"{FINE_STEP:g} with a ±2^30-step range in the model description.", "",
             *table("quantizers made float", groups)]
    if sweep:
        lines += ["", "## Every int8 rounding at more bits (same clipping ranges; directions stay 16-bit)", "",
                  *table("roundings", sweep), "", f"- {finest_needed(groups, sweep)}"]
    (output / "nve_ablation.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
