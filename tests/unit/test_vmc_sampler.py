"""Metropolis–Hastings: the acceptance formula, the analytic acceptance rate on a Gaussian, and
sampled moments and histogram of |ψ|² for hydrogenic 1s orbitals against the exact density."""

import math

import numpy as np
import pytest
import torch
from scipy import integrate, special, stats

from gaqmd.vmc import hydrogenic_product
from gaqmd.vmc.blocking import blocked_error
from gaqmd.vmc.sampler import MetropolisSampler, SamplerConfig, acceptance_probability, initial_positions
from gaqmd.vmc.systems import atom, hydrogen_molecule, make_system


def test_acceptance_probability_is_the_squared_amplitude_ratio_capped_at_one():
    old = torch.tensor([0.0, 0.0, 1.0, -3.0], dtype=torch.float64)
    new = torch.tensor([math.log(0.5), 1.0, 1.0, -2.0], dtype=torch.float64)
    expected = torch.tensor([0.25, 1.0, 1.0, 1.0], dtype=torch.float64)
    torch.testing.assert_close(acceptance_probability(old, new), expected, rtol=1e-15, atol=0)


def _gaussian_log_psi(x):
    """|ψ|² = exp(−|r|²/2): a standard normal density in every coordinate."""
    return -0.25 * x.square().sum((-2, -1))


def _exact_gaussian_acceptance(step: float, dimensions: int) -> float:
    """Stationary acceptance of Gaussian proposals r' = r + s ξ on a standard normal target in d
    dimensions. Given ξ, log(π'/π) = −s r·ξ − s²|ξ|²/2 is normal with mean −σ²/2 and variance σ²
    (σ = s|ξ|), for which E[min(1, e^L)] = 2Φ(−σ/2); |ξ| is chi-distributed with d degrees of freedom."""
    def integrand(rho: float) -> float:
        return 2.0 * special.ndtr(-step * rho / 2.0) * stats.chi.pdf(rho, dimensions)

    return integrate.quad(integrand, 0.0, np.inf)[0]


def test_one_dimensional_case_of_the_exact_acceptance_is_the_known_arctan_formula():
    for step in (0.5, 1.0, 2.4):
        assert _exact_gaussian_acceptance(step, 1) == pytest.approx(2.0 / math.pi * math.atan(2.0 / step), rel=1e-8)


@pytest.mark.parametrize("step", [0.8, 1.6])
def test_stationary_acceptance_on_a_gaussian_matches_the_exact_rate(step):
    walkers, steps = 2000, 60
    start = torch.randn(walkers, 1, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)  # exact draws
    sampler = MetropolisSampler(_gaussian_log_psi, start, SamplerConfig(step_size=step), seed=2)
    rates = np.array([sampler.step() for _ in range(steps)])
    mean, stderr = blocked_error(rates, min_blocks=8)
    exact = _exact_gaussian_acceptance(step, 3)
    assert sampler.step_size == step
    assert abs(mean - exact) < 4.0 * stderr + 1e-4, (mean, exact, stderr)


def test_samples_of_hydrogenic_orbitals_have_the_exact_moments_and_radial_histogram():
    """Two electrons in exp(−|r|): each radius follows r² e^{−2r}, Gamma(3, scale ½)."""
    walkers = 1000
    start = 3.0 * torch.randn(walkers, 2, 3, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    sampler = MetropolisSampler(lambda x: hydrogenic_product(x, 1.0), start, seed=4)
    sampler.burn_in(300)
    assert 0.4 < sampler.sample(20) < 0.6  # the adapted step hits the target
    edges = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.5, np.inf])
    bins = np.diff(stats.gamma.cdf(edges, 3, scale=0.5))
    exact = {"r": 1.5, "r^2": 3.0, "1/r": 1.0, **{f"bin{k}": p for k, p in enumerate(bins)}}
    series = {key: [] for key in exact}
    for _ in range(400):
        sampler.step()
        r = sampler.positions.norm(dim=-1).flatten().numpy()
        series["r"].append(r.mean())
        series["r^2"].append((r * r).mean())
        series["1/r"].append((1.0 / r).mean())
        counts = np.histogram(r, edges)[0] / r.size
        for k, fraction in enumerate(counts):
            series[f"bin{k}"].append(fraction)
    for key, value in exact.items():
        mean, stderr = blocked_error(series[key], min_blocks=16)
        assert abs(mean - value) < 4.5 * stderr, (key, mean, value, stderr)


def test_initial_positions_put_electrons_near_the_nuclei():
    system = hydrogen_molecule(4.0)
    x = initial_positions(system, 500, scale=0.3, seed=0)
    assert x.shape == (500, 2, 3) and x.dtype == torch.float64
    # one electron per proton: the up electron about one nucleus, the down electron about the other
    z = x[..., 2].mean(0)
    assert torch.allclose(z.sort().values, torch.tensor([-2.0, 2.0], dtype=torch.float64), atol=0.1)
    lithium = initial_positions(atom("Li"), 4, seed=1)
    assert lithium.shape == (4, 3, 3)
    anion = initial_positions(make_system("H-", ["H"], [(0.0, 0.0, 0.0)], charge=-1), 3)
    assert anion.shape == (3, 2, 3)
