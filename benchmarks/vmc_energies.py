"""VMC energies of small atoms and molecules against exact (non-relativistic, fixed-nucleus) energies.

For each system, `gaqmd.vmc.run_vmc` optimises the FermiNet-style ansatz (optional Hartree–Fock
pretraining with PySCF, then minSR or Adam) within a time limit on one CPU thread and evaluates
the energy with a blocked error bar. Writes docs/results/vmc_energies.{md,json} and one energy-trace
PNG per system under docs/results/vmc_energies/. Results of earlier runs of other systems are kept,
so systems can be run one at a time:

    OMP_NUM_THREADS=1 python benchmarks/vmc_energies.py --systems H2 He LiH     # the bars, ≤ 30 min each
    OMP_NUM_THREADS=1 python benchmarks/vmc_energies.py --systems Li Be         # reported, no bar
    OMP_NUM_THREADS=1 python benchmarks/vmc_energies.py --systems He --quick --output /tmp/vmc  # smoke test

The project's bars: H2 (R = 1.4 bohr), He and LiH (R = 3.015 bohr) within 1.6 mHa of exact with at
most 30 min of one CPU core each; Li and Be are reported as reached.
"""

import argparse
import json
import platform
import shlex
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]

from gaqmd.vmc.ansatz import AnsatzConfig
from gaqmd.vmc.systems import System, atom, hydrogen_molecule, lithium_hydride
from gaqmd.vmc.train import TrainConfig, VMCResult, run_vmc

DOCS = ROOT / "docs" / "results"
BAR_MHA = 1.6  # |E − E_exact| for H2, He, LiH
BUDGET_S = 1800.0  # one CPU core, per system


@dataclass(frozen=True)
class Case:
    """A system, its exact energy (Hartree) and source, whether the bar applies, and run settings."""

    system: System
    exact: float
    source: str
    bar: bool
    ansatz: AnsatzConfig = field(default_factory=AnsatzConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


def _train(**overrides) -> TrainConfig:
    defaults = {"steps": 100_000, "walkers": 256, "optimizer": "minsr", "learning_rate": 0.05, "lr_decay": 1000.0,
                "damping": 1e-3, "max_step": 0.1, "pretrain_steps": 500, "pretrain_basis": "cc-pvdz",
                "eval_steps": 2000, "burn_in": 200, "time_limit": 1500.0}
    return TrainConfig(**{**defaults, **overrides})


CASES = {
    "H2": Case(hydrogen_molecule(1.4), -1.174475, "Kołos & Wolniewicz; DESIGN §7", True, train=_train(time_limit=300.0)),
    "He": Case(atom("He"), -2.903724, "Pekeris; DESIGN §7", True, train=_train(time_limit=300.0)),
    "LiH": Case(lithium_hydride(3.015), -8.070548, "Cencek & Rychlewski; DESIGN §7", True, train=_train(walkers=512)),
    "Li": Case(atom("Li"), -7.478060, "Puchalski & Pachucki; DESIGN §7", False, train=_train(walkers=512, time_limit=1200.0)),
    "Be": Case(atom("Be"), -14.66736, "Komasa et al.; DESIGN §7", False, train=_train(walkers=512, time_limit=1200.0)),
}


def machine() -> dict:
    names = []
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if line.startswith("model name")]
    return {
        "cpu": names[0] if names else platform.processor() or "unknown CPU",
        "logical_cores": len(names) or None,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
    }


