"""`gaqmd md`: OpenMM molecular dynamics with a gaqmd model, from a PDB or XYZ structure."""

from gaqmd.md.simulate import MDOptions, MDResult, run_md
from gaqmd.md.structure import Structure, read_structure

__all__ = ["MDOptions", "MDResult", "Structure", "read_structure", "run_md"]
