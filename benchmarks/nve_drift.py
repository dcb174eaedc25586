"""NVE energy conservation and stability of aspirin per quantization mode, on OpenMM's CPU platform.

One Langevin equilibration (300 K) with the FP32 model, saved to runs/nve_drift/start.npz and
reused by every later run; from that state, VerletIntegrator runs of --ps picoseconds at --dt fs
with each model, all on the native engine (GaqForce): fp32, w4a32, GAQ w4a8, naive w4a8, and
w4a8-12bit, the GAQ model with every int8 rounding at 12 bits over the same ranges (see
benchmarks/nve_ablation.py). Drift is the slope of a linear fit of the total energy
(meV/atom/ps) with its standard error; a blow-up (non-finite or > 1 eV/atom energy change) ends a
run, and so does a dissociation (a bond of the start structure beyond 1.5 x its covalent length,
checked on positions every ps); those positions are also compared with the FP32 run's bond and
angle distributions.

Each mode's result is saved as soon as it finishes (OUTPUT/nve_drift/<mode>.json, frames in
runs/nve_drift/), so modes can run in separate processes, one core each, and the report
(OUTPUT/nve_drift.{md,png}) is rewritten from whatever results exist.

    python benchmarks/nve_drift.py --ps 1000 --modes fp32 w4a8   # the 1 ns runs (~40 min per mode per core)
    python benchmarks/nve_drift.py --reuse                       # report from the saved results

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
from nve_ablation import with_finer_roundings  # noqa: E402
from rmd17_fp32 import machine  # noqa: E402

DOCS = ROOT / "docs" / "results"
FRAMES = ROOT / "runs" / "nve_drift"
MODES = ("fp32", "w4a32", "w4a8", "w4a8-naive", "w4a8-12bit")
BAR_DRIFT = 0.05  # meV/atom/ps for GAQ w4a8 at 0.5 fs (issue 6)
PLOT_POINTS = 2000  # energy samples kept per mode for the plot and the JSON


def aspirin_structure():
    from gaqmd.md import read_structure

    return read_structure(ROOT / "tests" / "data" / "rmd17" / "aspirin_1000.xyz")


def model_for(mode: str, runs: Path):
    """The checkpoint of a mode, or for w4a8-12bit the model description derived from the w4a8 one."""
    if mode != "w4a8-12bit":
        return runs / f"aspirin_{mode}" / "best.pt"
    from gaqmd.export.source import model_description

    return with_finer_roundings(model_description(runs / "aspirin_w4a8" / "best.pt"), 12)


def run_of(mode: str, runs: Path) -> Path:
    return runs / f"aspirin_{'w4a8' if mode == 'w4a8-12bit' else mode}"


def model_force_mae(mode: str, runs: Path) -> float | None:
    """Test force MAE (meV/Å) of the model a mode runs, from its run's metrics.json: which model a row is."""
    metrics = run_of(mode, runs) / "metrics.json"
    return json.loads(metrics.read_text())["test"]["force_mae"] if metrics.is_file() else None


def model_channels(mode: str, runs: Path) -> int:
    from gaqmd.model.io import load_model

    return load_model(run_of(mode, runs) / "best.pt")[0].config.channels


def start_state(structure, runs: Path, equilibration_ps: float):
    """The equilibrated FP32 state every mode starts from: loaded from FRAMES/start.npz, else made and saved."""
    from gaqmd.checks.conservation import StartState, equilibrate
    from gaqmd.md.simulate import build_system

    path = FRAMES / "start.npz"
    if path.is_file():
        saved = np.load(path)
        return StartState(None, saved["positions"], saved["velocities"])
    system = build_system(runs / "aspirin_fp32" / "best.pt", structure)
    start = equilibrate((system, structure.positions), 300.0, int(round(equilibration_ps * 2000)), 0.5,
                        platform="CPU")
    FRAMES.mkdir(parents=True, exist_ok=True)
    np.savez(path, positions=start.positions, velocities=start.velocities, equilibration_ps=equilibration_ps)
    return start


def thinned(values: np.ndarray) -> list[float]:
    step = max(1, int(np.ceil(len(values) / PLOT_POINTS)))
    return np.round(np.asarray(values)[::step], 6).tolist()


