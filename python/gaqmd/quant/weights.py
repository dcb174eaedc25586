"""int4 fake quantization of every weight matrix, attached as torch parametrizations.

Each parametrization knows the layout of its weight as (out, in) blocks, so that the scale is per
*output* channel: nn.Linear (out, in) rows; nn.Embedding (S, C) columns (the embedding is a linear
map of the one-hot species); e3nn o3.Linear a flat vector of (mul_in, mul_out) blocks, one per path.

Scales are either recomputed from the weight at every forward by scale_rule, or learned (LSQ):
initialized by scale_rule from the weight the quantizer is attached to, then trained with it. With
recomputed scales a latent weight crossing its channel's maximum re-scales the whole channel, so
every code of it can flip in one step; learned scales move smoothly.
"""

from typing import Optional

import torch
from e3nn import o3
from torch import nn
from torch.nn.utils import parametrize

from gaqmd.quant.int4 import codes_for_scales, fake_quant_int4, lsq_fake_quant_int4, quantize_int4, round_to_fp16


class Int4Rows(nn.Module):
    """(out, in) weight, one scale per row (or per group of in channels), chosen by scale_rule;
    learned from that start when given the weight (`initial`) and learn_scales."""

    def __init__(self, group_size: Optional[int] = None, scale_rule: str = "max",
                 initial: Optional[torch.Tensor] = None, learn_scales: bool = False):
        super().__init__()
        self.group_size = group_size
        self.scale_rule = scale_rule
        self.learned_scales = None
        if learn_scales:
            if initial is None:
                raise ValueError("learned int4 scales are initialized from the weight: pass initial")
            initial_scales = [quantize_int4(block.detach(), group_size, scale_rule)[1] for block in self.blocks(initial)]
            self.learned_scales = nn.ParameterList([nn.Parameter(scales) for scales in initial_scales])

    def blocks(self, weight: torch.Tensor) -> list[torch.Tensor]:
        """The weight as (out, in) matrices, the orientation in which scales are per row."""
        return [weight]

    def assemble(self, blocks: list[torch.Tensor]) -> torch.Tensor:
        """Inverse of blocks."""
        return blocks[0]

    def codes_and_scales(self, index: int, block: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Integer form of blocks(weight)[index]: int8 codes (out, in) and scales (out, n_groups)."""
        if self.learned_scales is None:
            return quantize_int4(block.detach(), self.group_size, self.scale_rule)
        scales = round_to_fp16(self.learned_scales[index].detach())  # as the forward uses them
        return codes_for_scales(block.detach(), scales, self.group_size), scales

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        if self.learned_scales is None:
            rounded = [fake_quant_int4(b, self.group_size, self.scale_rule) for b in self.blocks(weight)]
        else:
            rounded = [lsq_fake_quant_int4(b, s, self.group_size)
                       for b, s in zip(self.blocks(weight), self.learned_scales)]
        return self.assemble(rounded)


class Int4Columns(Int4Rows):
    """(in, out) weight such as an embedding table (species, channels): one scale per column."""

    def blocks(self, weight: torch.Tensor) -> list[torch.Tensor]:
        return [weight.t()]

    def assemble(self, blocks: list[torch.Tensor]) -> torch.Tensor:
        return blocks[0].t()


class Int4E3nnBlocks(Int4Rows):
    """Flat e3nn o3.Linear weight: one (mul_in, mul_out) block per path, scale per output channel."""

    def __init__(self, block_shapes: list[tuple[int, int]], group_size: Optional[int] = None, scale_rule: str = "max",
                 initial: Optional[torch.Tensor] = None, learn_scales: bool = False):
        self.block_shapes = [tuple(shape) for shape in block_shapes]
        super().__init__(group_size, scale_rule, initial, learn_scales)

    def blocks(self, weight: torch.Tensor) -> list[torch.Tensor]:
        blocks, start = [], 0
        for mul_in, mul_out in self.block_shapes:
            blocks.append(weight[start : start + mul_in * mul_out].reshape(mul_in, mul_out).t())
            start += mul_in * mul_out
        return blocks

    def assemble(self, blocks: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat([block.t().reshape(-1) for block in blocks])


def e3nn_block_shapes(linear: o3.Linear) -> list[tuple[int, int]]:
    return [tuple(ins.path_shape) for ins in linear.instructions]


def weight_quantizer(module: nn.Module, group_size: Optional[int], scale_rule: str,
                     learn_scales: bool = False) -> Optional[nn.Module]:
    """The int4 parametrization for a module's 'weight', or None for modules without a matrix;
    learned scales start from the module's current weight."""
    if isinstance(module, o3.Linear) and module.weight_numel > 0:
        return Int4E3nnBlocks(e3nn_block_shapes(module), group_size, scale_rule, module.weight, learn_scales)
    if isinstance(module, nn.Linear):
        return Int4Rows(group_size, scale_rule, module.weight, learn_scales)
    if isinstance(module, nn.Embedding):
        return Int4Columns(group_size, scale_rule, module.weight, learn_scales)
    return None


def quantize_weights(model: nn.Module, group_size: Optional[int] = None, scale_rule: str = "max",
                     learn_scales: bool = False) -> list[str]:
    """Attach int4 fake quantization to every weight matrix of model; returns the module names."""
    names = []
    for name, module in list(model.named_modules()):
        if parametrize.is_parametrized(module, "weight"):
            continue
        quantizer = weight_quantizer(module, group_size, scale_rule, learn_scales)
        if quantizer is not None:
            parametrize.register_parametrization(module, "weight", quantizer)
            names.append(name)
    return names
