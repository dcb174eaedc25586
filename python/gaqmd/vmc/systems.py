"""Molecular systems for VMC: nuclei (bohr), charges (e) and the numbers of spin-up and spin-down electrons.

Spin is 2S = n_up − n_down (PySCF's `spin`). Without one, atoms by symbol take their ground-state
multiplicity (Hund's rule, H to Ar) and molecules the lowest one, n_electrons mod 2.
"""

from dataclasses import dataclass
from pathlib import Path

import torch
from ase.data import atomic_numbers, chemical_symbols
from ase.units import Bohr

# 2S of the neutral atoms' ground states, H to Ar.
_ATOM_SPIN = (1, 0, 1, 0, 1, 2, 3, 2, 1, 0, 1, 0, 1, 2, 3, 2, 1, 0)
LENGTH_UNITS = {"bohr": 1.0, "A": 1.0 / Bohr, "Angstrom": 1.0 / Bohr}


@dataclass(frozen=True)
class System:
    """Point nuclei and electrons. positions: one (x, y, z) per nucleus, bohr; charges: e."""

    name: str
    symbols: tuple[str, ...]
    positions: tuple[tuple[float, float, float], ...]
    charges: tuple[float, ...]
    n_up: int
    n_down: int

    @property
    def n_electrons(self) -> int:
        return self.n_up + self.n_down

    @property
    def spin(self) -> int:
        return self.n_up - self.n_down

    @property
    def charge(self) -> int:
        return round(sum(self.charges)) - self.n_electrons

    def nuclei(self, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """Nuclear positions (A, 3), bohr."""
        return torch.tensor(self.positions, dtype=dtype).reshape(-1, 3)

    def nuclear_charges(self, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """Nuclear charges (A,), e."""
        return torch.tensor(self.charges, dtype=dtype)


def _atomic_number(symbol: str) -> int:
    number = atomic_numbers.get(symbol.strip().capitalize())
    if number is None or number == 0:
        raise ValueError(f"unknown element {symbol!r}")
    return number


def make_system(name: str, symbols, positions, charge: int = 0, spin: int | None = None) -> System:
    """A System from element symbols and positions (A, 3) in bohr, total charge Q and 2S (None: lowest).

    Raises ValueError for unknown elements, no electrons, or a spin that the electron count cannot have.
    """
    numbers = [_atomic_number(s) for s in symbols]
    positions = tuple(tuple(float(c) for c in row) for row in positions)
    if not numbers or any(len(row) != 3 for row in positions) or len(positions) != len(numbers):
        raise ValueError(f"{name}: need one (x, y, z) position per nucleus, got {len(positions)} for {len(numbers)}")
    n_electrons = sum(numbers) - charge
    if n_electrons < 1:
        raise ValueError(f"{name}: charge {charge} leaves {n_electrons} electrons")
    if spin is None:
        spin = n_electrons % 2
    if abs(spin) > n_electrons or (n_electrons - spin) % 2:
        raise ValueError(
            f"{name}: {n_electrons} electrons cannot have spin 2S = {spin}; "
            f"2S must have the parity of the electron count and lie in [-{n_electrons}, {n_electrons}]"
        )
    return System(
        name=name,
        symbols=tuple(chemical_symbols[z] for z in numbers),
        positions=positions,
        charges=tuple(float(z) for z in numbers),
        n_up=(n_electrons + spin) // 2,
        n_down=(n_electrons - spin) // 2,
    )


def atom(symbol: str, charge: int = 0, spin: int | None = None) -> System:
    """One atom at the origin; neutral atoms H–Ar default to their ground-state spin."""
    z = _atomic_number(symbol)
    if spin is None and charge == 0 and z <= len(_ATOM_SPIN):
        spin = _ATOM_SPIN[z - 1]
    return make_system(chemical_symbols[z], [chemical_symbols[z]], [(0.0, 0.0, 0.0)], charge, spin)


def hydrogen_molecule(bond: float = 1.4, charge: int = 0, spin: int | None = None) -> System:
    """H2 along z with the bond length `bond`, bohr, centred on the origin."""
    if bond <= 0:
        raise ValueError(f"H2 bond length must be positive, got {bond} bohr")
    positions = [(0.0, 0.0, -bond / 2), (0.0, 0.0, bond / 2)]
    return make_system(f"H2 (R = {bond:g} bohr)", ["H", "H"], positions, charge, spin)


def lithium_hydride(bond: float = 3.015, charge: int = 0, spin: int | None = None) -> System:
    """LiH along z with Li at the origin and H at z = `bond`, bohr (3.015 bohr: the equilibrium)."""
    if bond <= 0:
        raise ValueError(f"LiH bond length must be positive, got {bond} bohr")
    return make_system(f"LiH (R = {bond:g} bohr)", ["Li", "H"], [(0.0, 0.0, 0.0), (0.0, 0.0, bond)], charge, spin)


def named_system(name: str, bond: float | None = None, charge: int = 0, spin: int | None = None) -> System:
    """'H2' (bond in bohr, default 1.4), 'LiH' (default 3.015 bohr) or an element symbol."""
    if name.upper() == "H2":
        return hydrogen_molecule(1.4 if bond is None else bond, charge, spin)
    if name.upper() == "LIH":
        return lithium_hydride(3.015 if bond is None else bond, charge, spin)
    if bond is not None:
        raise ValueError(f"--bond applies to H2 and LiH only, not to {name!r}")
    return atom(name, charge, spin)


def read_xyz(path: str | Path, length_unit: str = "A", charge: int = 0, spin: int | None = None) -> System:
    """A molecule from a plain XYZ file (count line, comment line, `symbol x y z` lines; extra columns
    are ignored), positions in `length_unit` ("A" or "bohr"), converted to bohr."""
    if length_unit not in LENGTH_UNITS:
        raise ValueError(f"unknown length unit {length_unit!r}; accepted: {', '.join(LENGTH_UNITS)}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    lines = path.read_text().splitlines()
    try:
        count = int(lines[0].split()[0])
    except (IndexError, ValueError):
        raise ValueError(f"{path} line 1: expected the number of atoms") from None
    if len(lines) < count + 2:
        raise ValueError(f"{path}: expected {count} atom lines after the comment line, found {len(lines) - 2}")
    symbols, positions = [], []
    for number, line in enumerate(lines[2 : count + 2], start=3):
        fields = line.split()
        try:
            if len(fields) < 4:
                raise ValueError
            positions.append([float(v) * LENGTH_UNITS[length_unit] for v in fields[1:4]])
        except ValueError:
            raise ValueError(f"{path} line {number}: expected `symbol x y z`, found {line.strip()!r}") from None
        symbols.append(fields[0])
    try:
        return make_system(path.stem, symbols, positions, charge, spin)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
