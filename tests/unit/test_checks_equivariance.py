"""gaqmd.checks.equivariance: LEE and energy invariance of analytic models with known answers."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from gaqmd.checks import local_equivariance_error
from gaqmd.data import Frame


@pytest.fixture
def frames():
    rng = np.random.default_rng(0)
    return [Frame(positions=rng.normal(size=(5, 3)), numbers=np.array([6, 1, 1, 8, 1])) for _ in range(2)]


def harmonic(positions, numbers):
    """E = sum |x|^2 / 2 eV, F = -x eV/Å: invariant and equivariant about the origin."""
    return 0.5 * float((positions**2).sum()), -positions


def constant_force(positions, numbers):
    """E = -x_0 summed over atoms, F = (1, 0, 0) eV/Å on every atom: the force does not rotate."""
    return -float(positions[:, 0].sum()), np.tile([1.0, 0.0, 0.0], (len(positions), 1))


def test_an_equivariant_model_has_zero_lee(frames):
    result = local_equivariance_error(harmonic, frames, n_rotations=3)
    assert result.lee < 1e-10 and result.energy_invariance < 1e-10
    assert (result.n_frames, result.n_rotations) == (2, 3)


def test_a_force_that_does_not_rotate(frames):
    # |e_x - R e_x| = sqrt(2 - 2 R_xx) on every atom; the rotations are the function's own (seed 0)
    rotations = Rotation.random(2 * 3, random_state=0).as_matrix()
    expected = 1e3 * np.mean(np.sqrt(2.0 - 2.0 * rotations[:, 0, 0]))
    result = local_equivariance_error(constant_force, frames, n_rotations=3)
    assert result.lee == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("count, rotations", [(0, 4), (1, 0)])
def test_no_frames_or_no_rotations_is_an_error(frames, count, rotations):
    with pytest.raises(ValueError, match="at least one frame and one rotation"):
        local_equivariance_error(harmonic, frames[:count], n_rotations=rotations)
