"""Symmetries of the potential in float64: rotations (e3nn), translations, permutations."""

import numpy as np
import pytest
import torch
from e3nn.util.test import assert_equivariant

from gaqmd.data import read_frames, Units
from gaqmd.testing.model import energy_forces_fn, make_model
from gaqmd.testing.tolerances import FLOAT64_EQUIVARIANCE

VARIANTS = [(1, False), (1, True), (2, False), (2, True)]


@pytest.fixture(scope="module")
def aspirin(data_dir):
    return read_frames(data_dir / "rmd17" / "aspirin_1000.xyz", units=Units(energy="meV"), index="0")[0]


@pytest.mark.parametrize("l_max,attention", VARIANTS)
def test_rotation_equivariance(aspirin, l_max, attention, float64_default):
    model = make_model(l_max=l_max, attention=attention)
    energy_forces = energy_forces_fn(model, aspirin.numbers)

    def fn(positions):
        energy, forces = energy_forces(positions)
        return energy.reshape(1), forces

    positions = torch.tensor(aspirin.positions)
    errors = assert_equivariant(
        fn,
        args_in=[positions],
        irreps_in=["cartesian_points"],
        irreps_out=["0e", "1o"],
        tolerance=FLOAT64_EQUIVARIANCE,
    )
    assert max(float(e.abs().max()) for e in errors.values()) < FLOAT64_EQUIVARIANCE


@pytest.mark.parametrize("l_max,attention", VARIANTS)
def test_permutation_invariance(aspirin, l_max, attention):
    model = make_model(l_max=l_max, attention=attention)
    permutation = np.random.default_rng(0).permutation(len(aspirin.numbers))
    energy, forces = energy_forces_fn(model, aspirin.numbers)(torch.tensor(aspirin.positions))
    energy_p, forces_p = energy_forces_fn(model, aspirin.numbers[permutation])(
        torch.tensor(aspirin.positions[permutation])
    )
    assert torch.allclose(energy_p, energy, rtol=0, atol=1e-12 * float(energy.abs()))
    assert torch.allclose(forces_p, forces[permutation], rtol=0, atol=FLOAT64_EQUIVARIANCE)


def test_forces_change_under_a_rotation_of_a_single_atom_type(aspirin):
    """Guards the symmetry tests: the model is not trivially constant."""
    model = make_model(l_max=1, attention=False)
    fn = energy_forces_fn(model, aspirin.numbers)
    positions = torch.tensor(aspirin.positions)
    moved = positions.clone()
    moved[0] += 0.05
    assert abs(float(fn(positions)[0] - fn(moved)[0])) > 1e-6
