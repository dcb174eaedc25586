"""Local energy: hydrogen and helium oracles, forward vs Hessian-trace methods, Coulomb terms."""

import math

import numpy as np
import pytest
import torch

from gaqmd.vmc import (
    METHODS,
    SlaterMLP,
    hydrogen_1s,
    hydrogenic_product,
    local_energy,
    local_kinetic_energy,
    ops,
    potential_energy,
    random_positions,
)

ORIGIN = torch.zeros(1, 3, dtype=torch.float64)
HELIUM_EXPONENT = 27.0 / 16.0


@pytest.mark.parametrize("method", METHODS)
def test_hydrogen_1s_local_energy_is_minus_one_half_everywhere(method):
    positions = random_positions((300,), 1, scale=2.0, seed=1)
    energy = local_energy(hydrogen_1s, positions, ORIGIN, torch.ones(1), method)
    assert energy.shape == (300,)
    assert (energy + 0.5).abs().max() < 1e-12


def _sample_hydrogenic_product(samples: int, electrons: int, exponent: float, seed: int) -> torch.Tensor:
    """Exact samples of |ψ|² for ψ = Π_i exp(−Z|r_i|): radius ~ r² e^{−2Zr}, i.e. Gamma(3, 1/(2Z)),
    direction uniform on the sphere (a normalised Gaussian vector)."""
    rng = np.random.default_rng(seed)
    radius = rng.gamma(shape=3.0, scale=1.0 / (2.0 * exponent), size=(samples, electrons, 1))
    direction = rng.standard_normal((samples, electrons, 3))
    direction /= np.linalg.norm(direction, axis=-1, keepdims=True)
    return torch.from_numpy(radius * direction)


def test_helium_product_wavefunction_has_the_variational_energy():
    positions = _sample_hydrogenic_product(20_000, 2, HELIUM_EXPONENT, seed=2)
    energy = local_energy(lambda x: hydrogenic_product(x, HELIUM_EXPONENT), positions, ORIGIN, torch.tensor([2.0]))
    standard_error = energy.std().item() / math.sqrt(len(energy))
    assert standard_error < 0.01
    assert abs(energy.mean().item() + HELIUM_EXPONENT**2) < 4.0 * standard_error


@pytest.mark.parametrize("method", METHODS)
def test_helium_product_local_energy_matches_the_closed_form(method):
    z = HELIUM_EXPONENT
    positions = random_positions((50,), 2, scale=1.5, seed=3)
    energy = local_energy(lambda x: hydrogenic_product(x, z), positions, ORIGIN, torch.tensor([2.0]), method)
    r1, r2 = positions.norm(dim=-1).unbind(-1)
    r12 = (positions[:, 0] - positions[:, 1]).norm(dim=-1)
    closed_form = -(z**2) + (z - 2.0) * (1.0 / r1 + 1.0 / r2) + 1.0 / r12
    torch.testing.assert_close(energy, closed_form, rtol=1e-12, atol=1e-12)


def test_forward_and_hessian_methods_agree_on_a_determinant_ansatz():
    nuclei = torch.tensor([[0.0, 0.0, -0.7], [0.0, 0.0, 0.7]], dtype=torch.float64)
    ansatz = SlaterMLP(2, 2, nuclei, hidden=8, determinants=2, seed=4)
    positions = random_positions((16,), 4, scale=1.2, seed=5)
    forward, dense, hessian = (local_kinetic_energy(ansatz, positions, method) for method in METHODS)
    assert forward.std() > 0.1  # not a trivially constant local energy
    torch.testing.assert_close(forward.detach(), hessian, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(dense.detach(), hessian, rtol=1e-10, atol=1e-10)


def test_forward_method_handles_several_batch_axes_and_keeps_the_parameter_graph():
    ansatz = SlaterMLP(2, 1, ORIGIN, hidden=6, determinants=3, seed=6)
    positions = random_positions((2, 3), 3, seed=7)
    forward = local_kinetic_energy(ansatz, positions)
    hessian = local_kinetic_energy(ansatz, positions, "hessian")
    assert forward.shape == hessian.shape == (2, 3)
    torch.testing.assert_close(forward.detach(), hessian, rtol=1e-10, atol=1e-10)
    forward.sum().backward()
    assert ansatz.hidden_weight.grad is not None and ansatz.hidden_weight.grad.abs().sum() > 0


def test_coulomb_terms_by_hand():
    positions = torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, 2.0]], dtype=torch.float64)
    nuclei = torch.tensor([[0.0, 0.0, 1.0], [0.0, 0.0, -1.0]], dtype=torch.float64)
    charges = torch.tensor([1.0, 2.0], dtype=torch.float64)
    # electron-nucleus -(1/1 + 2/1 + 1/1 + 2/3), electron-electron 1/2, nucleus-nucleus 1*2/2
    expected = -(4.0 + 2.0 / 3.0) + 0.5 + 1.0
    assert potential_energy(positions, nuclei, charges).item() == pytest.approx(expected, rel=1e-14)
    batched = potential_energy(positions.expand(5, 2, 3), nuclei, charges)
    assert batched.shape == (5,) and torch.allclose(batched, torch.full((5,), expected, dtype=torch.float64))


def test_unknown_method_and_wrong_output_shape_are_refused():
    positions = random_positions((4,), 1)
    with pytest.raises(ValueError, match="method"):
        local_kinetic_energy(hydrogen_1s, positions, "finite-differences")
    with pytest.raises(ValueError, match="shape"):
        local_kinetic_energy(lambda x: ops.unsqueeze(hydrogen_1s(x), -1), positions)
