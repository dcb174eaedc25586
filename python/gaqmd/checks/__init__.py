"""Checks of a potential as deployed: symmetry (LEE), and later parity, conservation, stability."""

from gaqmd.checks.equivariance import EquivarianceResult, local_equivariance_error, model_energy_forces

__all__ = ["EquivarianceResult", "local_equivariance_error", "model_energy_forces"]
