"""PNG figures of an irrep analysis: norm shares, ablations, per-l embedding maps."""

from pathlib import Path

import numpy as np
from ase.data import chemical_symbols

from gaqmd.analysis.embeddings import EmbeddingProjections
from gaqmd.analysis.irreps import IrrepsAnalysis
from gaqmd.plotting import plt, save_figure


def plot_norm_shares(a: IrrepsAnalysis, path: Path) -> Path:
    """Grouped bars: for each layer, the share of each l in the squared feature norm."""
    shares = np.array(a.shares.shares)  # (layers, degrees)
    layers = np.arange(len(shares))
    width = 0.8 / shares.shape[1]
    fig, ax = plt.subplots(figsize=(max(4.8, 1.6 + 1.2 * len(layers)), 3.8))
    for i, l in enumerate(a.shares.degrees):
        bars = ax.bar(layers + (i - (shares.shape[1] - 1) / 2) * width, shares[:, i], width, label=f"l={l}")
        ax.bar_label(bars, fmt="%.3f", fontsize=7)
    ax.set(xticks=layers, xlabel="interaction layer (output)", ylabel="share of squared feature norm", ylim=(0, 1.08))
    ax.set_title(f"Squared feature norm per degree l\n{a.n_frames} frames, {a.n_atoms} atoms", fontsize=10)
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    return save_figure(fig, path)


def plot_ablation(a: IrrepsAnalysis, path: Path) -> Path:
    """Change of energy and force MAE per ablation; symlog axis, as l = 0 ablations dwarf the rest."""
    rows = a.ablation.rows
    num_layers = len(a.irreps)
    where = ["all" if len(row.layers) == num_layers else f"layer {row.layers[0]}" for row in rows]
    labels = [f"{row.label}\n{layers}" for row, layers in zip(rows, where)]
    fig, axes = plt.subplots(1, 2, figsize=(2.5 + 1.1 * len(rows), 3.8))
    changes = (
        ("energy MAE change (meV)", [row.energy_mae_change for row in rows], a.ablation.baseline.energy_mae, "meV"),
        ("force MAE change (meV/Å)", [row.force_mae_change for row in rows], a.ablation.baseline.force_mae, "meV/Å"),
    )
    for ax, (label, values, baseline, unit) in zip(axes, changes):
        ax.bar(np.arange(len(rows)), values, color=["tab:red" if v > 0 else "tab:green" for v in values])
        ax.set_yscale("symlog", linthresh=max(1e-3, 0.01 * baseline))
        ax.set(xticks=np.arange(len(rows)), ylabel=label)
        ax.set_xticklabels(labels, fontsize=8)
        ax.set_title(f"unmodified MAE {baseline:.2f} {unit}", fontsize=10)
        ax.axhline(0, color="k", lw=0.8)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle("Zeroing degree l at inference")
    return save_figure(fig, path)


def plot_embeddings(e: EmbeddingProjections, path: Path) -> Path:
    """Grid of 2-D maps, rows = layers, columns = l, atoms coloured by element."""
    layers = sorted({p.layer for p in e.panels})
    degrees = sorted({p.degree for p in e.panels})
    fig, axes = plt.subplots(len(layers), len(degrees), figsize=(3.4 * len(degrees), 3.0 * len(layers)), squeeze=False)
    elements = sorted(set(e.numbers.tolist()))
    colors = {z: plt.get_cmap("tab10")(i % 10) for i, z in enumerate(elements)}
    for ax in axes.ravel():
        ax.set_visible(False)
    for panel in e.panels:
        ax = axes[layers.index(panel.layer), degrees.index(panel.degree)]
        ax.set_visible(True)
        for z in elements:
            points = panel.coords[e.numbers == z]
            ax.scatter(points[:, 0], points[:, 1], s=4, alpha=0.6, color=colors[z], label=chemical_symbols[z])
        what = "scalars" if panel.degree == 0 else "channel norms"
        ax.set_title(f"layer {panel.layer}, l={panel.degree} ({what})", fontsize=9)
        ax.set(xticks=[], yticks=[], xlabel=f"{e.method} 1", ylabel=f"{e.method} 2")
    axes[0, 0].legend(markerscale=3, fontsize=8)
    fig.suptitle(f"Per-l invariant atom embeddings, {e.method} projection")
    return save_figure(fig, path)