def dissociation(structure, start_positions: np.ndarray, factor: float = 1.5):
    """stop_when for nve_drift: why a frame (N, 3) Å has a bond of the start structure (positions nm)
    longer than factor x its covalent length (stability.detect_failure), or None. A dissociated
    molecule heats no further."""
    import mdtraj

    from gaqmd.checks.stability import as_trajectory, detect_failure

    bonded = as_trajectory(10.0 * start_positions[None], topology=structure.topology).topology

    def check(frame: np.ndarray) -> str | None:
        failure, _, reason, _ = detect_failure(mdtraj.Trajectory(frame[None] / 10.0, bonded),
                                               dissociation_factor=factor)
        return f"{failure}: {reason.removesuffix(' at frame 0')}" if failure else None

    return check


def run_mode(mode: str, start, structure, args) -> dict:
    from gaqmd.checks.conservation import StartState, nve_drift
    from gaqmd.checks.stability import stability_check
    from gaqmd.md.simulate import build_system

    system = build_system(model_for(mode, args.runs), structure)
    report_every = max(1, int(round(args.report_fs / args.dt)))
    frame_every = report_every * max(1, int(round(1000.0 / args.report_fs)))  # one frame per ps
    steps = int(round(args.ps * 1e3 / args.dt)) // frame_every * frame_every
    begin = time.perf_counter()
    result = nve_drift(StartState(system, start.positions, start.velocities), args.dt, steps, report_every,
                       platform="CPU", max_drift=BAR_DRIFT, frame_every=frame_every,
                       stop_when=dissociation(structure, start.positions), progress=True)
    seconds = time.perf_counter() - begin
    np.save(FRAMES / f"{mode}_frames.npy", result.frames.astype(np.float32))
    stability = stability_check(result.frames, topology=structure.topology)
    print(f"{mode:>11}: drift {result.drift:+.4f} ± {result.drift_stderr:.4f} meV/atom/ps, "
          f"rms {result.rms_fluctuation:.4f} meV/atom, {result.reason}; {stability.reason} ({seconds:.0f} s)",
          flush=True)
    return {"mode": mode, "model_force_mae": model_force_mae(mode, args.runs),
            "channels": model_channels(mode, args.runs), "seconds": seconds, "dt_fs": args.dt,
            "ps_requested": args.ps,
            "ps_simulated": float(result.times[-1]) if len(result.times) else 0.0,
            "drift": result.drift, "drift_stderr": result.drift_stderr, "rms_fluctuation": result.rms_fluctuation,
            "max_abs_change": result.max_abs_change, "conserved": result.conserved, "reason": result.reason,
            "stable": stability.stable, "stability": stability.reason,
            "times": thinned(result.times), "total_energy": thinned(result.total_energy)}


def distribution_distances(modes: list[str], structure) -> dict[str, str]:
    """mode -> largest bond and angle Wasserstein distance to the FP32 run's distributions (frames saved)."""
    from gaqmd.checks.stability import stability_check

    reference = FRAMES / "fp32_frames.npy"
    if not reference.is_file():
        return {}
    fp32 = np.load(reference).astype(np.float64)
    distances = {}
    for mode in modes:
        path = FRAMES / f"{mode}_frames.npy"
        if mode == "fp32" or not path.is_file():
            continue
        comparisons = stability_check(np.load(path).astype(np.float64), topology=structure.topology,
                                      reference=fp32).comparisons
        worst = {kind: max((c.wasserstein for c in comparisons if c.kind == kind), default=float("nan"))
                 for kind in ("bond", "angle")}
        distances[mode] = f"{worst['bond']:.4f} Å / {worst['angle']:.2f}°"
    return distances


def plot(rows: list[dict], path: Path) -> None:
    from gaqmd.plotting import plt, save_figure

    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    for row in rows:
        energy = np.asarray(row["total_energy"])
        if len(energy):
            change = 1e3 * (energy - energy[0]) / 21
            for axis in axes:
                axis.plot(row["times"], change, label=row["mode"], linewidth=0.8)
    axes[0].set_yscale("symlog", linthresh=0.1)
    axes[0].set_title("all modes (symmetric log scale)")
    axes[1].set_ylim(-0.5, 0.5)
    axes[1].set_title("zoom: ±0.5 meV/atom")
    for axis in axes:
        axis.set_xlabel("time (ps)")
        axis.set_ylabel("E_total − E_total(0) (meV/atom)")
    axes[1].legend()
    save_figure(figure, path)


