"""Variational Monte Carlo (DESIGN §7): Forward Laplacian value type, ops, local energy, test ansätze,
the FermiNet-style ansatz, Hartree–Fock pretraining (optional PySCF), Metropolis sampling, optimisation
(Adam or minSR) with blocked error bars, systems and reports. Usage: docs/vmc.md."""

from gaqmd.vmc import ops
from gaqmd.vmc.ansatz import AnsatzConfig, FermiNet
from gaqmd.vmc.blocking import blocked_error
from gaqmd.vmc.hamiltonian import METHODS, local_energy, local_kinetic_energy, potential_energy
from gaqmd.vmc.laplacian import FwdLapl, fwdlapl_input, to_dense
from gaqmd.vmc.pretrain import HartreeFock, PretrainConfig
from gaqmd.vmc.sampler import MetropolisSampler, SamplerConfig, initial_positions
from gaqmd.vmc.systems import System, atom, hydrogen_molecule, lithium_hydride, named_system, read_xyz
from gaqmd.vmc.train import TrainConfig, VMCResult, run_vmc
from gaqmd.vmc.wavefunctions import SlaterMLP, hydrogen_1s, hydrogenic_product, random_positions

__all__ = [
    "METHODS",
    "AnsatzConfig",
    "FermiNet",
    "FwdLapl",
    "HartreeFock",
    "MetropolisSampler",
    "PretrainConfig",
    "SamplerConfig",
    "SlaterMLP",
    "System",
    "TrainConfig",
    "VMCResult",
    "atom",
    "blocked_error",
    "fwdlapl_input",
    "hydrogen_1s",
    "hydrogen_molecule",
    "hydrogenic_product",
    "initial_positions",
    "lithium_hydride",
    "local_energy",
    "local_kinetic_energy",
    "named_system",
    "ops",
    "potential_energy",
    "random_positions",
    "read_xyz",
    "run_vmc",
    "to_dense",
]
