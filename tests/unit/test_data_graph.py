"""Graphs, collation and batching of real frames."""

from pathlib import Path

import numpy as np
import pytest
import torch

from gaqmd.data import (
    DataError,
    Frame,
    GraphDataset,
    Units,
    average_num_neighbors,
    collate,
    frame_to_graph,
    read_frames,
    species_index,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "rmd17"
SPECIES = (1, 6, 8)
CUTOFF = 4.0


@pytest.fixture(scope="module")
def mixed_frames():
    """Two aspirin frames, two ethanol frames and one periodic water box: graphs of different sizes."""
    aspirin = read_frames(DATA / "aspirin_1000.xyz", Units(energy="meV"), index=":2")
    ethanol = read_frames(DATA / "train_1000.xyz", index=":2")
    rng = np.random.default_rng(3)
    water = Frame(numbers=[8, 1, 1, 8, 1, 1], positions=rng.uniform(0, 9, (6, 3)), energy=-10.0,
                  forces=rng.normal(size=(6, 3)), cell=9.0 * np.eye(3), pbc=(True, True, True), source="water")
    return [aspirin[0], ethanol[0], water, aspirin[1], ethanol[1]]


def numpy_edge_vectors(graph):
    i, j = graph.edge_index.numpy()
    x = graph.positions.numpy()
    return x[j] - x[i] + graph.edge_shift.numpy()


def test_species_index_maps_and_names_unknown_elements():
    np.testing.assert_array_equal(species_index(np.array([8, 1, 6, 1]), (1, 6, 8)), [2, 0, 1, 0])
    np.testing.assert_array_equal(species_index(np.array([8, 1]), (8, 1)), [0, 1])
    with pytest.raises(DataError, match=r"element\(s\) N, S not in the model's species list \[H, C, O\]"):
        species_index(np.array([1, 7, 16, 7]), SPECIES)


def test_frame_to_graph_contents(mixed_frames):
    frame = mixed_frames[1]
    graph = frame_to_graph(frame, SPECIES, CUTOFF)
    assert graph.num_graphs == 1 and graph.positions.dtype == torch.float64
    assert graph.species.tolist() == [1, 1, 2, 0, 0, 0, 0, 0, 0]  # C C O H H H H H H
    distances = np.linalg.norm(frame.positions[:, None] - frame.positions[None], axis=-1)
    assert graph.edge_index.shape[1] == ((distances < CUTOFF).sum() - frame.n_atoms)
    assert graph.energy.tolist() == [frame.energy]
    np.testing.assert_array_equal(graph.forces.numpy(), frame.forces)
    with pytest.raises(DataError, match=r"train_1000\.xyz:frame 0 \(line 1\): element\(s\) C not in"):
        frame_to_graph(frame, (1, 8), CUTOFF)


def test_collate_offsets_and_edge_vectors(mixed_frames):
    graphs = [frame_to_graph(f, SPECIES, CUTOFF) for f in mixed_frames]
    batch = collate(graphs)
    sizes = [f.n_atoms for f in mixed_frames]
    assert batch.num_graphs == 5 and batch.num_atoms.tolist() == sizes
    assert batch.batch.tolist() == [k for k, n in enumerate(sizes) for _ in range(n)]
    atom_start = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    edge_start = np.concatenate([[0], np.cumsum([g.edge_index.shape[1] for g in graphs])])
    for k, graph in enumerate(graphs):
        part = batch.edge_index[:, edge_start[k]:edge_start[k + 1]]
        np.testing.assert_array_equal(part.numpy(), graph.edge_index.numpy() + atom_start[k])
        assert (part >= atom_start[k]).all() and (part < atom_start[k] + sizes[k]).all()
    np.testing.assert_array_equal(numpy_edge_vectors(batch), np.concatenate([numpy_edge_vectors(g) for g in graphs]))
    assert batch.energy.tolist() == [f.energy for f in mixed_frames]
    assert np.abs(graphs[2].edge_shift.numpy()).max() == 9.0  # the water box does use images
    nested = collate([collate(graphs[:2]), collate(graphs[2:])])
    for a, b in zip(nested, batch):
        assert torch.equal(a, b)


def test_collate_drops_labels_missing_anywhere(mixed_frames):
    unlabelled = Frame(numbers=[1, 1], positions=[[0, 0, 0], [0, 0, 0.74]], source="h2")
    batch = collate([frame_to_graph(f, SPECIES, CUTOFF) for f in (mixed_frames[0], unlabelled)])
    assert batch.energy is None and batch.forces is None
    assert batch.edge_index[:, -2:].tolist() == [[21, 22], [22, 21]]


def test_to_casts_only_float_tensors(mixed_frames):
    batch = collate([frame_to_graph(f, SPECIES, CUTOFF) for f in mixed_frames]).to(dtype=torch.float32)
    assert {batch.positions.dtype, batch.edge_shift.dtype, batch.energy.dtype, batch.forces.dtype} == {torch.float32}
    assert {batch.species.dtype, batch.edge_index.dtype, batch.batch.dtype, batch.num_atoms.dtype} == {torch.int64}


def test_dataset_batches_cover_every_graph_once(mixed_frames):
    dataset = GraphDataset(mixed_frames, SPECIES, CUTOFF)
    assert len(dataset) == 5
    ordered = list(dataset.batches(2))
    assert [b.num_graphs for b in ordered] == [2, 2, 1]
    assert torch.cat([b.energy for b in ordered]).tolist() == [f.energy for f in mixed_frames]
    first = [b.energy.tolist() for b in dataset.batches(2, shuffle=True, generator=torch.Generator().manual_seed(5))]
    again = [b.energy.tolist() for b in dataset.batches(2, shuffle=True, generator=torch.Generator().manual_seed(5))]
    assert first == again
    assert sorted(e for b in first for e in b) == sorted(f.energy for f in mixed_frames)
    other = [b.energy.tolist() for b in dataset.batches(2, shuffle=True, generator=torch.Generator().manual_seed(6))]
    assert other != first


def test_average_num_neighbors_counts_pairs(mixed_frames):
    molecules = [f for f in mixed_frames if f.cell is None]
    dataset = GraphDataset(molecules, SPECIES, CUTOFF)
    pairs = sum((np.linalg.norm(f.positions[:, None] - f.positions[None], axis=-1) < CUTOFF).sum() - f.n_atoms
                for f in molecules)
    assert average_num_neighbors(dataset) == pytest.approx(pairs / sum(f.n_atoms for f in molecules), rel=1e-15)
