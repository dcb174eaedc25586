"""Energy and force errors of a model on a set of graphs."""

from dataclasses import dataclass

import numpy as np
import torch

from gaqmd.model.potential import energy_and_forces


@dataclass(frozen=True)
class Predictions:
    """Reference and predicted labels, eV and eV/Å: energies (F,), forces (sum of atoms, 3)."""

    energy_true: np.ndarray
    energy_pred: np.ndarray
    forces_true: np.ndarray
    forces_pred: np.ndarray


@dataclass(frozen=True)
class ErrorMetrics:
    """Errors in meV (energy per frame) and meV/Å (force components)."""

    n_frames: int
    energy_mae: float
    energy_rmse: float
    force_mae: float
    force_rmse: float

    @classmethod
    def from_predictions(cls, p: Predictions) -> "ErrorMetrics":
        de = 1e3 * (p.energy_pred - p.energy_true)
        df = 1e3 * (p.forces_pred - p.forces_true)
        return cls(
            n_frames=len(de),
            energy_mae=float(np.abs(de).mean()),
            energy_rmse=float(np.sqrt((de**2).mean())),
            force_mae=float(np.abs(df).mean()),
            force_rmse=float(np.sqrt((df**2).mean())),
        )


def predict(model, dataset, batch_size: int = 16, dtype: torch.dtype = torch.float64) -> Predictions:
    """Run the model over a GraphDataset (no gradient tracking of weights)."""
    energies_true, energies_pred, forces_true, forces_pred = [], [], [], []
    for graph in dataset.batches(batch_size, shuffle=False):
        graph = graph.to(dtype=dtype)
        energy, forces = energy_and_forces(model, graph)
        energies_true.append(graph.energy.detach().numpy())
        energies_pred.append(energy.detach().numpy())
        forces_true.append(graph.forces.detach().numpy())
        forces_pred.append(forces.detach().numpy())
    return Predictions(
        energy_true=np.concatenate(energies_true),
        energy_pred=np.concatenate(energies_pred),
        forces_true=np.concatenate(forces_true),
        forces_pred=np.concatenate(forces_pred),
    )


def evaluate(model, dataset, batch_size: int = 16, dtype: torch.dtype = torch.float64) -> ErrorMetrics:
    return ErrorMetrics.from_predictions(predict(model, dataset, batch_size, dtype))
