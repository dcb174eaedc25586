"""Unit conversion: factors against SI constants, and the same data stored in different units."""

from pathlib import Path

import numpy as np
import pytest

from gaqmd.data import Units, energy_factor, length_factor, read_frames
from gaqmd.data.units import force_factor
from gaqmd.testing.tolerances import SAME_DATA_ENERGY_RTOL, SAME_DATA_FORCES_ATOL, UNIT_CONVERSION_RTOL

DATA = Path(__file__).resolve().parents[1] / "data" / "rmd17"

# Oracles from SI definitions (CODATA 2018 exact e and N_A); ase.units uses CODATA 2014,
# which differs by ~1e-8 relative, hence rtol 1e-7 for these comparisons.
E_CHARGE = 1.602176634e-19  # C
AVOGADRO = 6.02214076e23  # 1/mol
CODATA_RTOL = 1e-7


@pytest.mark.parametrize(
    "unit, ev",
    [
        ("eV", 1.0),
        ("meV", 1e-3),
        ("kcal/mol", 4184.0 / (AVOGADRO * E_CHARGE)),
        ("kJ/mol", 1000.0 / (AVOGADRO * E_CHARGE)),
        ("Hartree", 27.211386245988),
        ("hartree", 27.211386245988),
        ("Ha", 27.211386245988),
    ],
)
def test_energy_factor_matches_si_definition(unit, ev):
    assert energy_factor(unit) == pytest.approx(ev, rel=CODATA_RTOL)


@pytest.mark.parametrize(
    "unit, angstrom",
    [("A", 1.0), ("Angstrom", 1.0), ("Å", 1.0), ("bohr", 0.529177210903), ("Bohr", 0.529177210903), ("nm", 10.0)],
)
def test_length_factor_matches_si_definition(unit, angstrom):
    assert length_factor(unit) == pytest.approx(angstrom, rel=CODATA_RTOL)


def test_unknown_units_list_the_accepted_ones():
    with pytest.raises(ValueError, match=r"unknown energy unit 'kcal'.*'kcal/mol'.*'Ha'"):
        energy_factor("kcal")
    with pytest.raises(ValueError, match=r"unknown length unit 'pm'.*'bohr'.*'Angstrom'"):
        length_factor("pm")
    with pytest.raises(ValueError, match="unknown energy unit"):
        Units(energy="Ry")


def test_units_canonicalizes_aliases_and_gradients_flip_sign():
    assert Units(energy="Ha", length="Bohr") == Units(energy="Hartree", length="bohr")
    assert force_factor("Hartree", "bohr", True) == pytest.approx(-27.211386245988 / 0.529177210903, rel=CODATA_RTOL)
    assert Units(forces_are_gradients=True).forces_to_ev_per_angstrom == -1.0


def test_mev_file_read_as_mev_is_ev_reading_times_1e_minus_3():
    as_mev = read_frames(DATA / "aspirin_1000.xyz", Units(energy="meV"), index=":20")
    as_ev = read_frames(DATA / "aspirin_1000.xyz", Units(energy="eV"), index=":20")
    energies_mev = np.array([f.energy for f in as_mev])
    energies_ev = np.array([f.energy for f in as_ev])
    np.testing.assert_allclose(energies_mev, 1e-3 * energies_ev, rtol=UNIT_CONVERSION_RTOL)
    assert -17700 < energies_mev.mean() < -17500  # aspirin total PBE energy, eV
    for a, b in zip(as_mev, as_ev):
        np.testing.assert_allclose(a.forces, 1e-3 * b.forces, rtol=UNIT_CONVERSION_RTOL)
        np.testing.assert_array_equal(a.positions, b.positions)


def test_bohr_lengths_scale_positions_and_divide_forces():
    in_bohr = read_frames(DATA / "train_1000.xyz", Units(length="bohr"), index=":5")
    in_angstrom = read_frames(DATA / "train_1000.xyz", index=":5")
    for a, b in zip(in_bohr, in_angstrom):
        np.testing.assert_allclose(a.positions, 0.529177210903 * b.positions, rtol=CODATA_RTOL)
        np.testing.assert_allclose(a.forces, b.forces / 0.529177210903, rtol=CODATA_RTOL)
        assert a.energy == b.energy


def test_gradients_are_negated():
    gradients = read_frames(DATA / "train_1000.xyz", Units(forces_are_gradients=True), index=":3")
    forces = read_frames(DATA / "train_1000.xyz", index=":3")
    for g, f in zip(gradients, forces):
        np.testing.assert_array_equal(g.forces, -f.forces)
        assert np.abs(f.forces).max() > 0.1


def _canonical_geometry(frame):
    """Permutation sorting atoms by (Z, x, y, z) and the sorted (Z, rounded xyz) rows as a key."""
    rounded = np.round(frame.positions, 6)
    order = np.lexsort((rounded[:, 2], rounded[:, 1], rounded[:, 0], frame.numbers))
    key = np.column_stack([frame.numbers[order], rounded[order]]).tobytes()
    return order, key


def test_frames_stored_in_kcal_mol_and_ev_agree():
    """The same rMD17 ethanol frames, kcal/mol with H-first atom order vs eV with C-first order."""
    kcal = read_frames(DATA / "ethanol_100_kcalmol.xyz", Units(energy="kcal/mol"))
    ev = read_frames(DATA / "train_1000.xyz")
    by_geometry = {}
    for frame in ev:
        order, key = _canonical_geometry(frame)
        by_geometry[key] = (frame, order)
    pairs = []
    for frame in kcal:
        order, key = _canonical_geometry(frame)
        if key in by_geometry:
            other, other_order = by_geometry[key]
            pairs.append((frame, order, other, other_order))
    assert len(pairs) == 2  # see tests/data/rmd17/README.md
    for frame, order, other, other_order in pairs:
        assert frame.numbers[0] == 1 and other.numbers[0] == 6  # orders really differ
        assert frame.energy == pytest.approx(other.energy, rel=SAME_DATA_ENERGY_RTOL, abs=0)
        np.testing.assert_allclose(frame.forces[order], other.forces[other_order], rtol=0, atol=SAME_DATA_FORCES_ATOL)
        np.testing.assert_array_equal(frame.positions[order], other.positions[other_order])
