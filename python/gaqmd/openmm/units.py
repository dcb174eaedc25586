"""The one place where gaqmd units (eV, Å, eV/Å) meet OpenMM units (kJ/mol, nm, kJ/mol/nm).

The constants come from ``openmm.unit``, whose elementary charge (1.602176634e-19 C) and
Avogadro constant (6.02214076e23 /mol) are the exact SI 2019 / CODATA 2018 values:
1 eV = e * 1 V * N_A = 96.48533212331 kJ/mol. (gaqmd's file readers use ``ase.units``,
CODATA 2014, where 1 eV = 96.4853329 kJ/mol; the 8e-9 relative difference only matters
when comparing absolute energies to that precision.)
"""

from __future__ import annotations

import numpy as np
from openmm import unit as _unit

KJ_PER_MOL_PER_EV: float = (1.0 * _unit.elementary_charge * _unit.volt * _unit.AVOGADRO_CONSTANT_NA).value_in_unit(
    _unit.kilojoule_per_mole
)  # 96.48533212331
ANGSTROM_PER_NM: float = (1.0 * _unit.nanometer).value_in_unit(_unit.angstrom)  # 10.0
# eV/Å -> kJ/mol/nm
KJ_PER_MOL_NM_PER_EV_ANGSTROM: float = KJ_PER_MOL_PER_EV * ANGSTROM_PER_NM


def nm_to_angstrom(values):
    """Positions or box vectors: plain numbers/arrays in nm -> Å (float64 arrays)."""
    return np.asarray(values, dtype=np.float64) * ANGSTROM_PER_NM


def angstrom_to_nm(values):
    """Plain numbers/arrays in Å -> nm (float64 arrays)."""
    return np.asarray(values, dtype=np.float64) / ANGSTROM_PER_NM


def ev_to_kj_per_mol(energy: float) -> float:
    """Energy in eV -> kJ/mol."""
    return float(energy) * KJ_PER_MOL_PER_EV


def kj_per_mol_to_ev(energy: float) -> float:
    """Energy in kJ/mol -> eV."""
    return float(energy) / KJ_PER_MOL_PER_EV


def forces_to_openmm(forces):
    """Forces in eV/Å -> kJ/mol/nm (float64 array)."""
    return np.asarray(forces, dtype=np.float64) * KJ_PER_MOL_NM_PER_EV_ANGSTROM


def forces_from_openmm(forces):
    """Forces in kJ/mol/nm -> eV/Å (float64 array)."""
    return np.asarray(forces, dtype=np.float64) / KJ_PER_MOL_NM_PER_EV_ANGSTROM
