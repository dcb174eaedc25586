"""gaqmd.checks.conservation's drift fit on synthetic energy series with known slopes and noise."""

import numpy as np
import pytest
from scipy.signal import lfilter

from gaqmd.checks import drift_from_energies, linear_drift, statistical_inefficiency

TIMES = np.linspace(0.0, 10.0, 1001)  # ps


def ar1(rng, phi, shape):
    """Stationary AR(1) noise x_t = phi x_{t-1} + e_t with unit innovations, along the last axis."""
    innovations = rng.normal(size=shape)
    innovations[..., 0] /= np.sqrt(1 - phi**2)
    return lfilter([1.0], [1.0, -phi], innovations, axis=-1)


def test_known_slope_and_textbook_standard_error_for_white_noise():
    rng = np.random.default_rng(0)
    sigma, slope, intercept = 0.3, 0.7, -2.0
    fit = linear_drift(TIMES, intercept + slope * TIMES + sigma * rng.normal(size=len(TIMES)))
    expected_stderr = sigma / np.sqrt(((TIMES - TIMES.mean()) ** 2).sum())
    assert abs(fit.slope - slope) < 4 * expected_stderr
    assert abs(fit.intercept - intercept) < 0.1
    assert fit.stderr == pytest.approx(expected_stderr, rel=0.15)
    assert fit.inefficiency < 1.2


def test_exact_line_has_zero_residuals():
    fit = linear_drift(TIMES, 1.5 - 0.25 * TIMES)
    assert fit.slope == pytest.approx(-0.25, abs=1e-12)
    assert fit.intercept == pytest.approx(1.5, abs=1e-12)
    assert np.abs(fit.residuals).max() < 1e-12 and fit.stderr < 1e-12


def test_standard_error_is_calibrated_for_correlated_noise():
    # Over replicates the slope's scatter is the truth; the uncorrected OLS error would be ~4x too small.
    rng = np.random.default_rng(1)
    noise = ar1(rng, 0.9, (200, len(TIMES)))
    fits = [linear_drift(TIMES, 0.5 * TIMES + row) for row in noise]
    scatter = np.std([fit.slope for fit in fits])
    reported = np.mean([fit.stderr for fit in fits])
    naive = np.mean([fit.stderr / np.sqrt(fit.inefficiency) for fit in fits])
    assert 0.7 < reported / scatter < 1.3
    assert naive / scatter < 0.4


def test_statistical_inefficiency_of_white_and_ar1_noise():
    rng = np.random.default_rng(2)
    assert statistical_inefficiency(rng.normal(size=20000)) == pytest.approx(1.0, abs=0.1)
    phi = 0.8  # exact g = (1 + phi) / (1 - phi) = 9
    assert statistical_inefficiency(ar1(rng, phi, 200000)) == pytest.approx(9.0, rel=0.15)


def test_drift_units_and_verdict():
    # 4 atoms, total energy rising 2 meV/ps -> 0.5 meV/atom/ps
    rng = np.random.default_rng(3)
    total = -10.0 + 2e-3 * TIMES + 1e-5 * rng.normal(size=len(TIMES))
    result = drift_from_energies(TIMES, total, n_atoms=4, max_drift=0.1)
    assert result.drift == pytest.approx(0.5, rel=1e-3)
    assert result.max_abs_change == pytest.approx(1e3 * 2e-3 * 10.0 / 4, rel=1e-2)
    assert not result.conserved and "significant" in result.reason
    assert drift_from_energies(TIMES, total, n_atoms=4, max_drift=1.0).conserved  # below the threshold
    noisy = -10.0 + 2e-3 * TIMES + 0.5 * rng.normal(size=len(TIMES))  # slope lost in the noise
    result = drift_from_energies(TIMES, noisy, n_atoms=4, max_drift=0.1)
    assert result.conserved and abs(result.drift) < 3 * result.drift_stderr


def test_failure_and_too_few_samples_are_not_conserved():
    assert not drift_from_energies(TIMES[:2], np.zeros(2), n_atoms=1).conserved
    result = drift_from_energies(TIMES[:50], np.zeros(50), n_atoms=1, failure="blew up after step 50")
    assert not result.conserved and result.reason == "blew up after step 50"


def test_non_finite_energy_ends_the_series():
    total = np.zeros(len(TIMES))
    total[500] = np.nan
    result = drift_from_energies(TIMES, total, n_atoms=2)
    assert not result.conserved and "non-finite" in result.reason
    assert len(result.times) == 500 and result.drift == 0.0
