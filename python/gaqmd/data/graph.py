"""Torch graphs of frames: ``GraphBatch``, ``frame_to_graph``, ``collate`` and ``GraphDataset``.

Units as everywhere in gaqmd: Å, eV, eV/Å. Atoms are numbered consecutively over
the graphs of a batch; ``batch`` maps each atom to its graph.
"""

from __future__ import annotations

from typing import Iterable, Iterator, NamedTuple, Optional, Sequence

import numpy as np
import torch
from ase.data import chemical_symbols
from torch import Tensor

from .frame import DataError, Frame
from .neighbors import neighbor_list


class GraphBatch(NamedTuple):
    """A batch of B molecular graphs with N atoms and E edges in total."""

    positions: Tensor  # (N, 3) Å, float
    species: Tensor  # (N,) int64 index into the model's species list
    edge_index: Tensor  # (2, E) int64, rows [center i, neighbour j]
    edge_shift: Tensor  # (E, 3) Å, float; r_ij = x_j - x_i + edge_shift
    batch: Tensor  # (N,) int64 graph index of each atom
    num_atoms: Tensor  # (B,) int64
    energy: Optional[Tensor] = None  # (B,) eV
    forces: Optional[Tensor] = None  # (N, 3) eV/Å

    @property
    def num_graphs(self) -> int:
        """B, the number of graphs in the batch."""
        return int(self.num_atoms.shape[0])

    def to(self, dtype: Optional[torch.dtype] = None, device=None) -> "GraphBatch":
        """Copy on ``device`` with float tensors (positions, shifts, labels) cast to ``dtype``."""

        def move(tensor: Optional[Tensor], cast: bool) -> Optional[Tensor]:
            if tensor is None:
                return None
            return tensor.to(device=device, dtype=dtype if cast else None)

        return GraphBatch(
            positions=move(self.positions, True),
            species=move(self.species, False),
            edge_index=move(self.edge_index, False),
            edge_shift=move(self.edge_shift, True),
            batch=move(self.batch, False),
            num_atoms=move(self.num_atoms, False),
            energy=move(self.energy, True),
            forces=move(self.forces, True),
        )


def edge_vectors(graph: GraphBatch) -> Tensor:
    """(E, 3) edge vectors r_ij = x_j - x_i + shift in Å, differentiable in positions."""
    center, neighbour = graph.edge_index
    return graph.positions[neighbour] - graph.positions[center] + graph.edge_shift


def species_index(numbers: np.ndarray, species: Sequence[int]) -> np.ndarray:
    """(N,) int64 position of each atomic number of ``numbers`` (N,) in ``species``.

    Raises DataError naming the element symbols absent from ``species`` and the
    allowed ones; ValueError when ``species`` repeats an element.
    """
    species = [int(z) for z in species]
    if len(set(species)) != len(species):
        raise ValueError(f"species list repeats an element: {species}")
    table = np.full(len(chemical_symbols), -1, dtype=np.int64)
    table[species] = np.arange(len(species))
    numbers = np.asarray(numbers, dtype=np.int64)
    in_range = (numbers >= 0) & (numbers < len(table))
    index = np.where(in_range, table[np.where(in_range, numbers, 0)], -1)
    if (index < 0).any():
        unknown = sorted(set(numbers[index < 0].tolist()))
        names = ", ".join(chemical_symbols[z] if 0 <= z < len(table) else f"Z={z}" for z in unknown)
        allowed = ", ".join(chemical_symbols[z] for z in species)
        raise DataError(f"element(s) {names} not in the model's species list [{allowed}]")
    return index


