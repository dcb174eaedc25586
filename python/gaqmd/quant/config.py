"""Quantization settings (DESIGN §4): which tensors are quantized, and how."""

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gaqmd.config import config_from_mapping

MODES = ("fp32", "w4a32", "w4a8", "w4a8-naive")
L2_MODES = ("mddq-fp16", "int8-shared", "fp16")


@dataclass(frozen=True)
class QuantConfig:
    """mode: fp32 (nothing), w4a32 (int4 weights), w4a8 (GAQ: int4 weights, int8 scalars, MDDQ
    vectors), w4a8-naive (int4 weights, int8 scalars, int8 per vector component: the baseline)."""

    mode: str = "w4a8"
    group_size: int | None = None  # int4 scale per group of input channels; None: per output channel
    weight_scale: str = "max"  # int4 scale: "max" (max|w|/7) or "mse" (clip ratio with least rounding error)
    # False: int4 scales recomputed by weight_scale at every step; True: initialized that way, then learned (LSQ)
    learn_weight_scales: bool = False
    activation_bits: int = 8
    scale_init: str = "lsq"  # activation scales from calibration data: "lsq" (2 mean|x|/sqrt(127)) or "max" (max|x|/127)
    codebook_bits: int = 16  # MDDQ directions: K = 2^b points (2-byte index)
    codebook_refine: bool = False  # refine the Fibonacci lattice by repulsion
    # "local": snap directions in per-atom frames built from neighbours (rotation covariant, see
    # gaqmd.quant.frames); "global": one fixed codebook orientation for all atoms (as in the paper)
    direction_frame: str = "local"
    magnitude_log_domain: bool = False
    l2_mode: str = "int8-shared"  # how l=2 features are stored in w4a8 (the measured choice, docs/quantization.md)
    # "local": l=2 blocks quantized in the same per-atom frames (rotation covariant); "global": as they come
    l2_frame: str = "local"
    # "int8": the Bessel basis entering the radial MLP and the attention key is rounded like the other
    # scalars (DESIGN §4's table); "float": kept in float like the spherical harmonics, both being
    # per-edge encodings of the geometry that the engine computes in registers (docs/quantization.md)
    edge_basis: str = "int8"
    # Straight-through derivative of the int8 (LSQ) activations beyond their code range: "clipped" (0,
    # the LSQ paper) or "unclipped" (1: an activation past its calibrated range still passes forces).
    # MDDQ magnitudes keep their clipped STE (DESIGN §4).
    int8_ste: str = "clipped"
    vector_warmup_epochs: int = 2  # QAT epochs before vector (l>0) quantization switches on
    # Mixed precision of node features, indexed by l: int bits of l=0, magnitude bits of l=1
    # (direction bits are codebook_bits), int/magnitude bits of l=2. None: activation_bits for all.
    irrep_bits: Sequence[int] | None = None

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"unknown quantization mode {self.mode!r}; choose from {MODES}")
        if self.l2_mode not in L2_MODES:
            raise ValueError(f"unknown l2_mode {self.l2_mode!r}; choose from {L2_MODES}")
        if self.direction_frame not in ("local", "global"):
            raise ValueError(f"direction_frame must be 'local' or 'global', got {self.direction_frame!r}")
        if self.l2_frame not in ("local", "global"):
            raise ValueError(f"l2_frame must be 'local' or 'global', got {self.l2_frame!r}")
        if self.edge_basis not in ("int8", "float"):
            raise ValueError(f"edge_basis must be 'int8' or 'float', got {self.edge_basis!r}")
        if self.int8_ste not in ("clipped", "unclipped"):
            raise ValueError(f"int8_ste must be 'clipped' or 'unclipped', got {self.int8_ste!r}")
        if self.weight_scale not in ("max", "mse"):
            raise ValueError(f"weight_scale must be 'max' or 'mse', got {self.weight_scale!r}")
        if self.scale_init not in ("max", "lsq"):
            raise ValueError(f"scale_init must be 'max' or 'lsq', got {self.scale_init!r}")
        if self.irrep_bits is not None:
            object.__setattr__(self, "irrep_bits", tuple(int(b) for b in self.irrep_bits))
            if any(not 2 <= b <= 16 for b in self.irrep_bits):
                raise ValueError(f"irrep_bits must lie in 2..16, got {self.irrep_bits}")
        if self.group_size is not None and self.group_size < 1:
            raise ValueError(f"group_size must be positive, got {self.group_size}")

    @property
    def quantizes_weights(self) -> bool:
        return self.mode != "fp32"

    @property
    def quantizes_activations(self) -> bool:
        return self.mode in ("w4a8", "w4a8-naive")

    def bits_for(self, degree: int) -> int:
        """Bit width of the node-feature block of degree l (int bits, or magnitude bits for l > 0)."""
        if self.irrep_bits is None or degree >= len(self.irrep_bits):
            return self.activation_bits
        return self.irrep_bits[degree]

    def to_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        values["irrep_bits"] = list(self.irrep_bits) if self.irrep_bits is not None else None
        return values

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "QuantConfig":
        return config_from_mapping(cls, values, "quantization options")
