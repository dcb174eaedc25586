"""NVE energy conservation of aspirin per quantization mode, on OpenMM's CPU platform.

One Langevin equilibration (300 K) with the FP32 model; from that state, VerletIntegrator runs of
--ps picoseconds at --dt fs with each model (fp32, w4a32, GAQ w4a8, naive w4a8), all on the native
engine (GaqForce).
Drift is the slope of a linear fit of the total energy (meV/atom/ps) with its standard error,
blow-ups (non-finite or > 1 eV/atom energy change) end a run and are reported. Writes
docs/results/nve_drift.{md,json} and nve_drift.png.

    python benchmarks/nve_drift.py --ps 1000          # the 1 ns measurement (hours on 2 cores)
    python benchmarks/nve_drift.py --ps 20 --modes fp32 w4a8

Models default to the runs of benchmarks/gaq_rmd17.py (runs/aspirin_<mode>/best.pt).
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from rmd17_fp32 import machine  # noqa: E402

DOCS = ROOT / "docs" / "results"
MODES = ("fp32", "w4a32", "w4a8", "w4a8-naive")
BAR_DRIFT = 0.05  # meV/atom/ps for GAQ w4a8 at 0.5 fs (issue 6)


def aspirin_structure():
    from gaqmd.md import read_structure

    return read_structure(ROOT / "tests" / "data" / "rmd17" / "aspirin_1000.xyz")


def native_system(model_path: Path, structure):
    from gaqmd.md.simulate import build_system

    return build_system(model_path, structure, "native")


def run_mode(mode: str, model_path: Path, start, args) -> dict:
    from gaqmd.checks.conservation import StartState, nve_drift

    state = StartState(native_system(model_path, args.structure), start.positions, start.velocities)
    steps = int(round(args.ps * 1e3 / args.dt))
    report_every = max(1, int(round(args.report_fs / args.dt)))
    steps -= steps % report_every
    begin = time.perf_counter()
    result = nve_drift(state, args.dt, steps, report_every, platform="CPU", max_drift=BAR_DRIFT)
    seconds = time.perf_counter() - begin
    print(f"{mode:>11}: drift {result.drift:+.4f} ± {result.drift_stderr:.4f} meV/atom/ps, "
          f"rms {result.rms_fluctuation:.4f} meV/atom, {result.reason} ({seconds:.0f} s)", flush=True)
    return {"mode": mode, "model": str(model_path), "seconds": seconds, "ps_simulated": float(result.times[-1])
            if len(result.times) else 0.0, "drift": result.drift, "drift_stderr": result.drift_stderr,
            "rms_fluctuation": result.rms_fluctuation, "max_abs_change": result.max_abs_change,
            "conserved": result.conserved, "reason": result.reason,
            "times": np.round(result.times, 6).tolist(), "total_energy": np.round(result.total_energy, 6).tolist()}


def plot(rows: list[dict], path: Path) -> None:
    from gaqmd.plotting import plt, save_figure

    figure, axis = plt.subplots(figsize=(7, 4))
    for row in rows:
        energy = np.asarray(row["total_energy"])
        if len(energy):
            axis.plot(row["times"], 1e3 * (energy - energy[0]) / 21, label=row["mode"])
    axis.set_xlabel("time (ps)")
    axis.set_ylabel("E_total − E_total(0) (meV/atom)")
    axis.legend()
    save_figure(figure, path)


def markdown(rows: list[dict], args) -> str:
    lines = ["# NVE energy conservation of aspirin (OpenMM CPU platform)", "",
             f"Machine: {machine()}. Command: `python benchmarks/nve_drift.py --ps {args.ps:g} --dt {args.dt:g}`. "
             f"Equilibration: {args.equilibration_ps:g} ps Langevin at 300 K with the FP32 model; every mode starts "
             f"from that state. Bar (issue 6): GAQ w4a8 drift ≤ {BAR_DRIFT} meV/atom/ps at 0.5 fs over 1 ns.", "",
             "| mode | simulated (ps) | drift (meV/atom/ps) | RMS fluctuation (meV/atom) | verdict |",
             "|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['mode']} | {row['ps_simulated']:.1f} | {row['drift']:+.4f} ± "
                     f"{row['drift_stderr']:.4f} | {row['rms_fluctuation']:.4f} | {row['reason']} |")
    lines += ["", "![total energy](nve_drift.png)"]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ps", type=float, default=1000.0, help="NVE length per mode, ps")
    parser.add_argument("--dt", type=float, default=0.5, help="fs")
    parser.add_argument("--report-fs", type=float, default=10.0, help="energy sampling interval, fs")
    parser.add_argument("--equilibration-ps", type=float, default=2.0)
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--runs", type=Path, default=ROOT / "runs", help="directory with aspirin_<mode>/best.pt")
    parser.add_argument("--output", type=Path, default=DOCS)
    args = parser.parse_args(argv)
    import torch

    from gaqmd.checks.conservation import equilibrate

    torch.set_num_threads(1)
    args.structure = aspirin_structure()
    paths = {mode: args.runs / f"aspirin_{mode}" / "best.pt" for mode in args.modes}
    missing = [str(path) for path in paths.values() if not path.is_file()]
    if missing:
        parser.error(f"missing models (run benchmarks/gaq_rmd17.py first): {', '.join(missing)}")
    fp32_system = native_system(args.runs / "aspirin_fp32" / "best.pt", args.structure)
    start = equilibrate((fp32_system, args.structure.positions), 300.0, int(args.equilibration_ps * 2000), 0.5,
                        platform="CPU")
    rows = [run_mode(mode, paths[mode], start, args) for mode in args.modes]
    args.output.mkdir(parents=True, exist_ok=True)
    plot(rows, args.output / "nve_drift.png")
    (args.output / "nve_drift.json").write_text(json.dumps({"machine": machine(), "ps": args.ps, "dt_fs": args.dt,
                                                             "rows": rows}, separators=(",", ":")) + "\n")
    text = markdown(rows, args)
    (args.output / "nve_drift.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
