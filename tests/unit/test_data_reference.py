"""Per-element reference energies: isolated atoms file and least-squares fit."""

from pathlib import Path

import numpy as np
import pytest

from gaqmd.data import DataError, Frame, fit_atomic_energies, read_atomic_energies
from gaqmd.data.reference import atomic_energy_sum, subtract_atomic_energies

DATA = Path(__file__).resolve().parents[1] / "data" / "rmd17"
KNOWN = {1: -13.6, 6: -1025.3, 8: -2035.6, 7: -1479.1}


def synthetic(compositions, e0, noise=0.0, seed=0):
    rng = np.random.default_rng(seed)
    frames = []
    for k, numbers in enumerate(compositions):
        energy = sum(e0[z] for z in numbers) + noise * rng.normal()
        frames.append(Frame(numbers=numbers, positions=rng.uniform(0, 5, (len(numbers), 3)), energy=energy,
                            source=f"synthetic {k}"))
    return frames


def test_isolated_atoms_file():
    e0 = read_atomic_energies(DATA / "isolated_atoms.xyz")
    assert sorted(e0) == [1, 6, 7, 8]
    assert e0[1] == pytest.approx(-13.568422383046626, rel=1e-15)
    assert e0[7] == pytest.approx(-1479.0665594928669, rel=1e-15)


def test_isolated_atoms_file_rejects_molecules():
    with pytest.raises(DataError, match=r"train_1000\.xyz:frame 0 .*has 9 atoms, expected 1"):
        read_atomic_energies(DATA / "train_1000.xyz")


def test_fit_recovers_known_energies_from_varied_compositions():
    rng = np.random.default_rng(1)
    compositions = [rng.choice([1, 6, 7, 8], size=rng.integers(2, 12)) for _ in range(40)]
    fitted = fit_atomic_energies(synthetic(compositions, KNOWN))
    assert sorted(fitted) == [1, 6, 7, 8]
    for z, energy in KNOWN.items():
        assert fitted[z] == pytest.approx(energy, abs=1e-9)


def test_fit_on_single_molecule_gives_minimum_norm_solution():
    ethanol = [6, 6, 8, 1, 1, 1, 1, 1, 1]
    frames = synthetic([ethanol] * 10, KNOWN, noise=0.1)
    fitted = fit_atomic_energies(frames)
    mean = np.mean([f.energy for f in frames])
    counts = np.array([6, 2, 1])  # H, C, O
    # minimum-norm solution of counts . e = mean: e proportional to the counts
    np.testing.assert_allclose([fitted[1], fitted[6], fitted[8]], counts * mean / (counts @ counts), rtol=1e-12)
    assert atomic_energy_sum(np.array(ethanol), fitted) == pytest.approx(mean, rel=1e-12)


def test_missing_element_named():
    with pytest.raises(DataError, match=r"no reference energy for N \(Z=7\), S \(Z=16\); available: H \(Z=1\)"):
        atomic_energy_sum(np.array([1, 7, 16]), {1: -13.6})


def test_subtract_atomic_energies():
    frames = synthetic([[1, 1], [8, 1, 1]], KNOWN)
    shifted = subtract_atomic_energies(frames, KNOWN)
    assert [f.energy for f in shifted] == pytest.approx([0.0, 0.0], abs=1e-10)
    assert shifted[1].source == "synthetic 1"
