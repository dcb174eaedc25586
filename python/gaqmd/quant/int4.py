"""Symmetric int4 weights: per-output-channel (optionally per-group) scales and nibble packing.

Codes are integers in [-7, 7] (no -8: symmetric), w ~ codes * scale with
scale = max|w| / 7 over the channel (or group of `group_size` consecutive input channels); an
all-zero channel (group) gets scale 1 and all-zero codes. codes = clamp(round_half_even(w / scale)),
dividing by the scale as the integer path does.

Packing: two codes per byte, LOW NIBBLE FIRST (element 2k in bits 0-3, element 2k+1 in bits 4-7),
each nibble the 4-bit two's complement of its code; an odd count pads a zero high nibble.
"""

import math
from typing import Optional, Tuple

import torch

INT4_MAX = 7
# fp16 limits for the stored scales: the smallest positive subnormal and the largest finite value.
FP16_TINY, FP16_MAX = 2.0**-24, 65504.0


def round_to_fp16(scales: torch.Tensor) -> torch.Tensor:
    """Positive scales -> the nearest fp16 values (kept within fp16's positive finite range), in
    the input's dtype."""
    return scales.clamp(FP16_TINY, FP16_MAX).to(torch.float16).to(scales.dtype)


def _num_groups(in_features: int, group_size: Optional[int]) -> int:
    if group_size is None:
        return 1
    if group_size <= 0:
        raise ValueError(f"group_size must be positive, got {group_size}")
    return math.ceil(in_features / group_size)


def _expand_scales(scales: torch.Tensor, in_features: int, group_size: Optional[int]) -> torch.Tensor:
    """scales (out, n_groups) -> (out, in_features), each group's scale repeated over its columns."""
    n_groups = _num_groups(in_features, group_size)
    if scales.shape[-1] != n_groups:
        raise ValueError(f"scales have {scales.shape[-1]} groups, expected {n_groups} for group_size={group_size}")
    width = in_features if group_size is None else group_size
    return scales.repeat_interleave(width, dim=1)[:, :in_features]


# Clip ratios tried by the "mse" scale rule: scale = ratio * max|w| / 7.
CLIP_RATIOS = tuple(1.0 - 0.05 * k for k in range(11))


def _mse_clip_ratio(groups: torch.Tensor, amax: torch.Tensor) -> torch.Tensor:
    """groups (out, G, width), amax (out, G) -> the ratio of CLIP_RATIOS with the least squared
    rounding error per group (the largest ratio on ties)."""
    best_error = torch.full_like(amax, float("inf"))
    best_ratio = torch.ones_like(amax)
    for ratio in CLIP_RATIOS:
        scale = torch.where(amax > 0, amax * ratio / INT4_MAX, torch.ones_like(amax)).unsqueeze(-1)
        error = (torch.clamp(torch.round(groups / scale), -INT4_MAX, INT4_MAX) * scale - groups).pow(2).sum(-1)
        better = error < best_error
        best_error = torch.where(better, error, best_error)
        best_ratio = torch.where(better, torch.full_like(amax, ratio), best_ratio)
    return best_ratio


@torch.no_grad()
def quantize_int4(
    w: torch.Tensor, group_size: Optional[int] = None, scale_rule: str = "max"
) -> Tuple[torch.Tensor, torch.Tensor]:
    """w (out, in) float -> (codes (out, in) int8 in [-7, 7], scales (out, n_groups) of w's dtype,
    each an fp16 value).

    n_groups = ceil(in / group_size) (the last group may be shorter), 1 without group_size.
    scale_rule "max": scale = max|w| / 7 per group; "mse": the clip ratio of CLIP_RATIOS times
    that which minimizes the group's squared rounding error (outliers clip, the rest resolve finer).
    """
    if w.dim() != 2:
        raise ValueError(f"expected a 2-D weight (out, in), got shape {tuple(w.shape)}")
    out_features, in_features = w.shape
    n_groups = _num_groups(in_features, group_size)
    width = in_features if group_size is None else group_size
    padded = torch.zeros(out_features, n_groups * width, dtype=w.dtype, device=w.device)
    padded[:, :in_features] = w
    groups = padded.reshape(out_features, n_groups, width)
    amax = groups.abs().amax(dim=-1)
    if scale_rule == "mse":
        amax = amax * _mse_clip_ratio(groups, amax)
    elif scale_rule != "max":
        raise ValueError(f"scale_rule must be 'max' or 'mse', got {scale_rule!r}")
    scales = torch.where(amax > 0, round_to_fp16(amax / INT4_MAX), torch.ones_like(amax))
    codes = torch.clamp(torch.round(w / _expand_scales(scales, in_features, group_size)), -INT4_MAX, INT4_MAX)
    return codes.to(torch.int8), scales


