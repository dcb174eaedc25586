"""Blocked error bars against AR(1) series, whose standard error of the mean is known exactly."""

import math

import numpy as np
import pytest
from scipy.signal import lfilter

from gaqmd.vmc.blocking import blocked_error, blocking_levels


def ar1(phi: float, n: int, seed: int) -> np.ndarray:
    """x_t = φ x_{t−1} + ε_t, ε ~ N(0, 1), started in the stationary state (variance 1 / (1 − φ²))."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(n)
    noise[0] /= math.sqrt(1.0 - phi * phi)
    return lfilter([1.0], [1.0, -phi], noise)


def ar1_stderr(phi: float, n: int) -> float:
    """Standard error of the mean of n stationary AR(1) samples: the variance of the mean is
    σ²/n · (1 + 2 Σ_k (1 − k/n) φ^k), σ² = 1/(1 − φ²); integrated autocorrelation time (1 + φ)/(1 − φ)."""
    k = np.arange(1, n)
    factor = 1.0 + 2.0 * np.sum((1.0 - k / n) * phi**k)
    return math.sqrt(factor / ((1.0 - phi * phi) * n))


@pytest.mark.parametrize("phi", [0.5, 0.9])
def test_blocked_error_of_ar1_matches_the_exact_standard_error(phi):
    n = 2**17
    exact = ar1_stderr(phi, n)
    ratios = []
    for seed in range(5):
        x = ar1(phi, n, seed)
        mean, stderr = blocked_error(x)
        assert mean == pytest.approx(x.mean(), rel=1e-12)
        assert abs(mean) < 5.0 * exact
        ratios.append(stderr / exact)
    naive = math.sqrt(ar1(phi, n, 0).var() / n)
    assert naive < 0.7 * exact  # the correlation matters, so the test has teeth
    assert all(0.8 < r < 1.2 for r in ratios), ratios
    assert 0.9 < np.mean(ratios) < 1.1, ratios


def test_fixed_block_size_much_longer_than_the_correlation_time_is_right_too():
    phi, n = 0.9, 2**17
    ratios = [blocked_error(ar1(phi, n, seed), block_size=512)[1] / ar1_stderr(phi, n) for seed in range(5)]
    assert all(0.75 < r < 1.25 for r in ratios), ratios
    short = blocked_error(ar1(phi, n, 0), block_size=1)[1] / ar1_stderr(phi, n)
    assert short < 0.3  # blocks shorter than the correlation time underestimate


def test_uncorrelated_samples_keep_the_naive_error():
    x = np.random.default_rng(7).standard_normal(10_000)
    _, stderr = blocked_error(x)
    assert stderr == pytest.approx(x.std(ddof=1) / 100.0, rel=0.1)
    sizes = [size for size, _, _ in blocking_levels(x)]
    assert sizes[:3] == [1, 2, 4] and 10_000 // sizes[-1] >= 32


def test_too_few_samples_or_blocks_are_refused():
    with pytest.raises(ValueError, match="at least 2"):
        blocked_error([1.0])
    with pytest.raises(ValueError, match="block size"):
        blocked_error(np.arange(10.0), block_size=6)
