"""Alternatives to MDDQ for l >= 1 features, all with the flat e3nn layout (..., C*(2l+1)) in and out.

- NaiveInt8Vectors: int8 per Cartesian/spherical component (LSQ), one scale per tensor (default) or
  per channel shared by its 2l+1 components. Its flaw: |v_hat| depends on the orientation of v,
  so the quantized features are not rotation equivariant (not even in magnitude).
- l = 2 options, compared later by measurement (L2_OPTIONS, l2_quantizer):
  "int8-shared": NaiveInt8Vectors per channel; "fp16": every component rounded to float16;
  "mddq-fp16": uint8 magnitude (as in MDDQ) times the unit 5-vector u rounded to float16.
  Each may act in per-atom local frames (LocalFrameQuantizer, `l2_frame: local`).
Backward: straight-through (clipped for int8, identity for fp16, geometric STE for mddq-fp16,
treating the float16 rounding of u as identity).
"""

from typing import Tuple

import torch
from torch import nn

from gaqmd.quant.frames import wigner_from_frames
from gaqmd.quant.lsq import LsqQuantizer
from gaqmd.quant.mddq import GeometricSTE, MagnitudeQuantizer, polar, split_vectors


class NaiveInt8Vectors(nn.Module):
    """Per-component int8 (or `bits`) fake quant of C x (2l+1) features; LSQ scale per tensor or channel."""

    def __init__(self, channels: int, l: int = 1, per_channel: bool = False, init: str = "lsq", bits: int = 8):
        super().__init__()
        self.channels, self.dim = channels, 2 * l + 1
        self.lsq = LsqQuantizer(channels if per_channel else 1, bits=bits, signed=True,
                                channel_size=self.dim if per_channel else None, init=init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(..., C*(2l+1)) -> same shape, clipped-STE backward, LSQ scale gradient."""
        return self.lsq(x)

    def quantize(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """-> (int8 codes (..., C*(2l+1)), scale (1,) or (C,))."""
        return self.lsq.quantize(x)

    def dequantize(self, codes: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return self.lsq.dequantize(codes, dtype)


class Int8SharedQuantizer(NaiveInt8Vectors):
    """"int8-shared": int8 per component, one learned scale per channel shared by its components."""

    def __init__(self, channels: int, l: int = 2, init: str = "lsq", bits: int = 8):
        super().__init__(channels, l=l, per_channel=True, init=init, bits=bits)


class _Float16STE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.half().to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        return grad


class Fp16Quantizer(nn.Module):
    """"fp16": every component rounded to float16 (round to nearest even), identity backward."""

    def __init__(self, channels: int, l: int = 2, bits: int = 16):
        super().__init__()
        if bits != 16:
            raise ValueError("the fp16 option stores 16-bit floats")
        self.channels, self.dim = channels, 2 * l + 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _Float16STE.apply(x)

    def quantize(self, x: torch.Tensor) -> torch.Tensor:
        return x.detach().half()

    def dequantize(self, values: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return values.to(dtype)


class MddqFp16Quantizer(nn.Module):
    """"mddq-fp16": v_hat = m_hat * float16(u), m_hat the MDDQ magnitude quantizer (linear/log)."""

    def __init__(self, channels: int, l: int = 2, bits: int = 8, log_domain: bool = False,
                 zero_threshold: float = 1e-6, init: str = "lsq"):
        super().__init__()
        self.channels, self.dim = channels, 2 * l + 1
        self.magnitude = MagnitudeQuantizer(channels, bits, log_domain, zero_threshold, init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = split_vectors(x, self.channels)
        m, u, is_zero = polar(v.detach(), self.magnitude.zero_threshold)
        m_hat, in_range = self.magnitude(m, is_zero)
        return GeometricSTE.apply(v, m_hat, u.half().to(x.dtype), in_range, is_zero).flatten(-2)

    @torch.no_grad()
    def quantize(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """-> (magnitude codes uint8 (..., C), directions float16 (..., C, 2l+1), zero for zero vectors)."""
        m, u, is_zero = polar(split_vectors(x, self.channels), self.magnitude.zero_threshold)
        return self.magnitude.encode(m, is_zero), u.half()

    @torch.no_grad()
    def dequantize(self, magnitude: torch.Tensor, direction: torch.Tensor, dtype: torch.dtype = torch.float32):
        return (self.magnitude.decode(magnitude, dtype).unsqueeze(-1) * direction.to(dtype)).flatten(-2)


L2_OPTIONS = {"mddq-fp16": MddqFp16Quantizer, "int8-shared": Int8SharedQuantizer, "fp16": Fp16Quantizer}


class LocalFrameQuantizer(nn.Module):
    """Any C x (2l+1) block quantizer applied in each atom's local frame (gaqmd.quant.frames):
    x_hat = D^T q(D x) with D = D_l(F) the frame's rotation in the l-feature basis. F(Rx) = F(x) R^T
    makes D x rotation invariant, so whatever q rounds, the block commutes with rotations. With no
    frames set (N, 3, 3), q acts on x directly. Backward: D^T (q's backward) D, frames constant.
    """

    def __init__(self, quantizer: nn.Module, channels: int, l: int):
        super().__init__()
        self.quantizer, self.channels, self.l = quantizer, channels, l
        self.frames = None  # set per forward by the model's frame hook

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.frames is None:
            return self.quantizer(x)
        rotation = wigner_from_frames(self.frames, self.l).to(x.dtype)  # (N, d, d)
        v = split_vectors(x, self.channels)
        local = torch.einsum("nab,ncb->nca", rotation, v).flatten(-2)
        quantized = split_vectors(self.quantizer(local), self.channels)
        return torch.einsum("nba,ncb->nca", rotation, quantized).flatten(-2)


def l2_quantizer(kind: str, channels: int, bits: int = 8, **kwargs) -> nn.Module:
    """One of L2_OPTIONS for C x 2e features (flat (..., C*5)); `bits` is the int8/magnitude width
    (ignored by "fp16")."""
    if kind not in L2_OPTIONS:
        raise ValueError(f"unknown l=2 quantizer {kind!r}; choose from {sorted(L2_OPTIONS)}")
    if kind == "fp16":
        kwargs.pop("init", None)  # nothing to initialise
        return Fp16Quantizer(channels, **kwargs)
    return L2_OPTIONS[kind](channels, bits=bits, **kwargs)


def naive_vector_quantizer(channels: int, dim: int, bits: int = 8, per_channel: bool = False,
                           init: str = "lsq") -> NaiveInt8Vectors:
    """The naive baseline for a C x (2l+1) block given its dimension dim = 2l+1."""
    if dim < 3 or dim % 2 == 0:
        raise ValueError(f"a vector block has odd dimension 2l+1 >= 3, got {dim}")
    return NaiveInt8Vectors(channels, l=(dim - 1) // 2, per_channel=per_channel, bits=bits, init=init)
