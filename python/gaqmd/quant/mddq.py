"""Magnitude-direction decoupled quantization (MDDQ) of l >= 1 features, with the geometric STE.

A feature block x (..., C*d) (e3nn layout: channel c owns components [c*d, (c+1)*d), d = 2l+1) is
read as C vectors v. Each is split into m = |v| = sqrt(sum_i v_i^2) (summed in component order)
and u = v / m, quantized separately and recombined as v_hat = m_hat * c, where c is u's codeword
(the nearest codebook point for l = 1). Vectors with m < zero_threshold (feature units) become 0.

Magnitude codes (uint8 for 8 bits), one learned scale per channel (LSQ):
  - linear domain: q = clamp(round(m / s), 0, 2^b - 1), m_hat = q * s;
  - log domain: q = 0 for zero vectors, else q = 1 + clamp(round((log m - log_min) / s), 0, 2^b - 2),
    m_hat = exp(log_min + (q - 1) * s) (q >= 1), 0 (q = 0). log_min (per channel, learned) is the
    lower bound; the upper bound is exp(log_min + (2^b - 2) s). On the first training forward
    both are set from the data (min and max of log m over the non-zero vectors of each channel).

Geometric STE (backward, g = dL/dv_hat, 1_clip = the code was not clamped):
  dL/dv = (g . c) 1_clip u + (m_hat / m) (I - u u^T) g,
i.e. dm_hat/dm ~ 1 inside the clip range (in both domains) and dc/du ~ I - u u^T. Zero vectors
pass g unchanged (identity STE), so features that start at 0 still receive gradients.
"""

import math
from typing import NamedTuple, Tuple

import torch
from torch import nn

from gaqmd.quant.codebook import SphericalCodebook
from gaqmd.quant.lsq import LsqQuantizer, round_half_even_quant


