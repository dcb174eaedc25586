"""Small float64 models and closures for testing the potential."""

from typing import Callable, Sequence

import numpy as np
import torch

from gaqmd.data import neighbor_list, species_index
from gaqmd.model import EquivariantPotential, model_config


def make_model(
    l_max: int = 1, attention: bool = False, species: Sequence[int] = (1, 6, 8), seed: int = 0, **overrides
) -> EquivariantPotential:
    """A small random float64 model with non-trivial readout statistics."""
    torch.manual_seed(seed)
    values = {"channels": 8, "num_layers": 2, "radial_hidden": 16, "num_basis": 6, "attention_dim": 8}
    values.update(overrides)
    model = EquivariantPotential(model_config(species, None, l_max=l_max, attention=attention, **values))
    model = model.to(torch.float64)
    generator = torch.Generator().manual_seed(seed)
    model.readout.set_statistics(
        0.5 + torch.rand(len(species), generator=generator, dtype=torch.float64),
        torch.randn(len(species), generator=generator, dtype=torch.float64),
    )
    return model.eval()


def energy_forces_fn(model: EquivariantPotential, numbers: np.ndarray) -> Callable:
    """positions (N, 3) Å -> (energy () eV, forces (N, 3) eV/Å); the neighbour list is rebuilt per call."""
    species = torch.from_numpy(species_index(np.asarray(numbers), model.config.species))

    def fn(positions: torch.Tensor):
        edge_index, shifts = neighbor_list(positions.detach().numpy(), model.config.cutoff)
        positions = positions.detach().clone().requires_grad_(True)
        energy = model(
            positions,
            species,
            torch.from_numpy(edge_index),
            torch.from_numpy(shifts).to(positions.dtype),
            torch.zeros(len(species), dtype=torch.long),
            1,
        )[0]
        (gradient,) = torch.autograd.grad(energy, positions)
        return energy.detach(), -gradient

    return fn


def quantized_model(mode: str, frames, l_max: int = 1, attention: bool = False, **quant) -> EquivariantPotential:
    """make_model (8 channels, species H C O) with QAT of `mode`, scales calibrated on frames (float64)."""
    from gaqmd.data import GraphDataset
    from gaqmd.quant import QuantConfig, calibrate, prepare_qat

    model = make_model(l_max=l_max, attention=attention, species=(1, 6, 8), channels=8)
    prepare_qat(model, QuantConfig(mode=mode, **quant))
    calibrate(model, GraphDataset(frames, model.config.species, model.config.cutoff).batches(4), torch.float64)
    return model.eval()