def markdown(rows: list[dict], distances: dict[str, str], start_ps: float) -> str:
    lengths = sorted({row["ps_requested"] for row in rows})
    steps = sorted({row["dt_fs"] for row in rows})
    lines = ["# NVE energy conservation of aspirin (OpenMM CPU platform)", "",
             f"Machine: {rows[0]['machine']}. Command: `python benchmarks/nve_drift.py --ps "
             f"{' / '.join(f'{ps:g}' for ps in lengths)} --dt {' / '.join(f'{dt:g}' for dt in steps)} --modes ...` "
             "(one process per core), then `--reuse`. "
             f"Equilibration: {start_ps:g} ps Langevin at 300 K with the FP32 model; every mode starts from that "
             f"state. Bar (issue 6): GAQ w4a8 drift ≤ {BAR_DRIFT} meV/atom/ps at 0.5 fs and no blow-up over 1 ns. "
             "w4a8-12bit: the GAQ w4a8 model with every int8 rounding at 12 bits over the same ranges (not "
             "retrained). Bond/angle distance: the largest Wasserstein distance over bond and angle types to the "
             "FP32 run's distributions (frames every ps, up to any failure).", "",
             "Model: the test force MAE of the model file the row ran and its channel count C (rows without C: "
             "32-channel models). The equilibration ran with the 32-channel FP32 model of 2026-12-05 (25.92 meV/Å).",
             "",
             "| mode | model (meV/Å) | C | simulated (ps) | drift (meV/atom/ps) | RMS fluctuation (meV/atom) "
             "| max abs(ΔE) (meV/atom) | energy verdict | structure | bond / angle distance to FP32 |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        model = f"{row['model_force_mae']:.2f}" if row.get("model_force_mae") is not None else "—"
        lines.append(f"| {row['mode']} | {model} | {row.get('channels', '—')} "
                     f"| {row['ps_simulated']:.1f} | {row['drift']:+.3g} ± {row['drift_stderr']:.2g} "
                     f"| {row['rms_fluctuation']:.4f} | {row['max_abs_change']:.3g} | {row['reason']} "
                     f"| {row['stability']} | {distances.get(row['mode'], '—')} |")
    lines += ["", "![total energy](nve_drift.png)"]
    return "\n".join(lines) + "\n"


def write_report(output: Path, structure) -> str:
    saved = {path.stem: json.loads(path.read_text()) for path in (output / "nve_drift").glob("*.json")}
    rows = [saved[mode] for mode in MODES if mode in saved]
    if not rows:
        raise SystemExit(f"no saved results in {output / 'nve_drift'}")
    start = FRAMES / "start.npz"
    start_ps = float(np.load(start)["equilibration_ps"]) if start.is_file() else float("nan")
    plot(rows, output / "nve_drift.png")
    text = markdown(rows, distribution_distances([row["mode"] for row in rows], structure), start_ps)
    (output / "nve_drift.md").write_text(text)
    return text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ps", type=float, default=1000.0, help="NVE length per mode, ps")
    parser.add_argument("--dt", type=float, default=0.5, help="fs")
    parser.add_argument("--report-fs", type=float, default=10.0, help="energy sampling interval, fs")
    parser.add_argument("--equilibration-ps", type=float, default=2.0,
                        help="Langevin equilibration when runs/nve_drift/start.npz does not exist yet")
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--runs", type=Path, default=ROOT / "runs", help="directory with aspirin_<mode>/best.pt")
    parser.add_argument("--output", type=Path, default=DOCS)
    parser.add_argument("--reuse", action="store_true", help="only rewrite the report from the saved results")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    structure = aspirin_structure()
    if not args.reuse:
        needed = {"fp32"} | {"w4a8" if mode == "w4a8-12bit" else mode for mode in args.modes}
        missing = [str(args.runs / f"aspirin_{mode}" / "best.pt") for mode in sorted(needed)
                   if not (args.runs / f"aspirin_{mode}" / "best.pt").is_file()]
        if missing:
            parser.error(f"missing models (run benchmarks/gaq_rmd17.py first): {', '.join(missing)}")
        start = start_state(structure, args.runs, args.equilibration_ps)
        (args.output / "nve_drift").mkdir(parents=True, exist_ok=True)
        for mode in args.modes:
            row = {**run_mode(mode, start, structure, args), "machine": machine()}
            (args.output / "nve_drift" / f"{mode}.json").write_text(json.dumps(row, separators=(",", ":")) + "\n")
    print(write_report(args.output, structure))
    return 0


if __name__ == "__main__":
    sys.exit(main())