def measure(name: str, case: Case, quick: bool) -> tuple[dict, VMCResult]:
    train = case.train
    if quick:
        train = replace(train, steps=20, walkers=32, eval_steps=20, burn_in=20, pretrain_steps=min(train.pretrain_steps, 10),
                        pretrain_basis="sto-3g", time_limit=None)
    ansatz = AnsatzConfig(hidden_one=8, hidden_two=4, layers=1, determinants=1) if quick else case.ansatz
    wall, cpu = time.perf_counter(), time.process_time()
    result = run_vmc(case.system, ansatz, train, progress=sys.stderr.isatty())
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    difference = 1e3 * (result.energy - case.exact)
    stderr = 1e3 * result.stderr
    row = {
        "system": case.system.name,
        "electrons": [case.system.n_up, case.system.n_down],
        "energy_hartree": result.energy,
        "stderr_hartree": result.stderr,
        "exact_hartree": case.exact,
        "exact_source": case.source,
        "difference_mha": difference,
        "difference_stderr_mha": stderr,
        "bar_mha": BAR_MHA if case.bar else None,
        "bar_met": (abs(difference) <= BAR_MHA and cpu <= BUDGET_S) if case.bar else None,
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "optimisation_steps": len(result.trace),
        "evaluation_steps": len(result.evaluation),
        "variance_hartree2": result.variance,
        "acceptance": result.acceptance,
        "n_parameters": result.n_parameters,
        "pretrain_loss_first_last": [result.pretrain_losses[0], result.pretrain_losses[-1]] if result.pretrain_losses else None,
        "ansatz": asdict(ansatz),
        "train": asdict(train),
        "quick": quick,
    }
    return row, result


