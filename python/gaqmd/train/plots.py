"""Learning-curve and parity plots (PNG)."""

from pathlib import Path
from typing import Sequence

import numpy as np

from gaqmd.plotting import plt, save_figure
from gaqmd.train.metrics import ErrorMetrics, Predictions


def plot_learning_curve(history: Sequence[dict], path: Path) -> None:
    """history rows carry epoch, train_loss, val_energy_mae (meV), val_force_mae (meV/Å), lr."""
    epochs = [row["epoch"] for row in history]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    axes[0].semilogy(epochs, [row["train_loss"] for row in history])
    axes[0].set(xlabel="epoch", ylabel="training loss")
    axes[1].semilogy(epochs, [row["val_force_mae"] for row in history], label="forces (meV/Å)")
    axes[1].semilogy(epochs, [row["val_energy_mae"] for row in history], label="energy (meV)")
    axes[1].set(xlabel="epoch", ylabel="validation MAE (EMA weights)")
    axes[1].legend()
    axes[2].semilogy(epochs, [row["lr"] for row in history])
    axes[2].set(xlabel="epoch", ylabel="learning rate")
    for ax in axes:
        ax.grid(alpha=0.3)
    save_figure(fig, path)


def _parity(ax, true: np.ndarray, pred: np.ndarray, label: str, unit: str, mae: float) -> None:
    ax.scatter(true, pred, s=3, alpha=0.5)
    lo, hi = float(min(true.min(), pred.min())), float(max(true.max(), pred.max()))
    ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
    ax.set(xlabel=f"reference {label} ({unit})", ylabel=f"model {label} ({unit})")
    ax.set_title(f"{label}: MAE {mae:.2f} m{unit}")


def plot_parity(predictions: Predictions, metrics: ErrorMetrics, path_prefix: Path) -> list[Path]:
    """Writes <prefix>_energy.png (energies shifted by their reference mean) and <prefix>_forces.png."""
    offset = predictions.energy_true.mean()
    paths = []
    for name, true, pred, unit, mae in (
        ("energy", predictions.energy_true - offset, predictions.energy_pred - offset, "eV", metrics.energy_mae),
        ("forces", predictions.forces_true.ravel(), predictions.forces_pred.ravel(), "eV/Å", metrics.force_mae),
    ):
        fig, ax = plt.subplots(figsize=(4.2, 4))
        _parity(ax, true, pred, name, unit, mae)
        paths.append(save_figure(fig, Path(f"{path_prefix}_{name}.png")))
    return paths
