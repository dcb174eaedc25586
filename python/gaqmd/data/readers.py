"""``read_frames``: extended XYZ, ASE database and (r)MD17 npz files to Frames in eV and Å."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Optional, Sequence, Union

import numpy as np
from ase.io.formats import string2index

from .extxyz import read_extxyz
from .frame import DataError, Frame, Units, first_nonfinite_row

Index = Union[int, slice, str, Sequence[int]]

# npz layouts: role -> array name. MD17 (sGDML) and revised MD17 files.
_NPZ_LAYOUTS = {
    "rMD17": {"numbers": "nuclear_charges", "positions": "coords", "energy": "energies", "forces": "forces"},
    "MD17": {"numbers": "z", "positions": "R", "energy": "E", "forces": "F"},
}

# Calculator results an ASE database row can carry besides key-value pairs and data.
_DB_RESULTS = ("energy", "free_energy", "forces", "stress", "dipole", "charges", "magmom", "magmoms")


def read_frames(path: Union[str, os.PathLike], units: Units = Units(), energy_key: Optional[str] = "energy",
                forces_key: Optional[str] = "forces", index: Index = ":") -> list[Frame]:
    """Read labelled frames from ``path``, converting from ``units`` to eV, Å and eV/Å.

    Format by suffix: .xyz/.extxyz (extended XYZ), .db (ASE database), .npz (MD17 keys
    z, R, E, F or rMD17 keys nuclear_charges, coords, energies, forces).
    energy_key / forces_key: where the labels are stored; None skips that label.
    For npz the default names map to the layout's own (E/F or energies/forces).
    index: int, slice, ASE-style string (":", "10:20", "-1") or sequence of ints,
    selecting frames in file order.
    Returns a list of Frame. Raises DataError naming the file and the line (xyz),
    row (db) or key (npz) for any unusable input.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    readers = {".xyz": read_extxyz, ".extxyz": read_extxyz, ".db": _read_db, ".npz": _read_npz}
    reader = readers.get(path.suffix.lower())
    if reader is None:
        raise DataError(f"{path}: unknown file type {path.suffix!r}; accepted: {', '.join(readers)}")
    return reader(path, units, energy_key, forces_key, _selector(path, index))


def _selector(path: Path, index: Index) -> Callable[[int], list[int]]:
    """Turn ``index`` into a function n_frames -> selected frame numbers."""
    if isinstance(index, str):
        index = string2index(index)

    def select(n_frames: int) -> list[int]:
        if isinstance(index, slice):
            return list(range(n_frames)[index])
        wanted = [index] if isinstance(index, (int, np.integer)) else list(index)
        for k in wanted:
            if not -n_frames <= k < n_frames:
                raise DataError(f"{path}: frame index {k} out of range for {n_frames} frames")
        return [int(k) % n_frames for k in wanted]

    return select


def _read_db(path: Path, units: Units, energy_key: Optional[str], forces_key: Optional[str],
             select: Callable[[int], list[int]]) -> list[Frame]:
    """Frames of an ASE database; labels from calculator results, key-value pairs or data."""
    import ase.db

    try:
        rows = sorted(ase.db.connect(str(path), type="db").select(), key=lambda row: row.id)
    except Exception as err:  # sqlite and ASE raise assorted types for a non-database file
        raise DataError(f"{path}: cannot read as an ASE database: {type(err).__name__}: {err}") from err
    frames = []
    for number in select(len(rows)):
        row = rows[number]
        where = f"{path}:row {row.id}"
        energy = None if energy_key is None else _db_value(row, energy_key, "energy", where)
        forces = None if forces_key is None else _db_value(row, forces_key, "forces", where)
        atoms = row.toatoms()
        pbc = tuple(bool(p) for p in atoms.pbc)
        frames.append(Frame(
            numbers=atoms.numbers,
            positions=atoms.positions * units.length_to_angstrom,
            energy=None if energy is None else float(energy) * units.energy_to_ev,
            forces=None if forces is None else np.asarray(forces, float) * units.forces_to_ev_per_angstrom,
            cell=atoms.cell.array * units.length_to_angstrom if any(pbc) else None,
            pbc=pbc,
            source=where,
        ))
    return frames


