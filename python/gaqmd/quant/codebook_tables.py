"""Candidate tables of the exact bucketed nearest-codeword lookup (see gaqmd.quant.codebook's
module docstring, "Build"): for every cell of a (z, phi) grid, the codebook points that can be
the nearest one for some direction in the cell, as CSR int32 arrays, built with a k-d tree."""

import math
from typing import Tuple

import numpy as np
import torch
from scipy.spatial import cKDTree

SCORE_TOL = 1e-5
ASSIGN_TOL = 1e-5
BUILD_SLACK = 1e-7  # rad added to each cell's listing radius (module doc, "Build")


def _unit(z: torch.Tensor, phi: torch.Tensor) -> torch.Tensor:
    rho = torch.sqrt(torch.clamp(1.0 - z * z, min=0.0))
    return torch.stack([rho * torch.cos(phi), rho * torch.sin(phi), z], dim=-1)


def _cell_grid(n_z: int, n_phi: int) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Edges and centres of the z-phi grid: z_edges, phi_edges, z_mid (theta midpoints), phi_mid."""
    z_edges = torch.linspace(-1.0, 1.0, n_z + 1, dtype=torch.float64)
    phi_edges = torch.linspace(-math.pi, math.pi, n_phi + 1, dtype=torch.float64)
    theta_edges = torch.arccos(z_edges)
    z_mid = torch.cos(0.5 * (theta_edges[:-1] + theta_edges[1:]))
    phi_mid = 0.5 * (phi_edges[:-1] + phi_edges[1:])
    return z_edges, phi_edges, z_mid, phi_mid


def _chord_angle(chord: np.ndarray) -> np.ndarray:
    return 2.0 * np.arcsin(np.clip(0.5 * chord, 0.0, 1.0))


def _row_reach(
    z_edges: torch.Tensor, phi_edges: torch.Tensor, z_mid: torch.Tensor, phi_mid: torch.Tensor
) -> np.ndarray:
    """R = r + ASSIGN_TOL per row of cells, (n_z,): r = largest angle from a centre to its corners.

    All cells of a row are rotations of each other about z, so the first cell of each row stands
    for the row (the float differences between cells are ~1e-16 rad, far below BUILD_SLACK).
    """
    centre = _unit(z_mid, phi_mid[0].expand_as(z_mid))
    radius = torch.zeros_like(z_mid)
    for z_corner in (z_edges[:-1], z_edges[1:]):
        for phi_corner in (phi_edges[0], phi_edges[1]):
            corner = _unit(z_corner, phi_corner.expand_as(z_corner))
            radius = torch.maximum(radius, (corner - centre).norm(dim=-1))
    return _chord_angle(radius.numpy()) + ASSIGN_TOL


def _listing_chord(nearest_chord: np.ndarray, reach: np.ndarray) -> np.ndarray:
    """Chord radius of the listing ball per cell (module doc), inf where it covers the sphere."""
    rho = _chord_angle(nearest_chord) + reach
    winner_angle = np.arccos(np.maximum(np.cos(rho) - 2.0 * SCORE_TOL, -1.0))
    limit = winner_angle + reach + BUILD_SLACK
    return np.where(limit < math.pi, 2.0 * np.sin(0.5 * np.minimum(limit, math.pi)), np.inf)


# Neighbour counts tried per cell: 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, ... (steps of at most 25%).
_K_LADDER = np.unique(np.concatenate([(2 ** np.arange(2, 32)) * m // 4 for m in (4, 5, 6, 7)]))


def _list_cells(tree: cKDTree, centres: np.ndarray, radius: np.ndarray, k: int, workers: int):
    """One k-nearest pass: (resolved mask, counts, ascending int32 indices of the resolved cells).

    A cell is resolved when its k-th neighbour lies outside its listing ball (or k = K): every
    point inside the ball is then among the k found (they come sorted by distance).
    """
    distance, index = tree.query(centres, k=k, workers=workers)
    distance = distance.reshape(len(centres), k)
    index = index.reshape(len(centres), k)
    inside = distance <= radius[:, None]
    resolved = ~inside[:, -1] if k < tree.n else np.ones(len(centres), dtype=bool)
    inside, index = inside[resolved], index[resolved]
    listed = np.sort(np.where(inside, index, tree.n), axis=1)
    counts = inside.sum(axis=1)
    return resolved, counts, listed[np.arange(k) < counts[:, None]].astype(np.int32)


def build_candidate_tables(
    points: torch.Tensor, n_z: int, n_phi: int, chunk_cells: int = 1 << 16, chunk_entries: int = 1 << 22,
    workers: int = 1,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """CSR candidate lists (offsets (n_z*n_phi+1,) int32, indices int32) for the grid (module doc).

    k-d tree build (module doc), chunk_cells cells at a time: a 1-nearest query gives d*(a) and the
    listing radius; each cell then takes k nearest points, k from the expected count in its ball
    (+20%, on a ladder of values), and cells whose ball holds all k are re-queried with 4x larger k
    (up to K). Queries are cut to about chunk_entries (cell, neighbour) pairs; workers goes to
    cKDTree.query. Memory: O(nnz) for the result plus O(chunk_entries) scratch.
    """
    if n_phi < 4 or n_z < 1:
        raise ValueError("need n_z >= 1 and n_phi >= 4 (the corner bound needs cells < pi/2 wide)")
    points = points.to(torch.float64)
    num_points = len(points)
    n_cells = n_z * n_phi
    z_edges, phi_edges, z_mid, phi_mid = _cell_grid(n_z, n_phi)
    row_reach = _row_reach(z_edges, phi_edges, z_mid, phi_mid)
    tree = cKDTree(points.numpy(), balanced_tree=False)

    counts = np.zeros(n_cells, dtype=np.int64)
    pieces = []  # (cell ids, their counts, their indices: per cell, ascending, in cell-id order)
    rows_per_chunk = max(1, chunk_cells // n_phi)
    for row in range(0, n_z, rows_per_chunk):
        rows = slice(row, min(row + rows_per_chunk, n_z))
        zz, pp = torch.meshgrid(z_mid[rows], phi_mid, indexing="ij")
        centres = _unit(zz, pp).reshape(-1, 3).numpy()
        cells = np.arange(row * n_phi, row * n_phi + len(centres))
        nearest, _ = tree.query(centres, k=1, workers=workers)
        radius = _listing_chord(nearest, np.repeat(row_reach[rows], n_phi))
        # A cap of chord radius c holds a fraction c^2 / 4 of the sphere.
        expected = num_points * 0.25 * np.minimum(radius, 2.0) ** 2
        ladder = _K_LADDER[np.minimum(np.searchsorted(_K_LADDER, 1.2 * expected + 4.0), len(_K_LADDER) - 1)]
        first_k = np.minimum(ladder, num_points)
        for k in np.unique(first_k):
            todo = np.flatnonzero(first_k == k)
            k = int(k)
            while len(todo):
                step = max(1, chunk_entries // k)
                left = []
                for at in range(0, len(todo), step):
                    part = todo[at : at + step]
                    resolved, part_counts, listed = _list_cells(tree, centres[part], radius[part], k, workers)
                    counts[cells[part[resolved]]] = part_counts
                    pieces.append((cells[part[resolved]], part_counts, listed))
                    left.append(part[~resolved])
                todo = np.concatenate(left)
                k = min(4 * k, num_points)

    offsets = np.zeros(n_cells + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    if offsets[-1] >= 2**31:
        raise ValueError(f"{offsets[-1]} candidate entries overflow int32 offsets; use a larger cell_scale")
    indices = np.empty(offsets[-1], dtype=np.int32)
    while pieces:  # popping frees each piece as its entries are written
        cells, part_counts, listed = pieces.pop()
        if len(listed):
            first = np.cumsum(part_counts) - part_counts
            indices[np.arange(len(listed)) + np.repeat(offsets[cells] - first, part_counts)] = listed
    return torch.from_numpy(offsets.astype(np.int32)), torch.from_numpy(indices)
