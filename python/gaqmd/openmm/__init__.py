"""gaqmd potentials in OpenMM (needs the optional dependency openmm >= 8.6).

``pytorch_force`` / ``pytorch_force_from_file`` wrap a model as an ``openmm.PythonForce`` (the
float32/float64 PyTorch reference path); ``units`` holds the eV/Å <-> kJ/mol/nm conversions.
"""

try:
    import openmm as _openmm  # noqa: F401  (the top-level OpenMM package, not this one)
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError("gaqmd.openmm needs OpenMM >= 8.6: pip install 'openmm>=8.6'") from error

from gaqmd.openmm import units
from gaqmd.openmm.pytorch_force import (
    ModelComputation,
    atomic_numbers_from_topology,
    pytorch_force,
    pytorch_force_from_file,
)

__all__ = [
    "ModelComputation",
    "atomic_numbers_from_topology",
    "pytorch_force",
    "pytorch_force_from_file",
    "units",
]
