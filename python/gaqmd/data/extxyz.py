"""Extended-XYZ reading: a line-tracking structural scan, then ASE for the parsing.

ASE's extxyz reader locates frames by counting lines, so a frame with a missing
atom line silently shifts every later frame, extra columns are ignored, and a blank
line makes it stop reading without complaint. The scan here checks the layout
first so that such files fail with the file name and the offending line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import ase.io
import numpy as np

from .frame import DataError, Frame, Units, first_nonfinite_row

_PROPERTIES = re.compile(r"(?:^|\s)Properties=([\"']?)(\S+?)\1(?=\s|$)")
_DEFAULT_PROPERTIES = "species:S:1:pos:R:3"


@dataclass(frozen=True)
class FrameLayout:
    """Where frame ``number`` sits in the file: its atom-count line (1-based) and size."""

    number: int
    header_line: int
    n_atoms: int

    @property
    def first_atom_line(self) -> int:
        return self.header_line + 2


def _column_count(comment: str, path: Path, line_no: int) -> tuple[int, str]:
    """Number of columns per atom line announced by a comment line, and the spec."""
    match = _PROPERTIES.search(comment)
    spec = match.group(2) if match else _DEFAULT_PROPERTIES
    fields = spec.split(":")
    try:
        if len(fields) % 3 != 0:
            raise ValueError
        return sum(int(count) for count in fields[2::3]), spec
    except ValueError:
        raise DataError(f"{path} line {line_no}: malformed Properties={spec!r} "
                        "(expected name:type:count triples)") from None


def _check_atom_lines(lines: list[str], frame: FrameLayout, path: Path) -> None:
    n_columns, spec = _column_count(lines[frame.header_line], path, frame.header_line + 1)
    for atom in range(frame.n_atoms):
        line_no = frame.first_atom_line + atom
        if line_no > len(lines):
            raise DataError(
                f"{path} line {line_no}: expected {frame.n_atoms} atom lines for frame "
                f"{frame.number} (atom count on line {frame.header_line}), file ended after {atom}")
        text = lines[line_no - 1]
        n_found = len(text.split())
        if n_found != n_columns:
            hint = ""
            if text.strip().isdigit():
                hint = f"; frame {frame.number} seems to have fewer than {frame.n_atoms} atom lines"
            raise DataError(
                f"{path} line {line_no}: expected {n_columns} columns ({spec}) for atom {atom} "
                f"of frame {frame.number}, found {n_found}{hint}")


def scan_extxyz(path: Path, text: str) -> list[FrameLayout]:
    """Check the line structure of an extxyz file's ``text``; one FrameLayout per frame.

    Raises DataError naming ``path`` and the line for a non-integer atom count, a
    missing comment line, too few atom lines, a wrong number of columns, or a blank
    line followed by more data.
    """
    lines = text.splitlines()
    frames: list[FrameLayout] = []
    k = 0  # 0-based index of the next unread line
    while k < len(lines):
        if not lines[k].strip():
            later = next((j for j in range(k, len(lines)) if lines[j].strip()), None)
            if later is not None:
                raise DataError(f"{path} line {k + 1}: blank line inside the file; ASE would stop "
                                f"reading here and drop everything from line {later + 1} on")
            break
        try:
            n_atoms = int(lines[k].strip())
        except ValueError:
            raise DataError(f"{path} line {k + 1}: expected the atom count of frame {len(frames)} "
                            f"(an integer), found {lines[k].strip()[:60]!r}") from None
        if n_atoms < 1:
            raise DataError(f"{path} line {k + 1}: atom count of frame {len(frames)} is {n_atoms}")
        if k + 1 >= len(lines):
            raise DataError(f"{path} line {k + 2}: expected the comment line of frame "
                            f"{len(frames)}, file ended")
        frame = FrameLayout(number=len(frames), header_line=k + 1, n_atoms=n_atoms)
        _check_atom_lines(lines, frame, path)
        frames.append(frame)
        k += 2 + n_atoms
        while k < len(lines) and lines[k].lstrip().startswith("VEC"):
            k += 1
    if not frames:
        raise DataError(f"{path}: no frames in file")
    return frames


def _per_frame_value(atoms: ase.Atoms, key: str):
    if key in atoms.info:
        return atoms.info[key]
    if atoms.calc is not None and key in atoms.calc.results:
        return atoms.calc.results[key]
    return None


def _per_atom_value(atoms: ase.Atoms, key: str):
    if key in atoms.arrays and key not in ("numbers", "positions"):
        return atoms.arrays[key]
    if atoms.calc is not None and key in atoms.calc.results:
        return atoms.calc.results[key]
    return None


def _available_keys(atoms: ase.Atoms) -> list[str]:
    keys = set(atoms.info) | (set(atoms.arrays) - {"numbers", "positions"})
    if atoms.calc is not None:
        keys |= set(atoms.calc.results)
    return sorted(keys)


def _labels(atoms: ase.Atoms, layout: FrameLayout, path: Path, energy_key: Optional[str],
            forces_key: Optional[str]) -> tuple[Optional[float], Optional[np.ndarray]]:
    """Raw (unconverted) energy and (N, 3) forces of one frame, checked for presence and NaN."""
    energy = forces = None
    where = f"{path} line {layout.header_line + 1} (frame {layout.number})"
    if energy_key is not None:
        energy = _per_frame_value(atoms, energy_key)
        if energy is None:
            raise DataError(f"{where}: no energy under key {energy_key!r}; "
                            f"available keys: {_available_keys(atoms)}")
        try:
            energy = float(energy)
        except (TypeError, ValueError):
            raise DataError(f"{where}: {energy_key}={energy!r} is not a number") from None
        if not np.isfinite(energy):
            raise DataError(f"{where}: {energy_key} is {energy}")
    if forces_key is not None:
        forces = _per_atom_value(atoms, forces_key)
        if forces is None:
            raise DataError(f"{where}: no forces under key {forces_key!r}; "
                            f"available keys: {_available_keys(atoms)}")
        forces = np.asarray(forces, dtype=np.float64)
        if forces.shape != (len(atoms), 3):
            raise DataError(f"{where}: {forces_key} has shape {forces.shape}, expected ({len(atoms)}, 3)")
        _require_finite(forces, forces_key, layout, path)
    return energy, forces


def _require_finite(values: np.ndarray, what: str, layout: FrameLayout, path: Path) -> None:
    row = first_nonfinite_row(values)
    if row is not None:
        raise DataError(f"{path} line {layout.first_atom_line + row}: {what} of atom {row} "
                        f"(frame {layout.number}) not finite: {values[row].tolist()}")


def read_extxyz(path: Path, units: Units, energy_key: Optional[str], forces_key: Optional[str],
                select) -> list[Frame]:
    """Frames of an extended-XYZ file, converted to eV and Å.

    ``select(n_frames) -> list[int]`` picks the frames to return, in order.
    A Lattice with pbc all False gives cell None. Raises DataError naming the line.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not UTF-8 text ({err})") from None
    layouts = scan_extxyz(path, text)
    try:
        all_atoms = ase.io.read(path, index=":", format="extxyz")
    except Exception as err:  # ASE raises many types for bad values; all mean "unparsable"
        raise DataError(f"{path}: ASE could not parse the file: {type(err).__name__}: {err}") from err
    frames = []
    for number in select(len(layouts)):
        atoms, layout = all_atoms[number], layouts[number]
        energy, forces = _labels(atoms, layout, path, energy_key, forces_key)
        _require_finite(atoms.positions, "position", layout, path)
        pbc = tuple(bool(p) for p in atoms.pbc)
        frames.append(Frame(
            numbers=atoms.numbers,
            positions=atoms.positions * units.length_to_angstrom,
            energy=None if energy is None else energy * units.energy_to_ev,
            forces=None if forces is None else forces * units.forces_to_ev_per_angstrom,
            cell=atoms.cell.array * units.length_to_angstrom if any(pbc) else None,
            pbc=pbc,
            source=f"{path}:frame {number} (line {layout.header_line})",
        ))
    return frames
