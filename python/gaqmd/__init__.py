"""gaqmd: an equivariant machine-learned interatomic potential for OpenMM."""

__version__ = "0.1.0"