def split_vectors(x: torch.Tensor, channels: int) -> torch.Tensor:
    """(..., C*d) -> (..., C, d) view."""
    if x.shape[-1] % channels:
        raise ValueError(f"last dimension {x.shape[-1]} is not a multiple of {channels} channels")
    return x.unflatten(-1, (channels, x.shape[-1] // channels))


def polar(v: torch.Tensor, zero_threshold: float) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """v (..., C, d) -> (m (..., C), u (..., C, d), is_zero (..., C) bool); u is 0 for zero vectors."""
    squares = v * v
    m = squares[..., 0]
    for i in range(1, v.shape[-1]):
        m = m + squares[..., i]
    m = torch.sqrt(m)
    is_zero = (m < zero_threshold) | (m == 0)
    u = v / torch.where(is_zero, torch.ones_like(m), m).unsqueeze(-1)
    return m, torch.where(is_zero.unsqueeze(-1), torch.zeros_like(u), u), is_zero


def gste_backward(grad, v, m_hat, codeword, in_range, is_zero):
    """(grad wrt v, grad wrt m_hat) of v_hat = m_hat * codeword, from differentiable ops only."""
    zero = is_zero.unsqueeze(-1)
    safe_v = torch.where(zero, torch.ones_like(v), v)  # keeps double backward free of 0/0
    m = torch.sqrt((safe_v * safe_v).sum(-1))
    u = safe_v / m.unsqueeze(-1)
    along_c = (grad * codeword).sum(-1)
    radial = (along_c * in_range.to(grad.dtype)).unsqueeze(-1) * u
    tangential = (m_hat / m).unsqueeze(-1) * (grad - (grad * u).sum(-1, keepdim=True) * u)
    grad_v = torch.where(zero, grad, radial + tangential)
    return grad_v, torch.where(is_zero, torch.zeros_like(along_c), along_c)


class GeometricSTE(torch.autograd.Function):
    """v_hat = m_hat[..., None] * codeword; backward = the geometric STE (module docstring).

    v (..., C, d), m_hat (..., C) (carries the scale gradient), codeword (..., C, d) constant,
    in_range / is_zero (..., C) bool. The backward is built from differentiable torch ops on the
    saved inputs (not once_differentiable), so forces computed with create_graph=True can be
    differentiated once more.
    """

    @staticmethod
    def forward(ctx, v, m_hat, codeword, in_range, is_zero):
        ctx.save_for_backward(v, m_hat, codeword, in_range, is_zero)
        return m_hat.unsqueeze(-1) * codeword

    @staticmethod
    def backward(ctx, grad):
        grad_v, grad_m_hat = gste_backward(grad, *ctx.saved_tensors)
        return grad_v, grad_m_hat, None, None, None


class MagnitudeQuantizer(nn.Module):
    """Unsigned per-channel quantizer of vector norms m (..., C), linear or log domain (module doc)."""

    def __init__(self, channels: int, bits: int = 8, log_domain: bool = False, zero_threshold: float = 1e-6,
                 init: str = "lsq"):
        super().__init__()
        self.log_domain = log_domain
        self.zero_threshold = float(zero_threshold)
        self.qmax = 2**bits - 2 if log_domain else 2**bits - 1
        self.lsq = LsqQuantizer(channels, signed=False, channel_dim=-1, init=init, qmin=0, qmax=self.qmax)
        if log_domain:
            self.log_min = nn.Parameter(torch.zeros(channels))

    @torch.no_grad()
    def _initialize_log(self, m: torch.Tensor, is_zero: torch.Tensor) -> None:
        log_m = torch.log(torch.where(is_zero, torch.ones_like(m), m)).reshape(-1, m.shape[-1])
        valid = ~is_zero.reshape(-1, m.shape[-1])
        low = torch.where(valid, log_m, math.inf).amin(dim=0)
        high = torch.where(valid, log_m, -math.inf).amax(dim=0)
        empty = ~valid.any(dim=0)  # no data: cover [1, 10] feature units
        low = torch.where(empty, 0.0, low)
        high = torch.where(empty, math.log(10.0), high)
        step = (high - low) / self.qmax
        self.log_min.copy_(low.to(self.log_min.dtype))
        self.lsq.scale.copy_(torch.where(step > 0, step, 1.0 / self.qmax).to(self.lsq.scale.dtype))
        self.lsq.initialized.fill_(True)

    def _argument(self, m: torch.Tensor, is_zero: torch.Tensor) -> torch.Tensor:
        """What is quantized: m, or log m - log_min (log_min broadcast over channels)."""
        if not self.log_domain:
            return m
        return torch.log(torch.where(is_zero, torch.ones_like(m), m)) - self.log_min.to(m.dtype)

    def forward(self, m: torch.Tensor, is_zero: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """m (..., C) detached norms -> (m_hat (..., C) differentiable in the scales, in_range bool)."""
        if self.log_domain and self.training and not bool(self.lsq.initialized):
            self._initialize_log(m, is_zero)
        argument = self._argument(m, is_zero)
        fake = self.lsq(argument)
        w = argument / self.lsq.expanded_scale(argument)
        in_range = (w >= 0) & (w <= self.qmax)
        if self.log_domain:
            fake = torch.exp(self.log_min.to(m.dtype) + fake)
        return torch.where(is_zero, torch.zeros_like(fake), fake), in_range

    @torch.no_grad()
    def encode(self, m: torch.Tensor, is_zero: torch.Tensor) -> torch.Tensor:
        """m (..., C) -> integer codes (..., C), uint8 for bits <= 8."""
        argument = self._argument(m, is_zero)
        codes = round_half_even_quant(argument, self.lsq.expanded_scale(argument), 0, self.qmax)
        codes = codes + 1 if self.log_domain else codes
        dtype = torch.uint8 if self.qmax <= 255 else torch.int32
        return torch.where(is_zero, torch.zeros_like(codes), codes).to(dtype)

    @torch.no_grad()
    def decode(self, codes: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """codes (..., C) -> m_hat (..., C) in `dtype`, bit-identical to forward's m_hat."""
        values = codes.to(dtype)
        if not self.log_domain:
            return values * self.lsq.expanded_scale(values)
        steps = values - 1
        m_hat = torch.exp(self.log_min.to(dtype) + steps * self.lsq.expanded_scale(steps))
        return torch.where(codes == 0, torch.zeros_like(m_hat), m_hat)


class MddqCodes(NamedTuple):
    magnitude: torch.Tensor  # (..., C) uint8
    direction: torch.Tensor  # (..., C) int32 codebook index (0 for zero vectors)
    scale: torch.Tensor  # (C,) magnitude step: feature units (linear) or log-units (log domain)


class MddqQuantizer(nn.Module):
    """MDDQ of C x 1o features, flat (..., C*3) in and out, with a spherical codebook for u.

    When `frames` (N, 3, 3) is set (gaqmd.quant.frames, one orthonormal frame per atom, x of shape
    (N, C*3)), directions are snapped in each atom's frame: index of F u, codeword F^T c, which
    makes the quantization commute with rotations. Codes then hold frame-local indices.
    """

    def __init__(self, channels: int, codebook: SphericalCodebook, magnitude_bits: int = 8,
                 log_domain: bool = False, zero_threshold: float = 1e-6, init: str = "lsq"):
        super().__init__()
        self.channels = channels
        self.codebook = codebook
        self.magnitude = MagnitudeQuantizer(channels, magnitude_bits, log_domain, zero_threshold, init)
        self.frames = None  # set per forward by the model's frame hook (local-frame mode)

    def _directions(self, u: torch.Tensor, is_zero: torch.Tensor) -> torch.Tensor:
        if self.frames is not None:
            u = torch.einsum("nab,ncb->nca", self.frames.to(u.dtype), u)
        index = self.codebook.nearest(u)
        return torch.where(is_zero, torch.zeros_like(index), index)

    def _codewords(self, index: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """Codebook points of index (..., C) -> (..., C, 3), rotated back to the global frame."""
        codeword = self.codebook.points.to(dtype)[index]
        if self.frames is not None:
            codeword = torch.einsum("nab,nca->ncb", self.frames.to(dtype), codeword)
        return codeword

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Fake quantization (..., C*3) -> (..., C*3), geometric STE backward."""
        v = split_vectors(x, self.channels)
        m, u, is_zero = polar(v.detach(), self.magnitude.zero_threshold)
        m_hat, in_range = self.magnitude(m, is_zero)
        codeword = self._codewords(self._directions(u, is_zero), x.dtype)
        return GeometricSTE.apply(v, m_hat, codeword, in_range, is_zero).flatten(-2)

    @torch.no_grad()
    def quantize(self, x: torch.Tensor) -> MddqCodes:
        """(..., C*3) -> MddqCodes(magnitude uint8 (..., C), direction int32 (..., C), scale (C,))."""
        m, u, is_zero = polar(split_vectors(x, self.channels), self.magnitude.zero_threshold)
        direction = self._directions(u, is_zero).to(torch.int32)
        return MddqCodes(self.magnitude.encode(m, is_zero), direction, self.magnitude.lsq.scale.detach().clone())

    @torch.no_grad()
    def dequantize(self, magnitude: torch.Tensor, direction: torch.Tensor, dtype: torch.dtype = torch.float32):
        """Codes -> (..., C*3) in `dtype`; equals forward(x) bit for bit for x of that dtype."""
        m_hat = self.magnitude.decode(magnitude, dtype)
        return (m_hat.unsqueeze(-1) * self._codewords(direction.long(), dtype)).flatten(-2)