def plot(path: Path, name: str, case: Case, result: VMCResult) -> None:
    """Mean E_L per optimisation step, its running mean, the evaluated energy and the exact one."""
    from gaqmd.plotting import plt, save_figure

    trace = np.asarray(result.trace)
    figure, (full, zoom) = plt.subplots(1, 2, figsize=(10, 3.8))
    steps = np.arange(1, len(trace) + 1)
    window = max(1, len(trace) // 50)
    smooth = np.convolve(trace, np.ones(window) / window, mode="valid") if len(trace) else trace
    for axis in (full, zoom):
        axis.plot(steps, trace, lw=0.4, alpha=0.4, label="mean $E_L$ per step")
        axis.plot(steps[window - 1 :], smooth, lw=1.4, label=f"running mean ({window} steps)")
        axis.axhline(case.exact, color="k", ls="--", lw=1, label=f"exact {case.exact:.6f} Ha")
        axis.axhline(result.energy, color="C3", lw=1, label=f"VMC {result.energy:.6f} ± {result.stderr:.6f} Ha")
        axis.set_xlabel("optimisation step")
    full.set_ylabel("energy (Hartree)")
    if len(trace):
        full.set_ylim(case.exact - 0.05, max(np.percentile(trace, 99), case.exact + 0.1))
    zoom.axhspan(case.exact - BAR_MHA / 1e3, case.exact + BAR_MHA / 1e3, color="0.85", label="exact ± 1.6 mHa")
    zoom.set_ylim(case.exact - 0.005, case.exact + 0.02)
    zoom.set_xlim(len(trace) // 5, len(trace) + 1)
    zoom.legend(fontsize=7)
    full.set_title(f"VMC: {case.system.name}")
    zoom.set_title("last 80 % (zoom)")
    save_figure(figure, path)


def report(results: dict) -> str:
    m = results["machine"]
    lines = [
        "# VMC energies against exact energies",
        "",
        "Generated by `benchmarks/vmc_energies.py`; do not edit by hand.",
        "",
        (
            f"Machine: {m['cpu']} ({m['logical_cores']} logical cores, shared with other jobs), "
            f"{m['torch_threads']} torch thread; Python {m['python']}, torch {m['torch']}."
        ),
        (
            "Energies in Hartree, differences in mHa (VMC − exact ± the blocked standard error of the VMC "
            f"energy). Bar for H2, He and LiH: |difference| ≤ {BAR_MHA} mHa within {BUDGET_S / 60:.0f} min of one "
            "CPU core; Li and Be have no bar. Times include the Hartree–Fock pretraining and the evaluation."
        ),
        "",
        (
            "| system | e⁻ (↑, ↓) | E_VMC (Ha) | exact (Ha) | VMC − exact (mHa) | bar | CPU time (min) | wall (min) "
            "| steps | Var E_L (Ha²) | parameters | command |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, row in results["systems"].items():
        bar = "–" if row["bar_mha"] is None else ("met" if row["bar_met"] else "NOT met")
        up, down = row["electrons"]
        lines.append(
            f"| {row['system']} | {up + down} ({up}, {down}) | {row['energy_hartree']:.6f} ± {row['stderr_hartree']:.6f} "
            f"| {row['exact_hartree']:.6f} | {row['difference_mha']:+.3f} ± {row['difference_stderr_mha']:.3f} | {bar} "
            f"| {row['cpu_seconds'] / 60:.1f} | {row['wall_seconds'] / 60:.1f} | {row['optimisation_steps']} "
            f"| {row['variance_hartree2']:.4f} | {row['n_parameters']} | `{row['command']}` |"
        )
    lines += ["", "Energy traces (mean local energy per optimisation step; right: zoom on the end with exact ± 1.6 mHa):", ""]
    for name in results["systems"]:
        lines.append(f"![{name}](vmc_energies/{name}_trace.png)")
    lines += ["", "Settings per system:", ""]
    for name, row in results["systems"].items():
        a, t = row["ansatz"], row["train"]
        pretrain = (f"HF pretraining {t['pretrain_steps']} steps ({t['pretrain_basis']})" if t["pretrain_steps"]
                    else "no pretraining")
        lines.append(
            f"- {name}: FermiNet-style ansatz {a['hidden_one']}/{a['hidden_two']} features, {a['layers']} layers, "
            f"{a['determinants']} determinants, Jastrow {'on' if a['jastrow'] else 'off'}; {pretrain}; "
            f"{t['optimizer']} (lr {t['learning_rate']} / (1 + t/{t['lr_decay']:g}), damping {t['damping']}, "
            f"max step {t['max_step']}), {t['walkers']} walkers, {t['mcmc_steps']} moves per step, optimisation "
            f"stopped after {t['time_limit']} s or {t['steps']} steps; evaluation {t['eval_steps']} samples of all "
            "walkers, blocked error."
        )
    lines += [
        "",
        (
            "Exact energies: DESIGN §7 (H2: Kołos & Wolniewicz; He: Pekeris; LiH: Cencek & Rychlewski; "
            "Li: Puchalski & Pachucki; Be: Komasa et al.), non-relativistic with fixed point nuclei."
        ),
    ]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--systems", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--time-limit", type=float, default=None,
                        help="seconds of optimisation per system (default: per system, 300 s or 1500 s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="tiny settings, for a smoke test")
    parser.add_argument("--output", type=Path, default=DOCS, help="directory for the .md, .json and PNGs")
    parser.add_argument("--report-only", action="store_true", help="rewrite the .md from the .json, run nothing")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    command = "python benchmarks/vmc_energies.py " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "vmc_energies").mkdir(exist_ok=True)
    json_path = args.output / "vmc_energies.json"
    results = json.loads(json_path.read_text()) if json_path.exists() else {"systems": {}}
    if args.report_only:
        (args.output / "vmc_energies.md").write_text(report(results))
        return 0
    for name in args.systems:
        case = CASES[name]
        overrides = {"seed": args.seed}
        if args.time_limit is not None:
            overrides["time_limit"] = args.time_limit
        case = replace(case, train=replace(case.train, **overrides))
        row, result = measure(name, case, args.quick)
        row["command"] = command.strip()
        row["machine"] = machine()
        results["machine"] = row["machine"]
        results["systems"][name] = row
        results["systems"] = {key: results["systems"][key] for key in CASES if key in results["systems"]}
        plot(args.output / "vmc_energies" / f"{name}_trace.png", name, case, result)
        json_path.write_text(json.dumps(results, indent=2) + "\n")
        (args.output / "vmc_energies.md").write_text(report(results))
        print(f"{name}: E = {row['energy_hartree']:.6f} ± {row['stderr_hartree']:.6f} Ha, exact {case.exact:.6f}, "
              f"difference {row['difference_mha']:+.2f} ± {row['difference_stderr_mha']:.2f} mHa, "
              f"{row['cpu_seconds']:.0f} s CPU, {row['wall_seconds']:.0f} s wall", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
