"""neighbor_list against an O(N^2) brute force, with and without periodic images."""

import itertools

import numpy as np
import pytest

from gaqmd.data import DataError, neighbor_list
from gaqmd.data.neighbors import perpendicular_widths


def brute_force(positions, cutoff, cell=None, pbc=(False, False, False)):
    """{(i, j, n_a, n_b, n_c): r_ij} over images n in -1..1 along periodic axes (box >= 2 cutoff)."""
    ranges = [range(-1, 2) if p else range(1) for p in pbc]
    cell = np.zeros((3, 3)) if cell is None else np.asarray(cell)
    edges = {}
    for n in itertools.product(*ranges):
        shift = np.array(n) @ cell
        for i in range(len(positions)):
            for j in range(len(positions)):
                if i == j and not any(n):
                    continue
                r = positions[j] - positions[i] + shift
                if np.linalg.norm(r) < cutoff:
                    edges[(i, j, *n)] = r
    return edges


def computed(positions, cutoff, cell=None, pbc=(False, False, False)):
    edge_index, shifts = neighbor_list(positions, cutoff, cell, pbc)
    assert edge_index.dtype == np.int64 and edge_index.shape == (2, len(shifts))
    assert shifts.dtype == np.float64 and shifts.shape == (len(shifts), 3)
    images = np.zeros((len(shifts), 3)) if cell is None else shifts @ np.linalg.inv(cell)
    assert np.allclose(images, np.round(images), atol=1e-9)  # shifts are whole cell vectors
    edges = {}
    for (i, j), s, n in zip(edge_index.T, shifts, np.round(images).astype(int)):
        edges[(int(i), int(j), *n.tolist())] = positions[j] - positions[i] + s
    assert len(edges) == len(shifts)  # no duplicates
    return edge_index, edges


def assert_same_edges(got, expected):
    assert set(got) == set(expected)
    for key, r in expected.items():
        np.testing.assert_allclose(got[key], r, atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_non_periodic_matches_brute_force(seed):
    positions = np.random.default_rng(seed).uniform(0, 6, size=(25, 3))
    edge_index, edges = computed(positions, 2.5)
    expected = brute_force(positions, 2.5)
    assert len(expected) > 20
    assert_same_edges(edges, expected)
    pairs = list(zip(*edge_index.tolist()))
    assert pairs == sorted(pairs)


@pytest.mark.parametrize(
    "pbc", [(True, True, True), (True, False, True), (False, False, True)], ids=["3d", "slab", "wire"]
)
def test_periodic_triclinic_matches_brute_force(pbc):
    cell = np.array([[6.5, 0.0, 0.0], [1.2, 6.2, 0.0], [-0.8, 0.9, 6.4]])
    cutoff = 2.9
    assert perpendicular_widths(cell).min() >= 2 * cutoff
    rng = np.random.default_rng(7)
    positions = rng.uniform(0, 1, size=(20, 3)) @ cell + rng.normal(0, 0.5, size=(20, 3))  # some outside the cell
    edge_index, edges = computed(positions, cutoff, cell, pbc)
    expected = brute_force(positions, cutoff, cell, pbc)
    assert any(any(key[2:]) for key in expected)  # the test does exercise images
    assert_same_edges(edges, expected)


def test_perpendicular_widths_of_sheared_cell():
    length, shear = 8.0, 5.0
    cell = np.array([[length, 0, 0], [shear, length, 0], [0, 0, length]])
    # width along a: V / |b x c| = L^3 / (L sqrt(L^2 + s^2)); along b and c the full L
    expected = [length**2 / np.hypot(length, shear), length, length]
    np.testing.assert_allclose(perpendicular_widths(cell), expected, rtol=1e-14)


def test_box_too_small_for_cutoff_raises():
    # every lattice vector is longer than 2 * cutoff = 7 Å, but the sheared cell is only 6.13 Å thick along a
    cell = np.array([[7.5, 0, 0], [7.5, 7.5, 0], [0, 0, 7.5]])
    positions = np.zeros((2, 3))
    positions[1] = [1.0, 1.0, 1.0]
    with pytest.raises(DataError, match=r"too small for the cutoff.*lattice vector a is 5\.3033 Å.*cutoff 3\.5000 Å"):
        neighbor_list(positions, 3.5, cell, (True, True, True))
    # not periodic along a: the thin direction does not matter
    edge_index, _ = neighbor_list(positions, 3.5, cell, (False, True, True))
    assert edge_index.shape[1] >= 2


def test_edge_cases():
    edge_index, shifts = neighbor_list(np.zeros((1, 3)), 5.0)
    assert edge_index.shape == (2, 0) and shifts.shape == (0, 3)
    edge_index, shifts = neighbor_list(np.array([[0.0, 0, 0], [0, 0, 1.0]]), 1.0)  # exactly at the cutoff: excluded
    assert edge_index.shape == (2, 0)
    with pytest.raises(DataError, match="no cell"):
        neighbor_list(np.zeros((2, 3)), 2.0, None, (True, True, True))
    with pytest.raises(DataError, match="degenerate cell"):
        neighbor_list(np.zeros((2, 3)), 2.0, np.diag([10.0, 10.0, 0.0]), (True, True, False))
