"""Unit names accepted by the readers and their conversion factors to eV and Å.

Everything inside gaqmd is in eV (energies), Å (lengths) and eV/Å (forces).
A file's units are described by an energy unit and a length unit; its force unit
is always energy unit / length unit. The factors come from ``ase.units`` (CODATA
2014), which is also what the public rMD17/BOTNet eV files were converted with.
"""

from __future__ import annotations

from ase import units as _ase

# Canonical name -> size of one unit in eV.
_ENERGY_IN_EV: dict[str, float] = {
    "eV": 1.0,
    "meV": 1e-3,
    "kcal/mol": _ase.kcal / _ase.mol,
    "kJ/mol": _ase.kJ / _ase.mol,
    "Hartree": _ase.Hartree,
}
_ENERGY_ALIASES: dict[str, str] = {"hartree": "Hartree", "Ha": "Hartree"}

# Canonical name -> size of one unit in Å.
_LENGTH_IN_ANGSTROM: dict[str, float] = {
    "A": 1.0,
    "bohr": _ase.Bohr,
    "nm": _ase.nm,
}
_LENGTH_ALIASES: dict[str, str] = {"Angstrom": "A", "Å": "A", "Bohr": "bohr"}


def _accepted(canonical: dict[str, float], aliases: dict[str, str]) -> str:
    return ", ".join(repr(name) for name in [*canonical, *aliases])


def canonical_energy_unit(unit: str) -> str:
    """Canonical spelling of an energy unit name ("Ha" -> "Hartree").

    Raises ValueError, listing the accepted names, for an unknown unit.
    """
    name = _ENERGY_ALIASES.get(unit, unit)
    if name not in _ENERGY_IN_EV:
        raise ValueError(
            f"unknown energy unit {unit!r}; accepted: "
            f"{_accepted(_ENERGY_IN_EV, _ENERGY_ALIASES)}"
        )
    return name


def canonical_length_unit(unit: str) -> str:
    """Canonical spelling of a length unit name ("Angstrom" -> "A").

    Raises ValueError, listing the accepted names, for an unknown unit.
    """
    name = _LENGTH_ALIASES.get(unit, unit)
    if name not in _LENGTH_IN_ANGSTROM:
        raise ValueError(
            f"unknown length unit {unit!r}; accepted: "
            f"{_accepted(_LENGTH_IN_ANGSTROM, _LENGTH_ALIASES)}"
        )
    return name


def energy_factor(unit: str) -> float:
    """Multiply an energy in ``unit`` by this to get eV (e.g. 1e-3 for "meV")."""
    return _ENERGY_IN_EV[canonical_energy_unit(unit)]


def length_factor(unit: str) -> float:
    """Multiply a length in ``unit`` by this to get Å (e.g. 0.529... for "bohr")."""
    return _LENGTH_IN_ANGSTROM[canonical_length_unit(unit)]


def force_factor(energy_unit: str, length_unit: str, forces_are_gradients: bool) -> float:
    """Multiply a force in ``energy_unit/length_unit`` by this to get eV/Å.

    With ``forces_are_gradients`` the stored values are dE/dx, so the factor is
    negated to turn them into forces -dE/dx.
    """
    factor = energy_factor(energy_unit) / length_factor(length_unit)
    return -factor if forces_are_gradients else factor
