"""Learned-step-size quantization (LSQ, Esser et al. 2019) of activations: int8 fake quant and codes.

The quantizer maps x to q = clamp(round_half_even(x / s), qmin, qmax) and back to q * s, with the
same expression in the fake-quant forward and in the integer path, so both agree bit for bit:
divide by s (never multiply by a reciprocal), round half to even, clamp, multiply by s.

Gradients (custom autograd function, backward written with plain torch ops so that a force loss,
computed with create_graph=True, can differentiate through it once more):

- input: clipped straight-through estimator, dL/dx = g * [qmin <= x/s <= qmax], or with
  clip_ste False the unclipped one, dL/dx = g (an activation beyond its calibrated range keeps
  passing forces instead of dropping them);
- scale: dq_hat/ds = q - (x/s) * [qmin <= x/s <= qmax] (LSQ paper eq. 3), multiplied by the LSQ
  gradient scale 1 / sqrt(n * qmax), n = number of elements sharing that scale in the call.
"""

import math
from typing import Optional, Tuple

import torch
from torch import nn


def round_half_even_quant(x: torch.Tensor, scale: torch.Tensor, qmin: int, qmax: int) -> torch.Tensor:
    """Integer codes clamp(round_half_even(x / scale), qmin, qmax), as floats of x's dtype.

    scale broadcasts against x; the result holds exact integers, so codes * scale is the fake-quant
    value and codes.to(int) the integer form.
    """
    return torch.clamp(torch.round(x / scale), qmin, qmax)