def frame_to_graph(frame: Frame, species: Sequence[int], cutoff: float,
                   dtype: torch.dtype = torch.float64) -> GraphBatch:
    """Radius graph (B = 1) of ``frame`` with edges shorter than ``cutoff`` (Å).

    Float tensors get ``dtype``; labels are included when the frame has them.
    Raises DataError, naming the frame's source, for unknown elements or a
    periodic box thinner than 2 * cutoff.
    """
    try:
        index = species_index(frame.numbers, species)
        edge_index, shifts = neighbor_list(frame.positions, cutoff, frame.cell, frame.pbc)
    except DataError as err:
        raise DataError(f"{frame.source}: {err}") from None
    n_atoms = frame.n_atoms
    return GraphBatch(
        positions=torch.tensor(frame.positions, dtype=dtype),
        species=torch.from_numpy(index),
        edge_index=torch.from_numpy(edge_index),
        edge_shift=torch.tensor(shifts, dtype=dtype),
        batch=torch.zeros(n_atoms, dtype=torch.int64),
        num_atoms=torch.tensor([n_atoms], dtype=torch.int64),
        energy=None if frame.energy is None else torch.tensor([frame.energy], dtype=dtype),
        forces=None if frame.forces is None else torch.tensor(frame.forces, dtype=dtype),
    )


def collate(graphs: Sequence[GraphBatch]) -> GraphBatch:
    """One GraphBatch holding all graphs of ``graphs`` (themselves batches of any size).

    Atom indices in edge_index and graph indices in batch are offset so that they
    refer to the concatenated tensors. energy / forces are kept only when every
    input has them.
    """
    if len(graphs) == 0:
        raise ValueError("collate: no graphs given")
    atom_offsets = np.cumsum([0] + [len(g.positions) for g in graphs[:-1]])
    graph_offsets = np.cumsum([0] + [g.num_graphs for g in graphs[:-1]])
    with_energy = all(g.energy is not None for g in graphs)
    with_forces = all(g.forces is not None for g in graphs)
    return GraphBatch(
        positions=torch.cat([g.positions for g in graphs]),
        species=torch.cat([g.species for g in graphs]),
        edge_index=torch.cat([g.edge_index + int(off) for g, off in zip(graphs, atom_offsets)], dim=1),
        edge_shift=torch.cat([g.edge_shift for g in graphs]),
        batch=torch.cat([g.batch + int(off) for g, off in zip(graphs, graph_offsets)]),
        num_atoms=torch.cat([g.num_atoms for g in graphs]),
        energy=torch.cat([g.energy for g in graphs]) if with_energy else None,
        forces=torch.cat([g.forces for g in graphs]) if with_forces else None,
    )


def average_num_neighbors(graphs: Iterable[GraphBatch]) -> float:
    """Mean number of edges per atom (edges counted per center atom) over ``graphs``."""
    n_edges = n_atoms = 0
    for graph in graphs:
        n_edges += graph.edge_index.shape[1]
        n_atoms += graph.positions.shape[0]
    if n_atoms == 0:
        raise ValueError("average_num_neighbors: no atoms given")
    return n_edges / n_atoms


class GraphDataset:
    """Graphs of a list of frames, built once (neighbour lists included).

    frames: Frames in eV/Å; species: atomic numbers known to the model, in model
    order; cutoff: radius in Å; dtype: float dtype of the tensors.
    Indexing gives single-frame GraphBatch objects (B = 1).
    """

    def __init__(self, frames: Sequence[Frame], species: Sequence[int], cutoff: float,
                 dtype: torch.dtype = torch.float64) -> None:
        self.species = tuple(int(z) for z in species)
        self.cutoff = float(cutoff)
        self.graphs = tuple(frame_to_graph(frame, self.species, self.cutoff, dtype) for frame in frames)

    def __len__(self) -> int:
        return len(self.graphs)

    def __getitem__(self, k: int) -> GraphBatch:
        return self.graphs[k]

    def __iter__(self) -> Iterator[GraphBatch]:
        return iter(self.graphs)

    def batches(self, batch_size: int, shuffle: bool = False,
                generator: Optional[torch.Generator] = None) -> Iterator[GraphBatch]:
        """Collated batches of up to ``batch_size`` graphs covering the dataset once.

        shuffle: random order from ``torch.randperm`` with ``generator`` (pass a
        seeded generator for reproducible epochs); otherwise dataset order. The last
        batch may be smaller.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        n = len(self.graphs)
        order = torch.randperm(n, generator=generator).tolist() if shuffle else list(range(n))
        for start in range(0, n, batch_size):
            yield collate([self.graphs[k] for k in order[start:start + batch_size]])
