"""From a RunConfig to datasets and an initialized model."""

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

from gaqmd.data import (
    DataError,
    Frame,
    GraphDataset,
    Split,
    Units,
    average_num_neighbors,
    fit_atomic_energies,
    random_split,
    read_atomic_energies,
    read_frames,
)
from gaqmd.model import EquivariantPotential, model_config
from gaqmd.train.config import DataConfig, RunConfig


@dataclass(frozen=True)
class PreparedData:
    """Labelled frames split three ways, with what the model's initialization needs."""

    train: GraphDataset
    val: GraphDataset
    test: GraphDataset
    split: Split
    species: tuple[int, ...]
    atomic_energies: dict[int, float]  # eV per element
    data_sha256: str


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def data_units(config: DataConfig) -> Units:
    return Units(energy=config.energy_unit, length=config.length_unit, forces_are_gradients=config.forces_are_gradients)


def read_training_frames(config: DataConfig) -> list[Frame]:
    """Frames that all carry an energy and forces (training needs both)."""
    frames = read_frames(config.path, units=data_units(config), energy_key=config.energy_key, forces_key=config.forces_key)
    for frame in frames:
        if frame.energy is None or frame.forces is None:
            raise DataError(f"{frame.source}: training needs both an energy and forces")
    return frames


def prepare_data(config: DataConfig, cutoff: float, species: Optional[Sequence[int]] = None) -> PreparedData:
    """Read, split and graph the frames; reference energies from the training frames or a file."""
    frames = read_training_frames(config)
    split = random_split(len(frames), config.n_train, config.n_val, config.n_test, seed=config.split_seed)
    species = tuple(species) if species else tuple(sorted({int(z) for f in frames for z in f.numbers}))
    train_frames = [frames[i] for i in split.train]
    if config.atomic_energies == "fit":
        atomic_energies = fit_atomic_energies(train_frames)
    else:
        atomic_energies = read_atomic_energies(config.atomic_energies, data_units(config))

    def dataset(indices):
        return GraphDataset([frames[i] for i in indices], species, cutoff)

    return PreparedData(
        train=dataset(split.train),
        val=dataset(split.val),
        test=dataset(split.test),
        split=split,
        species=species,
        atomic_energies={z: float(atomic_energies[z]) for z in species if z in atomic_energies},
        data_sha256=file_sha256(config.path),
    )


def readout_statistics(train: GraphDataset, species: Sequence[int], atomic_energies: dict[int, float]):
    """(scale (S,), shift (S,)) in eV: force RMS, and E0 plus the mean per-atom residual energy."""
    missing = [z for z in species if z not in atomic_energies]
    if missing:
        raise ValueError(f"no reference energy for atomic numbers {missing}")
    e0 = np.array([atomic_energies[z] for z in species])
    residual_per_atom, force_squares = [], []
    for graph in train.graphs:
        counts = np.bincount(graph.species.numpy(), minlength=len(species))
        residual_per_atom.append((float(graph.energy[0]) - counts @ e0) / counts.sum())
        force_squares.append(graph.forces.numpy().ravel() ** 2)
    scale = float(np.sqrt(np.concatenate(force_squares).mean()))
    shift = e0 + float(np.mean(residual_per_atom))
    return torch.full((len(species),), scale), torch.tensor(shift)


def build_model(config: RunConfig, data: PreparedData) -> EquivariantPotential:
    """Model with avg_num_neighbors and readout scale/shift taken from the training frames."""
    overrides = {k: v for k, v in config.model.items() if k != "species"}
    overrides.setdefault("avg_num_neighbors", average_num_neighbors(data.train.graphs))
    model = EquivariantPotential(model_config(data.species, config.preset, **overrides))
    scale, shift = readout_statistics(data.train, data.species, data.atomic_energies)
    model.readout.set_statistics(scale, shift)
    return model


def resolved_cutoff(config: RunConfig) -> float:
    """The model cutoff (Å) that the preset and overrides give, needed before species are known."""
    overrides = {k: v for k, v in config.model.items() if k != "species"}
    return model_config((1,), config.preset, **overrides).cutoff
