"""Variational Monte Carlo (DESIGN §7): Forward Laplacian value type, ops, local energy, test ansätze."""

from gaqmd.vmc import ops
from gaqmd.vmc.hamiltonian import METHODS, local_energy, local_kinetic_energy, potential_energy
from gaqmd.vmc.laplacian import FwdLapl, fwdlapl_input, to_dense
from gaqmd.vmc.wavefunctions import SlaterMLP, hydrogen_1s, hydrogenic_product, random_positions

__all__ = [
    "METHODS",
    "FwdLapl",
    "SlaterMLP",
    "fwdlapl_input",
    "hydrogen_1s",
    "hydrogenic_product",
    "local_energy",
    "local_kinetic_energy",
    "ops",
    "potential_energy",
    "random_positions",
    "to_dense",
]
