"""Data loading for gaqmd: files -> Frames (eV, Å) -> torch graphs.

Pipeline: ``read_frames`` (extxyz / ASE db / (r)MD17 npz, with ``Units`` for the
file's units) -> ``Frame`` -> ``random_split`` -> ``GraphDataset`` (neighbour lists,
``GraphBatch``). Reference energies: ``read_atomic_energies`` / ``fit_atomic_energies``.
"""

from .frame import DataError, Frame, Units
from .graph import (
    GraphBatch,
    GraphDataset,
    average_num_neighbors,
    collate,
    edge_vectors,
    frame_to_graph,
    species_index,
)
from .neighbors import neighbor_list
from .readers import read_frames
from .reference import atomic_energy_sum, fit_atomic_energies, read_atomic_energies, subtract_atomic_energies
from .splits import Split, random_split
from .units import energy_factor, force_factor, length_factor

__all__ = [
    "DataError",
    "Frame",
    "GraphBatch",
    "GraphDataset",
    "Split",
    "Units",
    "atomic_energy_sum",
    "average_num_neighbors",
    "collate",
    "edge_vectors",
    "energy_factor",
    "fit_atomic_energies",
    "force_factor",
    "frame_to_graph",
    "length_factor",
    "neighbor_list",
    "random_split",
    "read_atomic_energies",
    "read_frames",
    "species_index",
    "subtract_atomic_energies",
]
