"""Building blocks of the equivariant potential (DESIGN §3)."""

from gaqmd.nn.attention import CutoffAttention
from gaqmd.nn.interaction import InteractionBlock, hidden_irreps
from gaqmd.nn.radial import BesselBasis, PolynomialCutoff, RadialMLP
from gaqmd.nn.readout import ScalarReadout

__all__ = [
    "BesselBasis",
    "CutoffAttention",
    "InteractionBlock",
    "PolynomialCutoff",
    "RadialMLP",
    "ScalarReadout",
    "hidden_irreps",
]
