"""Per-element reference energies E0 (eV): read from isolated atoms or fitted to data.

A model predicts E - sum_i E0[Z_i]; the E0 remove the large, composition-only part
of the total energy (thousands of eV for a small molecule).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Mapping, Sequence, Union

import numpy as np
from ase.data import chemical_symbols

from .frame import DataError, Frame, Units
from .readers import read_frames


def _symbols(numbers) -> str:
    return ", ".join(f"{chemical_symbols[z]} (Z={z})" for z in sorted(set(int(z) for z in numbers)))


def read_atomic_energies(path: Union[str, os.PathLike], units: Units = Units(),
                         energy_key: str = "energy") -> dict[int, float]:
    """Reference energies from a file of single-atom frames (e.g. isolated_atoms.xyz).

    Returns {atomic number: energy in eV}. Raises DataError when a frame has more
    than one atom or an element appears twice.
    """
    energies: dict[int, float] = {}
    for frame in read_frames(path, units=units, energy_key=energy_key, forces_key=None):
        if frame.n_atoms != 1:
            raise DataError(f"{frame.source}: isolated-atom frame has {frame.n_atoms} atoms, expected 1")
        z = int(frame.numbers[0])
        if z in energies:
            raise DataError(f"{frame.source}: second reference energy for {chemical_symbols[z]}")
        energies[z] = frame.energy
    return energies


def fit_atomic_energies(frames: Sequence[Frame]) -> dict[int, float]:
    """Least-squares E0 from total energies: minimise sum_f (E_f - sum_Z n_fZ E0_Z)^2.

    frames: frames with energies (eV). Returns {atomic number: E0 in eV}. When the
    element counts do not determine E0 (e.g. every frame is the same molecule) the
    minimum-norm solution is returned, which still reproduces the mean energy.
    """
    if not frames:
        raise DataError("fit_atomic_energies: no frames given")
    unlabelled = [f.source for f in frames if f.energy is None]
    if unlabelled:
        raise DataError(f"fit_atomic_energies: {len(unlabelled)} frame(s) without energy, "
                        f"first {unlabelled[0]}")
    elements = np.unique(np.concatenate([f.numbers for f in frames]))
    counts = np.stack([np.bincount(np.searchsorted(elements, f.numbers), minlength=len(elements))
                       for f in frames]).astype(np.float64)  # (n_frames, n_elements)
    energies = np.array([f.energy for f in frames])  # (n_frames,)
    solution, *_ = np.linalg.lstsq(counts, energies, rcond=None)
    return {int(z): float(e) for z, e in zip(elements, solution)}


def atomic_energy_sum(numbers: np.ndarray, e0: Mapping[int, float]) -> float:
    """sum_i E0[Z_i] in eV for atomic numbers ``numbers`` (N,).

    Raises DataError naming the element symbols that have no entry in ``e0``.
    """
    missing = set(int(z) for z in numbers) - set(int(z) for z in e0)
    if missing:
        raise DataError(f"no reference energy for {_symbols(missing)}; available: "
                        f"{_symbols(e0) or 'none'}")
    return float(sum(e0[int(z)] for z in numbers))


def subtract_atomic_energies(frames: Sequence[Frame], e0: Mapping[int, float]) -> list[Frame]:
    """Copies of ``frames`` with energy E - sum_i E0[Z_i] (eV); frames without energy unchanged."""
    return [
        frame if frame.energy is None
        else dataclasses.replace(frame, energy=frame.energy - atomic_energy_sum(frame.numbers, e0))
        for frame in frames
    ]
