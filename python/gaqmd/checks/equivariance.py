"""Local equivariance error (LEE, DESIGN §4) and energy invariance error under random rotations."""

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from gaqmd.data import Frame, neighbor_list, species_index

# positions (N, 3) Å, numbers (N,) -> (energy eV, forces (N, 3) eV/Å)
EnergyForces = Callable[[np.ndarray, np.ndarray], tuple[float, np.ndarray]]


@dataclass(frozen=True)
class EquivarianceResult:
    """lee: mean over frames and rotations of the RMS over atoms of |F(Rx) - R F(x)|, meV/Å;
    energy_invariance: mean |E(Rx) - E(x)|, meV."""

    lee: float
    energy_invariance: float
    n_frames: int
    n_rotations: int


def local_equivariance_error(
    energy_forces: EnergyForces, frames: Sequence[Frame], n_rotations: int = 4, seed: int = 0
) -> EquivarianceResult:
    """Rotate each frame about its centroid by n_rotations random rotations (reproducible by seed)."""
    if not frames or n_rotations < 1:
        raise ValueError(f"the LEE needs at least one frame and one rotation, got {len(frames)} and {n_rotations}")
    rotations = Rotation.random(n_rotations * len(frames), random_state=seed).as_matrix()
    lee, invariance = [], []
    for index, frame in enumerate(frames):
        centered = frame.positions - frame.positions.mean(axis=0)
        energy, forces = energy_forces(centered, frame.numbers)
        for rotation in rotations[index * n_rotations : (index + 1) * n_rotations]:
            energy_r, forces_r = energy_forces(centered @ rotation.T, frame.numbers)
            residual = forces_r - forces @ rotation.T
            lee.append(np.sqrt((residual**2).sum(axis=1).mean()))
            invariance.append(abs(energy_r - energy))
    return EquivarianceResult(
        lee=1e3 * float(np.mean(lee)),
        energy_invariance=1e3 * float(np.mean(invariance)),
        n_frames=len(frames),
        n_rotations=n_rotations,
    )


def model_energy_forces(model, dtype: torch.dtype = torch.float64) -> EnergyForces:
    """EnergyForces of a PyTorch potential on one non-periodic molecule (eval mode, no weight grads)."""
    cutoff, species = model.config.cutoff, model.config.species

    def energy_forces(positions: np.ndarray, numbers: np.ndarray):
        edge_index, shifts = neighbor_list(positions, cutoff)
        x = torch.tensor(positions, dtype=dtype, requires_grad=True)
        energy = model(
            x,
            torch.from_numpy(species_index(numbers, species)),
            torch.from_numpy(edge_index),
            torch.from_numpy(shifts).to(dtype),
            torch.zeros(len(numbers), dtype=torch.long),
            1,
        )[0]
        (gradient,) = torch.autograd.grad(energy, x)
        return float(energy.detach()), -gradient.numpy()

    return energy_forces
