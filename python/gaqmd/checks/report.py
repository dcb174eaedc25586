"""A markdown report (with PNGs) of whichever MD checks were run, written to be attached to a paper:
each section states the verdict, the numbers, and the method with its thresholds."""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import gaqmd
from gaqmd.checks.conservation import ConservationResult
from gaqmd.checks.equivariance import EquivarianceResult
from gaqmd.checks.parity import ParityResult, parity_rows
from gaqmd.checks.stability import StabilityResult

_PACKAGES = ("openmm", "mdtraj", "torch", "numpy", "scipy")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    return [line(header), "|" + "|".join("---" for _ in header) + "|", *(line(row) for row in rows), ""]


def _versions() -> str:
    found = [f"gaqmd {gaqmd.__version__}"]
    for name in _PACKAGES:
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            pass
    return ", ".join(found)


def _conservation(runs: list[ConservationResult], figures: dict[str, str]) -> list[str]:
    first = runs[0]
    lines = ["## Energy conservation (NVE)", ""]
    rows = [[f"{r.dt_fs:g}", str(r.steps), f"{r.times[-1] if len(r.times) else 0:.3g}",
             f"{r.drift:+.4f} ± {r.drift_stderr:.4f}", f"{r.rms_fluctuation:.4f}", f"{r.max_abs_change:.4f}",
             "conserved" if r.conserved else f"**not conserved**: {r.reason}"] for r in runs]
    lines += _table(["dt (fs)", "steps", "time (ps)", "drift (meV/atom/ps)", "RMS (meV/atom)",
                     "max |ΔE| (meV/atom)", "verdict"], rows)
    lines += [(f"Method: OpenMM VerletIntegrator ({first.platform} platform), {first.n_atoms} atoms, from one "
               "starting state per run. Drift: slope of a least-squares line through the total energy vs time; its "
               "standard error is the ordinary one times the square root of the statistical inefficiency of the "
               "residuals (correlated samples). RMS: fluctuation about the line. A run is not conserved when "
               f"|drift| > {first.max_drift:g} meV/atom/ps and > {first.n_sigma:g} standard errors, or when it "
               "blows up."), ""]
    return lines + [f"![{name}]({file})" for name, file in figures.items()] + [""]


def _stability(result: StabilityResult, figures: dict[str, str]) -> list[str]:
    verdict = "stable" if result.stable else f"**{result.failure} at frame {result.first_failed_frame}**"
    summary = f"{result.n_frames} frames, {result.n_atoms} atoms, {len(result.bonds)} bonds: {verdict}"
    lines = ["## Structural stability", "", f"{summary} ({result.reason}).", ""]
    if result.comparisons:
        rows = [[c.kind, c.label, str(c.n_samples), f"{c.mean:.4g} ± {c.std:.3g}",
                 f"{c.reference_mean:.4g} ± {c.reference_std:.3g}", f"{c.wasserstein:.3g} {c.unit}",
                 f"{c.jensen_shannon:.3f}"] for c in result.comparisons]
        lines += _table(["kind", "type", "samples", "trajectory (mean ± std)", "reference (mean ± std)",
                         "Wasserstein-1", "Jensen-Shannon"], rows)
    lines += [("Method: bonds from the topology, else from the first frame (distance < "
               f"{result.bond_scale:g} × sum of covalent radii); "
               f"dissociation: a bond longer than {result.dissociation_factor:g} × its covalent length; blow-up: "
               "non-finite or exploding positions or energies. Distributions pool each bond/angle type over the "
               "frames before any failure; Wasserstein-1 is computed exactly from the samples (a shift by d gives d), "
               "Jensen-Shannon (base 2, 0..1) from histograms on shared bins."), ""]
    return lines + [f"![{name}]({file})" for name, file in figures.items()] + [""]


def _parity(result: ParityResult, figures: dict[str, str]) -> list[str]:
    lines = ["## Energy and force parity", ""]
    lines += _table(["quantity", "value", "unit"], parity_rows(result))
    lines += [("Method: both models evaluated on every frame; errors are model - reference; force MAE over atoms and "
               "components, max force error the largest per-atom error vector norm, cosine per atom between the "
               "force vectors, averaged over atoms."), ""]
    return lines + [f"![{name}]({file})" for name, file in figures.items()] + [""]