def sum_to_shape(grad: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """Reduce a broadcast gradient back to `shape` (the inverse of broadcasting)."""
    extra = grad.dim() - len(shape)
    if extra > 0:
        grad = grad.sum(dim=tuple(range(extra)))
    dims = tuple(i for i, size in enumerate(shape) if size == 1 and grad.shape[i] != 1)
    return grad.sum(dim=dims, keepdim=True) if dims else grad


class LsqFakeQuant(torch.autograd.Function):
    """q_hat = clamp(round(x / s), qmin, qmax) * s with the LSQ backward (see module docstring).

    s must already broadcast against x and have x's dtype. Not marked once_differentiable: the
    backward is built from differentiable ops on the saved inputs, so double backward works.
    """

    @staticmethod
    def forward(ctx, x, scale, qmin: int, qmax: int, grad_scale: float, clip_ste: bool = True):
        ctx.save_for_backward(x, scale)
        ctx.qmin, ctx.qmax, ctx.grad_scale, ctx.clip_ste = qmin, qmax, grad_scale, clip_ste
        return round_half_even_quant(x, scale, qmin, qmax) * scale

    @staticmethod
    def backward(ctx, grad):
        x, scale = ctx.saved_tensors
        w = x / scale
        inside = ((w >= ctx.qmin) & (w <= ctx.qmax)).to(grad.dtype)
        grad_x = grad * inside if ctx.clip_ste else grad
        codes = torch.clamp(torch.round(w), ctx.qmin, ctx.qmax)
        grad_scale = sum_to_shape(grad * (codes - w * inside) * ctx.grad_scale, scale.shape)
        return grad_x, grad_scale, None, None, None, None


class LsqQuantizer(nn.Module):
    """Symmetric (or unsigned) fake quantizer with one learned scale per channel.

    Channels are either the `channel_dim` axis of x (size num_channels), or, with `channel_size`,
    consecutive blocks of the last axis: x (..., num_channels * channel_size), as e3nn stores C x l
    features. num_channels = 1 is a per-tensor scale. Signed codes span [-(2^(b-1)-1), 2^(b-1)-1]
    (no -2^(b-1): symmetric), unsigned [0, 2^b - 1]; qmin/qmax override both.

    The scale (feature units) is initialised on the first forward in training mode from that batch:
    init="lsq": 2 mean|x| / sqrt(qmax) per channel, init="max": max|x| / qmax; a channel whose
    statistic is 0 gets 1. The `initialized` buffer makes this survive state_dict round trips.
    clip_ste: the input's straight-through derivative is 0 beyond the code range (True, LSQ) or 1.
    """

    def __init__(
        self,
        num_channels: int = 1,
        bits: int = 8,
        signed: bool = True,
        channel_dim: int = -1,
        channel_size: Optional[int] = None,
        init: str = "lsq",
        qmin: Optional[int] = None,
        qmax: Optional[int] = None,
        clip_ste: bool = True,
    ):
        super().__init__()
        if init not in ("lsq", "max"):
            raise ValueError(f"init must be 'lsq' or 'max', got {init!r}")
        top = 2 ** (bits - 1) - 1 if signed else 2**bits - 1
        self.qmin = int(qmin) if qmin is not None else (-top if signed else 0)
        self.qmax = int(qmax) if qmax is not None else top
        self.num_channels = int(num_channels)
        self.channel_dim = int(channel_dim)
        self.channel_size = channel_size
        self.init = init
        self.clip_ste = bool(clip_ste)
        self.scale = nn.Parameter(torch.ones(num_channels))
        self.register_buffer("initialized", torch.tensor(False))

    def expanded_scale(self, x: torch.Tensor) -> torch.Tensor:
        """The per-channel scale, cast to x's dtype and shaped to broadcast against x."""
        scale = self.scale.to(x.dtype)
        if self.num_channels == 1:
            return scale.reshape([1] * x.dim())
        if self.channel_size is not None:
            return scale.repeat_interleave(self.channel_size)
        shape = [1] * x.dim()
        shape[self.channel_dim] = self.num_channels
        return scale.reshape(shape)

    def _per_channel(self, x: torch.Tensor) -> torch.Tensor:
        """x rearranged to (num_channels, n) so that statistics run over the second axis."""
        if self.num_channels == 1:
            return x.reshape(1, -1)
        if self.channel_size is not None:
            return x.reshape(-1, self.num_channels, self.channel_size).transpose(0, 1).reshape(self.num_channels, -1)
        return x.movedim(self.channel_dim, 0).reshape(self.num_channels, -1)

    @torch.no_grad()
    def initialize_from(self, x: torch.Tensor) -> None:
        """Set the scale from the statistics of x (see class docstring) and mark it initialised."""
        magnitude = self._per_channel(x.detach()).abs()
        if self.init == "lsq":
            scale = 2.0 * magnitude.mean(dim=1) / math.sqrt(self.qmax)
        else:
            scale = magnitude.amax(dim=1) / self.qmax
        scale = torch.where((scale > 0) & torch.isfinite(scale), scale, torch.ones_like(scale))
        self.scale.copy_(scale.to(self.scale.dtype))
        self.initialized.fill_(True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Fake quantization: x (..., feature) -> codes * scale, same shape and dtype."""
        if self.training and not bool(self.initialized):
            self.initialize_from(x)
        grad_scale = 1.0 / math.sqrt(max(x.numel() // self.num_channels, 1) * self.qmax)
        return LsqFakeQuant.apply(x, self.expanded_scale(x), self.qmin, self.qmax, grad_scale, self.clip_ste)

    def code_dtype(self) -> torch.dtype:
        if self.qmin >= 0 and self.qmax <= 255:
            return torch.uint8
        if self.qmin >= -128 and self.qmax <= 127:
            return torch.int8
        return torch.int32

    @torch.no_grad()
    def quantize(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """x -> (integer codes of x's shape: int8 / uint8 / int32, scale (num_channels,))."""
        codes = round_half_even_quant(x, self.expanded_scale(x), self.qmin, self.qmax)
        return codes.to(self.code_dtype()), self.scale.detach().clone()

    @torch.no_grad()
    def dequantize(self, codes: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Integer codes -> codes * scale in `dtype`; equals forward(x) bit for bit in that dtype."""
        values = codes.to(dtype)
        return values * self.expanded_scale(values)
