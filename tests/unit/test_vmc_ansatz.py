"""FermiNet ansatz: fermionic exchange symmetry, forward vs Hessian-trace local energies, cusps, gradients."""

import pytest
import torch

from gaqmd.vmc import METHODS, local_kinetic_energy, random_positions
from gaqmd.vmc.ansatz import AnsatzConfig, FermiNet
from gaqmd.vmc.systems import atom, hydrogen_molecule, make_system

SMALL = AnsatzConfig(hidden_one=6, hidden_two=3, layers=2, determinants=2)
# 3 up and 2 down electrons about two nuclei: every spin-block code path with more than one electron.
LIH_ANION = make_system("LiH-", ["Li", "H"], [(0.0, 0.0, -1.5), (0.0, 0.0, 1.5)], charge=-1, spin=1)


def _permuted(x: torch.Tensor, order: list[int]) -> torch.Tensor:
    return x[..., order, :]


def test_swapping_two_same_spin_electrons_flips_the_sign_and_keeps_the_amplitude():
    system = LIH_ANION
    assert (system.n_up, system.n_down) == (3, 2)
    net = FermiNet(system, SMALL, seed=1)
    x = random_positions((7,), 5, scale=1.5, seed=2)
    sign, log_abs = net.signed(x)
    for order in ([1, 0, 2, 3, 4], [0, 2, 1, 3, 4], [0, 1, 2, 4, 3]):  # one transposition in either spin
        swapped_sign, swapped_log = net.signed(_permuted(x, order))
        torch.testing.assert_close(swapped_log, log_abs, rtol=1e-12, atol=1e-12)
        assert torch.equal(swapped_sign, -sign)
    for order in ([1, 2, 0, 3, 4], [1, 0, 2, 4, 3]):  # even permutations: a 3-cycle, a swap in each spin
        cycled_sign, cycled_log = net.signed(_permuted(x, order))
        torch.testing.assert_close(cycled_log, log_abs, rtol=1e-12, atol=1e-12)
        assert torch.equal(cycled_sign, sign)


def test_exchanging_electrons_of_opposite_spin_is_not_a_symmetry():
    net = FermiNet(LIH_ANION, SMALL, seed=1)
    x = random_positions((4,), 5, scale=1.5, seed=3)
    assert not torch.allclose(net(x), net(_permuted(x, [3, 1, 2, 0, 4])))


@pytest.mark.parametrize("system", [atom("H"), hydrogen_molecule(1.4), LIH_ANION], ids=lambda s: s.name)
def test_forward_and_hessian_local_energies_agree(system):
    net = FermiNet(system, SMALL, seed=4)
    x = random_positions((5,), system.n_electrons, scale=1.3, seed=5)
    forward, dense, hessian = (local_kinetic_energy(net, x, method).detach() for method in METHODS)
    assert forward.std() > 1e-3
    torch.testing.assert_close(forward, hessian, rtol=1e-8, atol=1e-10)
    torch.testing.assert_close(dense, hessian, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("spin, cusp", [(0, 0.5), (2, 0.25)])
def test_jastrow_gives_the_electron_electron_cusps(spin, cusp):
    """d J / d r_12 at coalescence: ½ for opposite spins, ¼ for equal spins (Kato), whatever α."""
    net = FermiNet(hydrogen_molecule(1.4, spin=spin), SMALL, seed=6)
    with torch.no_grad():
        net.log_jastrow.fill_(0.7)
    r = torch.tensor([0.0, 1e-6], dtype=torch.float64)
    distances = torch.stack([torch.tensor([[0.0, d], [d, 0.0]], dtype=torch.float64) for d in r])
    jastrow = net._jastrow(distances)
    assert ((jastrow[1] - jastrow[0]) / r[1]).item() == pytest.approx(cusp, rel=1e-5)


def test_forward_local_energy_keeps_the_graph_to_every_parameter_group():
    net = FermiNet(hydrogen_molecule(1.4), SMALL, seed=7)
    local_kinetic_energy(net, random_positions((3,), 2, seed=8)).sum().backward()
    for name, parameter in net.named_parameters():
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name


def test_config_is_validated():
    with pytest.raises(ValueError, match="determinants"):
        AnsatzConfig(determinants=0)
