"""gaqmd.checks.parity: a model against itself, and analytic models with known differences."""

import copy

import numpy as np
import pytest
import torch

from gaqmd.checks import cosine_similarity, energy_force_parity, format_parity, model_energy_forces
from gaqmd.data import Units, read_frames
from gaqmd.testing.model import make_model


@pytest.fixture(scope="module")
def frames(data_dir):
    return read_frames(data_dir / "rmd17" / "aspirin_1000.xyz", Units(energy="meV"), index=":4")


def harmonic(positions, numbers):
    """E = sum |x|^2 / 2 eV about the origin, F = -x eV/Å."""
    return 0.5 * float((positions**2).sum()), -positions


def test_model_against_itself_is_exactly_zero(frames):
    energy_forces = model_energy_forces(make_model(species=(1, 6, 8)))
    result = energy_force_parity(energy_forces, energy_forces, frames, frames[0].numbers)
    assert result.n_frames == 4 and result.n_atoms == 21
    assert result.energy_mae == 0.0 and result.max_energy_error == 0.0
    assert result.force_mae == 0.0 and result.max_force_error == 0.0
    assert result.mean_cosine == 1.0 and result.min_cosine == 1.0
    assert "force MAE" in format_parity(result)


def test_float32_model_against_its_float64_original_is_close_but_not_equal(frames):
    model = make_model(species=(1, 6, 8))
    fp32 = copy.deepcopy(model).to(torch.float32)
    result = energy_force_parity(model_energy_forces(fp32, torch.float32), model_energy_forces(model),
                                 frames, frames[0].numbers)
    assert 0.0 < result.force_mae < 1.0  # meV/Å
    assert result.mean_cosine > 1 - 1e-6


def test_known_differences_of_analytic_models(frames):
    numbers = frames[0].numbers
    positions = np.array([frame.positions for frame in frames])

    def doubled(x, z):
        return 2.0 * harmonic(x, z)[0] + 0.5, 2.0 * harmonic(x, z)[1]

    def reversed_forces(x, z):
        return harmonic(x, z)[0], -harmonic(x, z)[1]

    result = energy_force_parity(doubled, harmonic, positions, numbers)
    # the difference equals the reference itself: energy error E + 0.5 eV, force error |F| = |x|
    expected_energy = 1e3 * (0.5 * (positions**2).sum(axis=(1, 2)) + 0.5)
    np.testing.assert_allclose(result.energy_error, expected_energy, rtol=1e-12)
    assert result.force_mae == pytest.approx(1e3 * np.abs(positions).mean(), rel=1e-12)
    assert result.max_force_error == pytest.approx(1e3 * np.linalg.norm(positions, axis=2).max(), rel=1e-12)
    assert result.mean_cosine == pytest.approx(1.0, abs=1e-12)
    assert result.energy_error_std == pytest.approx(np.std(expected_energy), rel=1e-9)
    assert energy_force_parity(reversed_forces, harmonic, positions, numbers).mean_cosine == pytest.approx(-1.0)


def test_cosine_of_perpendicular_and_zero_forces():
    forces = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 3.0, 0.0]])
    reference = np.array([[0.0, 2.0, 0.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    np.testing.assert_array_equal(cosine_similarity(forces, reference), [0.0, 1.0, 0.0, 1.0])
