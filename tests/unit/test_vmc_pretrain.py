"""Hartree–Fock pretraining: PySCF's orbitals at sampled positions, the fit lowers the orbital loss and
brings the energy near HF, and a clear message without PySCF."""

import builtins

import pytest
import torch

from gaqmd.vmc.ansatz import AnsatzConfig, FermiNet
from gaqmd.vmc.hamiltonian import local_energy
from gaqmd.vmc.sampler import MetropolisSampler, initial_positions
from gaqmd.vmc.systems import atom, lithium_hydride

SMALL = AnsatzConfig(hidden_one=8, hidden_two=4, layers=1, determinants=2)


def test_missing_pyscf_gives_an_install_hint(monkeypatch):
    from gaqmd.vmc import pretrain

    real_import = builtins.__import__

    def no_pyscf(name, *args, **kwargs):
        if name == "pyscf" or name.startswith("pyscf."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyscf)
    with pytest.raises(ImportError, match="pip install pyscf"):
        pretrain.HartreeFock(atom("He"))


def test_hartree_fock_orbitals_are_pyscf_uhf_at_the_positions():
    pytest.importorskip("pyscf")
    from pyscf import gto, scf

    from gaqmd.vmc.pretrain import HartreeFock

    system = atom("Li")  # 2 up, 1 down: both spin groups, an open shell
    reference = HartreeFock(system, basis="sto-3g")
    molecule = gto.M(atom="Li 0 0 0", unit="Bohr", basis="sto-3g", spin=1, verbose=0)
    uhf = scf.UHF(molecule)
    assert reference.energy == pytest.approx(uhf.kernel(), abs=1e-7)
    x = initial_positions(system, 5, seed=1)
    up, down = reference.orbitals(x)
    assert up.shape == (5, 2, 2) and down.shape == (5, 1, 1)
    ao = molecule.eval_gto("GTOval_sph", x[:, 2].numpy())  # the spin-down electron
    expected = torch.as_tensor(ao @ uhf.mo_coeff[1][:, :1], dtype=torch.float64)
    torch.testing.assert_close(down[:, 0], expected, rtol=1e-6, atol=1e-8)
    # log|ψ_HF| is the sum of the groups' log|det|
    torch.testing.assert_close(reference.log_abs(x), torch.linalg.slogdet(up)[1] + torch.linalg.slogdet(down)[1])


def _mean_energy(net, system, positions, seed):
    sampler = MetropolisSampler(net, positions, seed=seed)
    sampler.burn_in(100)
    return local_energy(net, sampler.positions, net.nuclei, system.nuclear_charges()).mean().item()


def test_pretraining_fits_the_orbitals_and_starts_near_the_hf_energy():
    pytest.importorskip("pyscf")
    from gaqmd.vmc.pretrain import HartreeFock, PretrainConfig, orbital_loss, pretrain

    system = lithium_hydride()
    net = FermiNet(system, AnsatzConfig(hidden_one=16, hidden_two=4, layers=2, determinants=1), seed=3)
    walkers = initial_positions(system, 256, seed=4)
    config = PretrainConfig(steps=300, learning_rate=1e-2, basis="sto-3g", burn_in=50)
    reference = HartreeFock(system, "sto-3g")
    hf_walkers = MetropolisSampler(reference.log_abs, walkers, seed=5)
    hf_walkers.burn_in(100)
    before = orbital_loss(net, reference, hf_walkers.positions).item()
    untrained = _mean_energy(net, system, hf_walkers.positions, seed=6)
    losses, positions, hf_energy = pretrain(net, system, walkers, config, seed=5, progress=False)
    assert len(losses) == 300 and positions.shape == walkers.shape
    assert hf_energy == pytest.approx(reference.energy, abs=1e-8)
    after = orbital_loss(net, reference, positions).item()
    assert after < 0.01 * before, (before, after)
    # the untrained network is over 1 Ha above HF; the pretrained one lies near it
    pretrained = _mean_energy(net, system, positions, seed=6)
    assert untrained - hf_energy > 1.0, (untrained, hf_energy)
    assert abs(pretrained - hf_energy) < 0.3, (pretrained, hf_energy)