def _equivariance(result: EquivarianceResult) -> list[str]:
    return ["## Rotational equivariance", "",
            *_table(["quantity", "value", "unit"],
                    [["local equivariance error (LEE)", f"{result.lee:.4g}", "meV/Å"],
                     ["energy invariance error", f"{result.energy_invariance:.4g}", "meV"],
                     ["frames x rotations", f"{result.n_frames} x {result.n_rotations}", ""]]),
            "Method: forces of randomly rotated frames compared with the rotated forces (RMS over atoms).", ""]


def _summary(runs, stability, parity, equivariance) -> list[str]:
    rows = []
    if runs:
        bad = [f"{r.dt_fs:g} fs" for r in runs if not r.conserved]
        rows.append(["energy conservation", "FAIL at " + ", ".join(bad) if bad else "pass"])
    if stability is not None:
        rows.append(["stability", "pass" if stability.stable else f"FAIL: {stability.failure} at frame "
                                                                  f"{stability.first_failed_frame}"])
    if parity is not None:
        rows.append(["parity", f"force MAE {parity.force_mae:.3g} meV/Å, energy MAE {parity.energy_mae:.3g} meV"])
    if equivariance is not None:
        rows.append(["equivariance", f"LEE {equivariance.lee:.3g} meV/Å"])
    return _table(["check", "result"], rows) if rows else ["No checks were given.", ""]


def format_report(*, conservation: ConservationResult | Sequence[ConservationResult] | None = None,
                  stability: StabilityResult | None = None, parity: ParityResult | None = None,
                  equivariance: EquivarianceResult | None = None, title: str = "MD checks", notes: str = "",
                  figures: dict[str, dict[str, str]] | None = None) -> str:
    """Markdown of the given results; figures: section ("conservation", "stability", "parity") -> caption -> file."""
    runs = [conservation] if isinstance(conservation, ConservationResult) else list(conservation or [])
    figures = figures or {}
    lines = [f"# {title}", "", *([notes, ""] if notes else []), f"Software: {_versions()}.", ""]
    lines += _summary(runs, stability, parity, equivariance)
    if runs:
        lines += _conservation(runs, figures.get("conservation", {}))
    if stability is not None:
        lines += _stability(stability, figures.get("stability", {}))
    if parity is not None:
        lines += _parity(parity, figures.get("parity", {}))
    if equivariance is not None:
        lines += _equivariance(equivariance)
    return "\n".join(lines).rstrip() + "\n"


def write_report(directory: Path, *, conservation: ConservationResult | Sequence[ConservationResult] | None = None,
                 stability: StabilityResult | None = None, parity: ParityResult | None = None,
                 equivariance: EquivarianceResult | None = None, title: str = "MD checks",
                 notes: str = "") -> list[Path]:
    """Writes report.md and the PNGs of the given results into directory; returns the paths written."""
    from gaqmd.checks import plots

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    runs = [conservation] if isinstance(conservation, ConservationResult) else list(conservation or [])
    figures: dict[str, dict[str, str]] = {}
    paths: list[Path] = []

    def add(section: str, caption: str, plot, result, name: str) -> None:
        paths.append(plot(result, directory / name))
        figures.setdefault(section, {})[caption] = name

    if runs:
        add("conservation", "NVE total energy", plots.plot_energy, runs, "nve_energy.png")
        if len(runs) > 1:
            add("conservation", "drift vs time step", plots.plot_drift_vs_dt, runs, "nve_drift_vs_dt.png")
    if stability is not None:
        add("stability", "bond stretch", plots.plot_bond_stretch, stability, "bond_stretch.png")
        if stability.distributions:
            add("stability", "bond and angle distributions", plots.plot_distributions, stability,
                "distributions.png")
    if parity is not None:
        add("parity", "per-frame errors", plots.plot_parity, parity, "parity.png")
    report = directory / "report.md"
    report.write_text(format_report(conservation=runs or None, stability=stability, parity=parity,
                                    equivariance=equivariance, title=title, notes=notes, figures=figures))
    return [report, *paths]
