"""Energy and force parity of a model against a reference model, frame by frame along a trajectory.

Models are EnergyForces callables (gaqmd.checks.equivariance): positions (N, 3) Å, numbers (N,) ->
(energy eV, forces (N, 3) eV/Å), e.g. model_energy_forces(model) for an FP32 or quantized potential
against its FP64 original, or a wrapped DFT/ASE calculator.

Per frame: energy error E_model - E_reference (meV), force MAE over atoms and Cartesian components
(meV/Å), max force error = largest per-atom |F_model - F_reference| vector norm (meV/Å), and the mean
over atoms of the cosine similarity F_model . F_reference / (|F_model| |F_reference|) (1 when both
forces are zero, 0 when just one is).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from gaqmd.checks.equivariance import EnergyForces


@dataclass(frozen=True)
class ParityResult:
    """Per-frame arrays (n_frames,) and their summary; energies meV, forces meV/Å.

    energy_mae / energy_rmse / max_energy_error: over frames of the energy error; energy_bias: its mean
    (a constant offset, e.g. different reference energies), energy_error_std: its spread about the bias.
    force_mae: over all frames, atoms and components; max_force_error: over all frames and atoms.
    """

    n_frames: int
    n_atoms: int
    energy_mae: float
    energy_rmse: float
    max_energy_error: float
    energy_bias: float
    energy_error_std: float
    force_mae: float
    max_force_error: float
    mean_cosine: float
    min_cosine: float
    energy_error: np.ndarray = field(repr=False, compare=False)
    frame_force_mae: np.ndarray = field(repr=False, compare=False)
    frame_max_force_error: np.ndarray = field(repr=False, compare=False)
    frame_cosine: np.ndarray = field(repr=False, compare=False)


def cosine_similarity(forces: np.ndarray, reference: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """(N,) per-atom cosine of the angle between force vectors (N, 3); see the module docstring for zeros."""
    norms, reference_norms = np.linalg.norm(forces, axis=1), np.linalg.norm(reference, axis=1)
    dot = (forces * reference).sum(axis=1)
    both_zero = (norms <= eps) & (reference_norms <= eps)
    with np.errstate(invalid="ignore", divide="ignore"):
        cosine = np.where(norms * reference_norms > 0, dot / (norms * reference_norms), 0.0)
    return np.where(both_zero, 1.0, np.clip(cosine, -1.0, 1.0))


def energy_force_parity(model: EnergyForces, reference: EnergyForces, frames: np.ndarray | Sequence[np.ndarray],
                        numbers: np.ndarray) -> ParityResult:
    """Evaluate both models on every frame: frames (F, N, 3) Å, or a sequence of (N, 3) arrays or of
    gaqmd.data.Frame; numbers (N,)."""
    frames = np.asarray([getattr(frame, "positions", frame) for frame in frames], dtype=np.float64)
    frames = frames.reshape(-1, len(numbers), 3)
    energy_error, force_mae, max_force, cosine = [], [], [], []
    for positions in frames:
        energy, forces = model(positions, numbers)
        energy_ref, forces_ref = reference(positions, numbers)
        difference = np.asarray(forces, dtype=np.float64) - np.asarray(forces_ref, dtype=np.float64)
        energy_error.append(1e3 * (energy - energy_ref))
        force_mae.append(1e3 * np.abs(difference).mean())
        max_force.append(1e3 * np.linalg.norm(difference, axis=1).max())
        cosine.append(cosine_similarity(np.asarray(forces), np.asarray(forces_ref)).mean())
    return parity_from_errors(np.array(energy_error), np.array(force_mae), np.array(max_force), np.array(cosine),
                              len(numbers))


def parity_from_errors(energy_error: np.ndarray, force_mae: np.ndarray, max_force_error: np.ndarray,
                       cosine: np.ndarray, n_atoms: int) -> ParityResult:
    """Summarise per-frame errors (n_frames,): energy error meV, force MAE and max error meV/Å, mean cosine."""
    if len(energy_error) == 0:
        raise ValueError("parity needs at least one frame")
    return ParityResult(
        n_frames=len(energy_error),
        n_atoms=n_atoms,
        energy_mae=float(np.abs(energy_error).mean()),
        energy_rmse=float(np.sqrt((energy_error**2).mean())),
        max_energy_error=float(np.abs(energy_error).max()),
        energy_bias=float(energy_error.mean()),
        energy_error_std=float(energy_error.std()),
        # equal atom counts per frame, so the mean of per-frame MAEs is the MAE over all components
        force_mae=float(force_mae.mean()),
        max_force_error=float(max_force_error.max()),
        mean_cosine=float(cosine.mean()),
        min_cosine=float(cosine.min()),
        energy_error=energy_error,
        frame_force_mae=force_mae,
        frame_max_force_error=max_force_error,
        frame_cosine=cosine,
    )


def parity_rows(result: ParityResult) -> list[tuple[str, str, str]]:
    """(quantity, value, unit) rows of the summary, shared by the text and markdown tables."""
    r = result
    return [
        ("frames x atoms", f"{r.n_frames} x {r.n_atoms}", ""),
        ("energy MAE", f"{r.energy_mae:.4g}", "meV"),
        ("energy RMSE", f"{r.energy_rmse:.4g}", "meV"),
        ("max |energy error|", f"{r.max_energy_error:.4g}", "meV"),
        ("energy bias (mean error)", f"{r.energy_bias:+.4g}", "meV"),
        ("energy error std", f"{r.energy_error_std:.4g}", "meV"),
        ("energy MAE per atom", f"{r.energy_mae / r.n_atoms:.4g}", "meV/atom"),
        ("force MAE", f"{r.force_mae:.4g}", "meV/Å"),
        ("max force error (per-atom norm)", f"{r.max_force_error:.4g}", "meV/Å"),
        ("mean force cosine", f"{r.mean_cosine:.6f}", ""),
        ("1 - mean force cosine", f"{1.0 - r.mean_cosine:.3g}", ""),
        ("min over frames of the mean cosine", f"{r.min_cosine:.6f}", ""),
    ]


def format_parity(result: ParityResult) -> str:
    """Plain-text summary table."""
    rows = parity_rows(result)
    width = max(len(name) for name, _, _ in rows)
    return "\n".join(f"{name:<{width}}  {value:>14} {unit}".rstrip() for name, value, unit in rows)
