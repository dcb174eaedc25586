"""VMC optimisation: clipping, the gradient estimator, and a short run that lowers the energy."""

import time

import pytest
import torch

from gaqmd.vmc.ansatz import AnsatzConfig, FermiNet
from gaqmd.vmc.sampler import SamplerConfig
from gaqmd.vmc.systems import atom, hydrogen_molecule
from gaqmd.vmc.train import (
    TrainConfig,
    clip_local_energies,
    energy_loss,
    minsr_direction,
    per_walker_gradients,
    run_vmc,
)


def test_clipping_bounds_outliers_at_a_multiple_of_the_mean_absolute_deviation():
    energies = torch.tensor([-1.0, -1.1, -0.9, -1.0, 50.0], dtype=torch.float64)
    # median −1.0; mean |E − median| = (0 + 0.1 + 0.1 + 0 + 51) / 5 = 10.24
    clipped = clip_local_energies(energies, scale=0.5)
    torch.testing.assert_close(clipped, torch.tensor([-1.0, -1.1, -0.9, -1.0, -1.0 + 5.12], dtype=torch.float64))
    assert torch.equal(clip_local_energies(energies[:4], scale=5.0), energies[:4])


def test_energy_loss_gradient_is_the_covariance_estimator():
    net = FermiNet(hydrogen_molecule(1.4), AnsatzConfig(hidden_one=4, hidden_two=2, layers=1, determinants=1))
    x = torch.randn(6, 2, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    energies = torch.linspace(-1.2, -0.8, 6, dtype=torch.float64)
    weight = net.orbital_layers[0][0]
    (gradient,) = torch.autograd.grad(energy_loss(net(x), energies, clip_scale=10.0), weight)
    per_walker = [torch.autograd.grad(net(x[w : w + 1]).sum(), weight)[0] for w in range(6)]
    expected = 2.0 * sum((energies[w] - energies.mean()) * per_walker[w] for w in range(6)) / 6
    torch.testing.assert_close(gradient, expected, rtol=1e-12, atol=1e-14)


def test_short_optimisation_of_h2_lowers_the_energy():
    start = time.perf_counter()
    config = TrainConfig(steps=60, walkers=128, learning_rate=1e-2, burn_in=100, eval_steps=40, seed=1)
    result = run_vmc(hydrogen_molecule(1.4), AnsatzConfig(hidden_one=8, hidden_two=4, layers=1, determinants=2),
                     config, progress=False)
    initial = sum(result.trace[:5]) / 5
    final = sum(result.trace[-10:]) / 10
    assert final < initial - 0.1, (initial, final)
    assert result.energy < initial - 0.1 and result.energy > -1.2  # above the exact −1.1745 within noise
    assert 0 < result.stderr < 0.05 and len(result.trace) == 60 and len(result.evaluation) == 40
    assert 0.3 < result.acceptance < 0.7
    assert time.perf_counter() - start < 15


def test_hydrogen_atom_with_one_electron_runs_and_stays_variational():
    config = TrainConfig(steps=20, walkers=64, burn_in=50, eval_steps=30, seed=2)
    result = run_vmc(atom("H"), AnsatzConfig(hidden_one=4, hidden_two=2, layers=1, determinants=1), config,
                     SamplerConfig(step_size=0.5), progress=False)
    assert result.energy > -0.5 - 5 * result.stderr - 1e-3


def test_train_config_is_validated():
    with pytest.raises(ValueError, match="method"):
        TrainConfig(method="finite-differences")
    with pytest.raises(ValueError, match="walkers"):
        TrainConfig(walkers=0)
    with pytest.raises(ValueError, match="optimizer"):
        TrainConfig(optimizer="sgd")
    with pytest.raises(ValueError, match="pretrain_steps"):
        TrainConfig(pretrain_steps=-1)


def test_per_walker_gradients_are_each_walkers_autograd_gradient():
    net = FermiNet(hydrogen_molecule(1.4), AnsatzConfig(hidden_one=4, hidden_two=2, layers=1, determinants=2))
    x = torch.randn(5, 2, 3, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    rows = per_walker_gradients(net, x)
    assert rows.shape == (5, sum(p.numel() for p in net.parameters()))
    for w in range(5):
        expected = torch.cat([g.reshape(-1) for g in torch.autograd.grad(net(x[w : w + 1]).sum(), list(net.parameters()))])
        torch.testing.assert_close(rows[w], expected, rtol=1e-12, atol=1e-14)


def test_minsr_direction_is_the_damped_stochastic_reconfiguration_step():
    generator = torch.Generator().manual_seed(4)
    o = torch.randn(12, 40, generator=generator, dtype=torch.float64)
    epsilon = torch.randn(12, generator=generator, dtype=torch.float64)
    damping = 1e-2
    direct = torch.linalg.solve(o.T @ o + damping * torch.eye(40, dtype=torch.float64), o.T @ epsilon)  # P×P
    torch.testing.assert_close(minsr_direction(o, epsilon, damping), direct, rtol=1e-9, atol=1e-11)


def test_short_minsr_optimisation_of_h2_lowers_the_energy():
    config = TrainConfig(steps=60, walkers=128, learning_rate=0.05, burn_in=100, eval_steps=40, seed=1,
                         optimizer="minsr")
    result = run_vmc(hydrogen_molecule(1.4), AnsatzConfig(hidden_one=8, hidden_two=4, layers=1, determinants=2),
                     config, progress=False)
    initial, final = sum(result.trace[:5]) / 5, sum(result.trace[-10:]) / 10
    assert final < initial - 0.1, (initial, final)
    assert -1.2 < result.energy < -1.1, result.energy  # within ~75 mHa of the exact −1.1745 after 60 steps


def test_time_limit_stops_the_optimisation_early():
    config = TrainConfig(steps=10_000, walkers=16, burn_in=10, eval_steps=4, time_limit=1.0)
    result = run_vmc(hydrogen_molecule(1.4), AnsatzConfig(hidden_one=4, hidden_two=2, layers=1, determinants=1),
                     config, progress=False)
    assert 0 < len(result.trace) < 10_000 and result.seconds < 10
