"""One labelled configuration (``Frame``), the units of a file (``Units``) and ``DataError``.

A Frame is always in eV and Å, whatever the file it came from; ``Units`` says how
to get there. Frames validate themselves on construction, so any Frame in the
program has consistent shapes and finite values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from .units import canonical_energy_unit, canonical_length_unit, energy_factor, force_factor, length_factor


class DataError(ValueError):
    """A data file or a frame is unusable; the message names the file and where."""


@dataclass(frozen=True)
class Units:
    """Units of the numbers stored in a file.

    energy: energy unit name (see ``units.energy_factor``), e.g. "eV", "kcal/mol".
    length: length unit of positions and cells, e.g. "A", "bohr".
    forces_are_gradients: the file stores dE/dx instead of forces -dE/dx.
    Forces are in energy/length. Unknown names raise ValueError on construction.
    """

    energy: str = "eV"
    length: str = "A"
    forces_are_gradients: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "energy", canonical_energy_unit(self.energy))
        object.__setattr__(self, "length", canonical_length_unit(self.length))

    @property
    def energy_to_ev(self) -> float:
        """Factor taking a stored energy to eV."""
        return energy_factor(self.energy)

    @property
    def length_to_angstrom(self) -> float:
        """Factor taking a stored length to Å."""
        return length_factor(self.length)

    @property
    def forces_to_ev_per_angstrom(self) -> float:
        """Factor taking a stored force (or gradient) to a force in eV/Å."""
        return force_factor(self.energy, self.length, self.forces_are_gradients)


def first_nonfinite_row(values: np.ndarray) -> Optional[int]:
    """Index of the first row of ``values`` (shape (N,...)) holding NaN or inf, else None."""
    if len(values) == 0:
        return None
    bad = ~np.isfinite(values.reshape(len(values), -1)).all(axis=1)
    return int(np.argmax(bad)) if bad.any() else None


def _frozen_array(values, dtype, shape: tuple, what: str, source: str) -> np.ndarray:
    """Read-only copy of ``values``; ``shape`` may hold None for a free dimension."""
    array = np.array(values, dtype=dtype)
    fits = array.ndim == len(shape) and all(s is None or s == n for s, n in zip(shape, array.shape))
    if not fits:
        shown = "(" + ", ".join("N" if s is None else str(s) for s in shape) + ")"
        raise DataError(f"{source}: {what} has shape {array.shape}, expected {shown}")
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class Frame:
    """One configuration with optional reference labels, in eV and Å.

    numbers: (N,) int64 atomic numbers.
    positions: (N, 3) float64 Cartesian positions, Å.
    energy: total energy in eV, or None when the file has no energy.
    forces: (N, 3) float64 forces -dE/dx in eV/Å, or None.
    cell: (3, 3) float64 lattice vectors as rows, Å; None for a non-periodic frame.
    pbc: periodicity along each lattice vector.
    source: where the frame came from, e.g. "data/train.xyz:frame 12 (line 134)".

    Arrays are copied and made read-only. Raises DataError (naming ``source``) on
    inconsistent shapes, non-finite values, or periodicity without a cell.
    """

    numbers: np.ndarray
    positions: np.ndarray
    energy: Optional[float] = None
    forces: Optional[np.ndarray] = None
    cell: Optional[np.ndarray] = None
    pbc: tuple[bool, bool, bool] = (False, False, False)
    source: str = "<memory>"

    def __post_init__(self) -> None:
        src = self.source
        numbers = _frozen_array(self.numbers, np.int64, (None,), "numbers", src)
        n_atoms = len(numbers)
        if n_atoms == 0:
            raise DataError(f"{src}: frame has no atoms")
        if numbers.min() < 1 or numbers.max() > 118:
            raise DataError(f"{src}: atomic numbers must lie in 1..118, got {sorted(set(numbers.tolist()))}")
        positions = self._checked(self.positions, (n_atoms, 3), "positions")
        forces = None if self.forces is None else self._checked(self.forces, (n_atoms, 3), "forces")
        cell = None if self.cell is None else self._checked(self.cell, (3, 3), "cell")
        energy = None if self.energy is None else float(self.energy)
        if energy is not None and not np.isfinite(energy):
            raise DataError(f"{src}: energy is {energy}")
        pbc = tuple(bool(p) for p in np.broadcast_to(np.asarray(self.pbc, dtype=bool), (3,)))
        if any(pbc) and cell is None:
            raise DataError(f"{src}: periodic along {pbc} but no cell given")
        for name, value in [("numbers", numbers), ("positions", positions), ("forces", forces),
                            ("cell", cell), ("energy", energy), ("pbc", pbc)]:
            object.__setattr__(self, name, value)

    def _checked(self, values, shape: tuple[int, ...], what: str) -> np.ndarray:
        array = _frozen_array(values, np.float64, shape, what, self.source)
        row = first_nonfinite_row(array)
        if row is not None:
            where = f"atom {row}" if what != "cell" else f"lattice vector {row}"
            raise DataError(f"{self.source}: {what} of {where} not finite: {array[row].tolist()}")
        return array

    @property
    def n_atoms(self) -> int:
        """Number of atoms N."""
        return len(self.numbers)
