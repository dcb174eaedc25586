"""gaqmd potentials in OpenMM (needs the optional dependency openmm >= 8.6).

``gaq_force`` builds a GaqForce (the native C++ engine, gaqmd._core) as an ordinary ``openmm.Force``;
``load_model_description`` / ``save_model`` read and write model.gaq files (gaqmd.openmm.force,
imported on first use so that this package works without the native module).
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

_NATIVE = ("GaqFileError", "gaq_force", "load_model_description", "save_model")


def __getattr__(name):
    if name in _NATIVE:
        from gaqmd.openmm import force

        return getattr(force, name)
    raise AttributeError(f"module 'gaqmd.openmm' has no attribute {name!r}")


__all__ = [
    "GaqFileError",
    "ModelComputation",
    "atomic_numbers_from_topology",
    "gaq_force",
    "load_model_description",
    "pytorch_force",
    "pytorch_force_from_file",
    "save_model",
    "units",
]
