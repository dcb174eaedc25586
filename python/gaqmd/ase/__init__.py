"""ASE calculator running a gaqmd model on the native engine."""

from gaqmd.ase.calculator import GaqCalculator

__all__ = ["GaqCalculator"]
