"""Radius-graph neighbour lists (via vesin), with and without periodic boundaries.

Convention shared with the model and the C++ plugin: an edge (i, j, shift) means
atom j, or its periodic image, is within the cutoff of atom i, with edge vector
r_ij = x_j - x_i + shift. Lists are full (both i->j and j->i) and sorted.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import vesin

from .frame import DataError

_AXES = "abc"


def perpendicular_widths(cell: np.ndarray) -> np.ndarray:
    """(3,) distances in Å between opposite faces of the cell with lattice rows ``cell`` (3, 3).

    width_a = volume / |b x c|, and cyclically; a zero-volume cell gives zeros.
    """
    volume = abs(np.linalg.det(cell))
    areas = np.linalg.norm([np.cross(cell[1], cell[2]), np.cross(cell[2], cell[0]),
                            np.cross(cell[0], cell[1])], axis=1)
    return np.divide(volume, areas, out=np.zeros(3), where=areas > 0)


def _check_box(cell: np.ndarray, pbc: tuple[bool, bool, bool], cutoff: float) -> None:
    """The model assumes each atom sees at most one image of any other atom (minimum image)."""
    widths = perpendicular_widths(cell)
    if not widths.all():
        raise DataError(f"periodic frame with a degenerate cell (zero volume): {cell.tolist()}; "
                        "all three lattice vectors are needed, also along non-periodic directions")
    for axis in range(3):
        if pbc[axis] and widths[axis] < 2 * cutoff:
            raise DataError(
                f"periodic box too small for the cutoff: the cell width along lattice vector "
                f"{_AXES[axis]} is {widths[axis]:.4f} Å, less than 2 x cutoff = {2 * cutoff:.4f} Å "
                f"(cutoff {cutoff:.4f} Å); use a larger supercell")


def neighbor_list(positions: np.ndarray, cutoff: float, cell: Optional[np.ndarray] = None,
                  pbc: Sequence[bool] = (False, False, False)) -> tuple[np.ndarray, np.ndarray]:
    """All ordered pairs i != j (including periodic images) with |r_ij| < cutoff.

    positions: (N, 3) Cartesian positions, Å.
    cutoff: radius in Å.
    cell: (3, 3) lattice vectors as rows, Å; required when any pbc is True.
    pbc: periodicity along each lattice vector.
    Returns edge_index (2, E) int64 with rows [center i, neighbour j], and shifts
    (E, 3) float64 Cartesian image shifts in Å, so r_ij = x_j - x_i + shifts.
    Edges are sorted by (i, j, shift). Raises DataError when a periodic cell width
    is below 2 * cutoff.
    """
    positions = np.ascontiguousarray(positions, dtype=np.float64)
    if positions.ndim != 2 or positions.shape[1] != 3:
        raise ValueError(f"positions must have shape (N, 3), got {positions.shape}")
    if not cutoff > 0:
        raise ValueError(f"cutoff must be positive, got {cutoff}")
    pbc = tuple(bool(p) for p in np.broadcast_to(np.asarray(pbc, dtype=bool), (3,)))
    if any(pbc):
        if cell is None:
            raise DataError(f"periodic along {pbc} but no cell given")
        box = np.ascontiguousarray(cell, dtype=np.float64).reshape(3, 3)
        _check_box(box, pbc, cutoff)
    else:
        box = np.zeros((3, 3))
    calculator = vesin.NeighborList(cutoff=float(cutoff), full_list=True)
    i, j, shift_counts = calculator.compute(positions, box, list(pbc) if any(pbc) else False, "ijS")
    i = i.astype(np.int64)
    j = j.astype(np.int64)
    shifts = shift_counts.astype(np.float64) @ box  # integer cell multiples -> Å
    order = np.lexsort((shift_counts[:, 2], shift_counts[:, 1], shift_counts[:, 0], j, i))
    edge_index = np.stack([i[order], j[order]])
    return edge_index.reshape(2, -1), shifts[order].reshape(-1, 3)