def dequantize_int4(codes: torch.Tensor, scales: torch.Tensor, group_size: Optional[int] = None) -> torch.Tensor:
    """codes (out, in) int8, scales (out, n_groups) -> weight (out, in) = codes * scale, scales' dtype."""
    return codes.to(scales.dtype) * _expand_scales(scales, codes.shape[1], group_size)


def pack_int4(codes: torch.Tensor) -> torch.Tensor:
    """Integer codes in [-8, 7], any shape, flattened row-major -> uint8 (ceil(numel / 2),)."""
    flat = codes.reshape(-1).to(torch.int16)
    if flat.numel() and (flat.min() < -8 or flat.max() > 7):
        raise ValueError("int4 codes must lie in [-8, 7]")
    nibbles = flat & 0xF
    if nibbles.numel() % 2:
        nibbles = torch.cat([nibbles, nibbles.new_zeros(1)])
    pairs = nibbles.reshape(-1, 2)
    return (pairs[:, 0] | (pairs[:, 1] << 4)).to(torch.uint8)


def unpack_int4(packed: torch.Tensor, numel: int) -> torch.Tensor:
    """uint8 (ceil(numel / 2),) from pack_int4 -> int8 (numel,) codes (reshape to the weight's shape)."""
    if packed.numel() != (numel + 1) // 2:
        raise ValueError(f"{packed.numel()} bytes cannot hold exactly {numel} int4 codes")
    bytes_ = packed.reshape(-1).to(torch.int16)
    nibbles = torch.stack([bytes_ & 0xF, bytes_ >> 4], dim=1).reshape(-1)[:numel]
    return torch.where(nibbles >= 8, nibbles - 16, nibbles).to(torch.int8)


class _Int4FakeQuant(torch.autograd.Function):
    """Forward dequantize(quantize(w)); backward identity (straight-through), itself differentiable."""

    @staticmethod
    def forward(ctx, w, group_size, scale_rule):
        codes, scales = quantize_int4(w, group_size, scale_rule)
        return dequantize_int4(codes, scales, group_size)

    @staticmethod
    def backward(ctx, grad):
        return grad, None, None


def fake_quant_int4(w: torch.Tensor, group_size: Optional[int] = None, scale_rule: str = "max") -> torch.Tensor:
    """w (out, in) -> int4-rounded w (equal to codes * scale bit for bit), gradient passed unchanged."""
    return _Int4FakeQuant.apply(w, group_size, scale_rule)


def codes_for_scales(w: torch.Tensor, scales: torch.Tensor, group_size: Optional[int] = None) -> torch.Tensor:
    """w (out, in), given scales (out, n_groups) of fp16 values -> int8 codes in [-7, 7]."""
    codes = torch.clamp(torch.round(w / _expand_scales(scales, w.shape[1], group_size)), -INT4_MAX, INT4_MAX)
    return codes.to(torch.int8)


def lsq_fake_quant_int4(w: torch.Tensor, scales: torch.Tensor, group_size: Optional[int] = None) -> torch.Tensor:
    """w (out, in) with learned scales (out, n_groups) -> codes * fp16(scale), bit for bit what
    codes_for_scales and dequantize_int4 give, with LSQ gradients (Esser et al., 2020): w gets
    the straight-through gradient inside the int4 range and none where it clips; a scale gets
    d(codes * s)/ds = round(w/s) - w/s inside, ±7 where clipped, times 1/sqrt(group width * 7)."""
    per_scale = w.shape[1] if group_size is None else group_size
    gradient_scaled = scales * (1.0 / math.sqrt(per_scale * INT4_MAX))
    # value: the fp16 scale exactly (x - x.detach() is exactly zero); gradient: that of `scales`, scaled
    stored = round_to_fp16(scales.detach()) + (gradient_scaled - gradient_scaled.detach())
    expanded = _expand_scales(stored, w.shape[1], group_size)
    ratio = w / expanded
    rounded = torch.round(ratio).detach() + (ratio - ratio.detach())
    return torch.clamp(rounded, -INT4_MAX, INT4_MAX) * expanded
