"""PNG figures of the MD checks: NVE energy and drift vs time step, bond/angle distributions, parity."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.ticker
import numpy as np

from gaqmd.checks.conservation import ConservationResult
from gaqmd.checks.parity import ParityResult
from gaqmd.checks.stability import StabilityResult
from gaqmd.plotting import plt, save_figure


def _runs(results: ConservationResult | Sequence[ConservationResult]) -> list[ConservationResult]:
    return [results] if isinstance(results, ConservationResult) else list(results)


def plot_energy(results: ConservationResult | Sequence[ConservationResult], path: Path) -> Path:
    """E_total(t) - E_total(0) in meV/atom for each run, with its least-squares line (dashed)."""
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for r in _runs(results):
        per_atom = 1e3 / r.n_atoms
        (line,) = ax.plot(r.times, (r.total_energy - r.total_energy[0]) * per_atom, lw=0.8,
                          label=f"dt = {r.dt_fs:g} fs" + ("" if r.conserved else " (not conserved)"))
        if np.isfinite(r.drift):
            fit = (r.intercept - r.total_energy[0]) * per_atom + r.drift * r.times
            ax.plot(r.times, fit, "--", color=line.get_color(), lw=1.2,
                    label=f"fit: {r.drift:+.3g} ± {r.drift_stderr:.2g} meV/atom/ps")
    ax.set(xlabel="time (ps)", ylabel="E_total - E_total(0) (meV/atom)", title="NVE total energy (Verlet)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


def plot_drift_vs_dt(results: Sequence[ConservationResult], path: Path) -> Path:
    """|drift| (± standard error) and RMS fluctuation vs time step, log-log with a dt^2 guide."""
    runs = sorted(_runs(results), key=lambda r: r.dt_fs)
    dts = np.array([r.dt_fs for r in runs])
    fig, axes = plt.subplots(1, 2, figsize=(9.0, 3.8))
    axes[0].errorbar(dts, [abs(r.drift) for r in runs], yerr=[r.drift_stderr for r in runs], fmt="o-", capsize=3)
    axes[0].axhline(runs[0].max_drift, color="tab:red", ls="--", lw=0.8, label="threshold")
    axes[0].set(ylabel="|drift| (meV/atom/ps)", title="energy drift")
    axes[0].legend(fontsize=8)
    rms = np.array([r.rms_fluctuation for r in runs])
    axes[1].plot(dts, rms, "o-", label="RMS about the fit")
    if len(runs) > 1 and np.isfinite(rms[0]) and rms[0] > 0:
        axes[1].plot(dts, rms[0] * (dts / dts[0]) ** 2, ":", color="gray", label="∝ dt² (Verlet)")
    axes[1].set(ylabel="RMS fluctuation (meV/atom)", title="energy fluctuation")
    axes[1].legend(fontsize=8)
    for ax in axes:
        ax.set(xlabel="time step (fs)", xscale="log", yscale="log")
        ax.set_xticks(dts, [f"{dt:g}" for dt in dts])
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.grid(alpha=0.3, which="both")
    return save_figure(fig, path)


def plot_distributions(result: StabilityResult, path: Path, max_panels: int = 12) -> Path:
    """Histograms of each bond/angle type (up to max_panels, bonds first), trajectory vs reference."""
    keys = sorted(result.distributions, key=lambda key: (key[0] != "bond", key[1]))[:max_panels]
    distances = {(c.kind, c.label): c.wasserstein for c in result.comparisons}
    columns = min(4, max(1, len(keys)))
    rows = max(1, -(-len(keys) // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 2.6 * rows), squeeze=False)
    for ax in axes.ravel()[len(keys):]:
        ax.set_visible(False)
    for ax, key in zip(axes.ravel(), keys):
        samples, reference = result.distributions[key], result.reference_distributions.get(key)
        both = samples if reference is None else np.concatenate([samples, reference])
        edges = np.linspace(both.min(), both.max() + 1e-9, 41)
        ax.hist(samples, edges, density=True, histtype="step", lw=1.2, label="trajectory")
        if reference is not None:
            ax.hist(reference, edges, density=True, histtype="step", lw=1.2, label="reference")
        unit = "Å" if key[0] == "bond" else "deg"
        title = f"{key[1]} {key[0]}"
        if key in distances:
            title += f"\nW1 = {distances[key]:.3g} {unit}"
        ax.set_title(title, fontsize=9)
        ax.set_xlabel(unit, fontsize=8)
        ax.set_yticks([])
    axes[0, 0].legend(fontsize=7)
    return save_figure(fig, path)


def plot_bond_stretch(result: StabilityResult, path: Path) -> Path:
    """Longest bond / covalent length per frame, the dissociation threshold and the first failed frame."""
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    ax.plot(np.arange(result.n_frames), result.max_bond_ratio, lw=0.8)
    ax.axhline(result.dissociation_factor, color="tab:red", ls="--", label="dissociation threshold")
    if result.first_failed_frame is not None:
        ax.axvline(result.first_failed_frame, color="k", ls=":", label=f"{result.failure} at frame "
                                                                       f"{result.first_failed_frame}")
    ax.set(xlabel="frame", ylabel="longest bond / covalent length", title="bond stretch")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


def plot_parity(result: ParityResult, path: Path) -> Path:
    """Per-frame energy error, force MAE and max force error, and mean force cosine."""
    frames = np.arange(result.n_frames)
    fig, axes = plt.subplots(3, 1, figsize=(6.4, 6.4), sharex=True)
    axes[0].plot(frames, result.energy_error, lw=0.8)
    axes[0].axhline(0, color="k", lw=0.6)
    axes[0].set(ylabel="ΔE (meV)", title=f"model - reference, {result.n_atoms} atoms")
    axes[1].plot(frames, result.frame_force_mae, lw=0.8, label="MAE")
    axes[1].plot(frames, result.frame_max_force_error, lw=0.8, label="max |ΔF|")
    axes[1].set(ylabel="force error (meV/Å)")
    axes[1].legend(fontsize=8)
    axes[2].plot(frames, 1.0 - result.frame_cosine, lw=0.8)
    axes[2].set(ylabel="1 - mean cosine", xlabel="frame")
    for ax in axes:
        ax.grid(alpha=0.3)
    return save_figure(fig, path)
