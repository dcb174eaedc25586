"""Checks of a potential as deployed: symmetry (LEE), parity, NVE energy conservation, structural stability.

Each check is a function returning a frozen dataclass; ``format_*`` print it, ``gaqmd.checks.plots``
draws it, ``gaqmd.checks.report`` assembles a markdown report of whichever were run.
"""

from gaqmd.checks.conservation import (
    ConservationResult,
    LinearFit,
    StartState,
    drift_from_energies,
    equilibrate,
    format_conservation,
    linear_drift,
    nve_drift,
    start_state,
    statistical_inefficiency,
    timestep_scan,
)
from gaqmd.checks.equivariance import EquivarianceResult, local_equivariance_error, model_energy_forces
from gaqmd.checks.parity import ParityResult, cosine_similarity, energy_force_parity, format_parity
from gaqmd.checks.report import format_report, write_report
from gaqmd.checks.stability import (
    DistributionComparison,
    StabilityResult,
    as_trajectory,
    compare_distributions,
    detect_failure,
    format_stability,
    geometry_samples,
    histogram_distances,
    infer_bonds,
    molecule_topology,
    stability_check,
)

__all__ = [
    "ConservationResult",
    "DistributionComparison",
    "EquivarianceResult",
    "LinearFit",
    "ParityResult",
    "StabilityResult",
    "StartState",
    "as_trajectory",
    "compare_distributions",
    "cosine_similarity",
    "detect_failure",
    "drift_from_energies",
    "energy_force_parity",
    "equilibrate",
    "format_conservation",
    "format_parity",
    "format_report",
    "format_stability",
    "geometry_samples",
    "histogram_distances",
    "infer_bonds",
    "linear_drift",
    "local_equivariance_error",
    "model_energy_forces",
    "molecule_topology",
    "nve_drift",
    "stability_check",
    "start_state",
    "statistical_inefficiency",
    "timestep_scan",
    "write_report",
]
