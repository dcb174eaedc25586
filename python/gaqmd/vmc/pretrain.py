"""Hartree–Fock pretraining of the orbitals (Pfau et al., Phys. Rev. Research 2020, §"Pretraining").

Before the energy is optimised, the network's orbital matrices Φ_k[i, j] = φ_kj(r_i) (before the
determinants, every determinant k and spin group) are fitted by least squares to the occupied
unrestricted Hartree–Fock orbitals of PySCF evaluated at the same electron positions,

    L = ⟨ Σ_groups Σ_k Σ_ij (Φ_k[i, j](r) − φ^HF_j(r_i))² ⟩_{r ~ |ψ_HF|²},

with r sampled by Metropolis from the HF determinant product. The optimisation then starts from
a wavefunction close to HF instead of a random one, and with walkers already spread like the
HF density; this avoids the slow and sometimes wrong start (electrons bound to the wrong nucleus,
nodes in the wrong place) of a random network. PySCF is an optional dependency
(`pip install pyscf` or `pip install gaqmd[vmc]`). Positions bohr, orbitals bohr^(-3/2).
"""

import sys
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from gaqmd.vmc.ansatz import FermiNet
from gaqmd.vmc.sampler import MetropolisSampler, SamplerConfig
from gaqmd.vmc.systems import System

PYSCF_MISSING = ("Hartree–Fock pretraining needs PySCF, which is not installed: "
                 "pip install pyscf (or pip install 'gaqmd[vmc]'), or run without pretraining.")


def require_pyscf():
    """The pyscf module; ImportError with an install hint when it is missing."""
    try:
        import pyscf
        from pyscf import gto, scf  # noqa: F401
    except ImportError as error:
        raise ImportError(PYSCF_MISSING) from error
    return pyscf


@dataclass(frozen=True)
class PretrainConfig:
    """steps: Adam updates of the orbital fit; basis: PySCF basis of the UHF reference; mcmc_steps:
    Metropolis moves on |ψ_HF|² between updates; burn_in: moves before the first update."""

    steps: int = 500
    learning_rate: float = 3e-3
    basis: str = "cc-pvdz"
    mcmc_steps: int = 2
    burn_in: int = 100

    def __post_init__(self) -> None:
        if self.steps < 0 or self.burn_in < 0 or self.mcmc_steps < 1:
            raise ValueError("pretraining steps and burn_in must be >= 0 and mcmc_steps >= 1")


class HartreeFock:
    """Occupied UHF orbitals of a System from PySCF, evaluated at electron positions (bohr).

    `energy` is the UHF energy (Hartree); `orbitals` and `log_abs` give the orbital matrices and
    log|det Φ↑ det Φ↓| of the HF wavefunction with the System's spin-up electrons first.
    """

    def __init__(self, system: System, basis: str = "cc-pvdz"):
        require_pyscf()
        from pyscf import gto, scf

        atoms = [(symbol, position) for symbol, position in zip(system.symbols, system.positions)]
        self.molecule = gto.M(atom=atoms, unit="Bohr", basis=basis, charge=system.charge, spin=system.spin,
                              verbose=0)
        mean_field = scf.UHF(self.molecule)
        self.energy = float(mean_field.kernel())
        if not mean_field.converged:
            mean_field = mean_field.newton()
            self.energy = float(mean_field.kernel())
        self.groups = tuple((start, m) for start, m in ((0, system.n_up), (system.n_up, system.n_down)) if m > 0)
        spins = [spin for spin, m in enumerate((system.n_up, system.n_down)) if m > 0]
        # UHF occupies the lowest orbitals of each spin; mo_coeff[spin] is (AO, MO), by orbital energy.
        self.coefficients = [np.asarray(mean_field.mo_coeff[spin])[:, :m] for spin, (_, m) in zip(spins, self.groups)]

    def orbitals(self, positions: Tensor) -> list[Tensor]:
        """[φ_j(r_i)] per spin group, (..., m, m) with rows electrons, columns orbitals, positions' dtype."""
        batch = positions.shape[:-2]
        flat = positions.detach().reshape(-1, positions.shape[-2], 3).cpu().numpy()
        matrices = []
        for (start, m), coefficients in zip(self.groups, self.coefficients):
            coordinates = flat[:, start : start + m].reshape(-1, 3)
            values = self.molecule.eval_gto("GTOval_sph", coordinates) @ coefficients  # (W m, m)
            matrix = torch.as_tensor(values.reshape(*batch, m, m), dtype=positions.dtype, device=positions.device)
            matrices.append(matrix)
        return matrices

    def log_abs(self, positions: Tensor) -> Tensor:
        """log|ψ_HF| (...) at positions (..., n, 3)."""
        total = torch.zeros(positions.shape[:-2], dtype=positions.dtype, device=positions.device)
        for matrix in self.orbitals(positions):
            total = total + torch.linalg.slogdet(matrix)[1]
        return total


def orbital_loss(ansatz: FermiNet, reference: HartreeFock, positions: Tensor) -> Tensor:
    """Mean over walkers of Σ_groups Σ_k ||Φ_k(r) − Φ_HF(r)||²_F (with graph to the parameters)."""
    loss = 0.0
    for network, target in zip(ansatz.orbitals(positions), reference.orbitals(positions)):
        loss = loss + (network - target.unsqueeze(-3)).square().sum((-3, -2, -1)).mean()
    return loss


def pretrain(ansatz: FermiNet, system: System, positions: Tensor, config: PretrainConfig = PretrainConfig(),
             seed: int = 0, progress: bool = True) -> tuple[list[float], Tensor, float]:
    """Fit the ansatz's orbitals to UHF in place. positions (W, n, 3), bohr: initial walkers.

    Returns the loss of every step, the final walkers (distributed as |ψ_HF|²) and the UHF energy.
    """
    reference = HartreeFock(system, config.basis)
    sampler = MetropolisSampler(reference.log_abs, positions, SamplerConfig(), seed=seed)
    sampler.burn_in(config.burn_in)
    optimizer = torch.optim.Adam(ansatz.parameters(), lr=config.learning_rate)
    losses = []
    bar = tqdm(range(config.steps), desc="pretrain", unit="step", file=sys.stderr, disable=not progress)
    for _ in bar:
        sampler.adapt(sampler.sample(config.mcmc_steps))
        loss = orbital_loss(ansatz, reference, sampler.positions)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        bar.set_postfix(loss=f"{losses[-1]:.4f}")
    return losses, sampler.positions, reference.energy