def _db_value(row, key: str, role: str, where: str):
    if key in row.key_value_pairs:
        return row.key_value_pairs[key]
    if key in row.data:
        return row.data[key]
    if key in _DB_RESULTS and key in row:
        return row.get(key)
    available = [k for k in _DB_RESULTS if k in row] + sorted(row.key_value_pairs) + sorted(row.data)
    raise DataError(f"{where}: no {role} under key {key!r}; available keys: {available}")


def _read_npz(path: Path, units: Units, energy_key: Optional[str], forces_key: Optional[str],
              select: Callable[[int], list[int]]) -> list[Frame]:
    """Frames of an MD17/rMD17 npz archive (one molecule, many geometries)."""
    try:
        archive = np.load(path, allow_pickle=False)
    except Exception as err:  # zipfile/numpy raise assorted types for a corrupt archive
        raise DataError(f"{path}: cannot read as an npz archive: {type(err).__name__}: {err}") from err
    with archive:
        present = sorted(archive.files)
        layout_name = next((name for name, keys in _NPZ_LAYOUTS.items() if keys["numbers"] in present), None)
        if layout_name is None:
            raise DataError(f"{path}: no atomic-number key: expected 'nuclear_charges' (rMD17) or "
                            f"'z' (MD17); keys present: {present}")
        layout = _NPZ_LAYOUTS[layout_name]
        keys = {
            "numbers": layout["numbers"],
            "positions": layout["positions"],
            "energy": layout["energy"] if energy_key == "energy" else energy_key,
            "forces": layout["forces"] if forces_key == "forces" else forces_key,
        }
        arrays = {}
        for role, key in keys.items():
            if key is None:
                continue
            if key not in present:
                raise DataError(f"{path}: missing key {key!r} ({role}, {layout_name} layout); "
                                f"keys present: {present}")
            arrays[role] = archive[key]
    return _npz_frames(path, arrays, keys, units, select)


def _npz_frames(path: Path, arrays: dict, keys: dict, units: Units,
                select: Callable[[int], list[int]]) -> list[Frame]:
    numbers = arrays["numbers"].astype(np.int64)
    positions = arrays["positions"].astype(np.float64)
    n_atoms = len(numbers)
    if numbers.ndim != 1 or positions.ndim != 3 or positions.shape[1:] != (n_atoms, 3):
        raise DataError(f"{path}: key {keys['positions']!r} has shape {positions.shape} and "
                        f"{keys['numbers']!r} shape {numbers.shape}; expected (n_frames, N, 3) and (N,)")
    n_frames = len(positions)
    energies = arrays.get("energy")
    if energies is not None:
        energies = energies.astype(np.float64)
        if energies.shape not in ((n_frames,), (n_frames, 1)):
            raise DataError(f"{path}: key {keys['energy']!r} has shape {energies.shape}, "
                            f"expected ({n_frames},) or ({n_frames}, 1)")
        energies = energies.reshape(n_frames)
    forces = arrays.get("forces")
    if forces is not None and forces.shape != positions.shape:
        raise DataError(f"{path}: key {keys['forces']!r} has shape {forces.shape}, expected {positions.shape}")
    chosen = select(n_frames)
    for role, values in [("positions", positions), ("energy", energies), ("forces", forces)]:
        if values is not None:
            frame = first_nonfinite_row(values[chosen])
            if frame is not None:
                raise DataError(f"{path}: key {keys[role]!r}, frame {chosen[frame]}: non-finite values")
    return [
        Frame(
            numbers=numbers,
            positions=positions[k] * units.length_to_angstrom,
            energy=None if energies is None else energies[k] * units.energy_to_ev,
            forces=None if forces is None else forces[k] * units.forces_to_ev_per_angstrom,
            source=f"{path}:frame {k}",
        )
        for k in chosen
    ]
