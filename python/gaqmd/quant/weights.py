"""int4 fake quantization of every weight matrix, attached as torch parametrizations.

Each parametrization knows the layout of its weight, so that the scale is per *output* channel:
nn.Linear (out, in) rows; nn.Embedding (S, C) columns (the embedding is a linear map of the
one-hot species); e3nn o3.Linear a flat vector of (mul_in, mul_out) blocks, one per path.
"""

from typing import Optional

import torch
from e3nn import o3
from torch import nn
from torch.nn.utils import parametrize

from gaqmd.quant.int4 import fake_quant_int4


class Int4Rows(nn.Module):
    """(out, in) weight, one scale per row (or per group of in channels), chosen by scale_rule."""

    def __init__(self, group_size: Optional[int] = None, scale_rule: str = "max"):
        super().__init__()
        self.group_size = group_size
        self.scale_rule = scale_rule

    def quantize(self, weight: torch.Tensor) -> torch.Tensor:
        return fake_quant_int4(weight, self.group_size, self.scale_rule)

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return self.quantize(weight)


class Int4Columns(Int4Rows):
    """(in, out) weight such as an embedding table (species, channels): one scale per column."""

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return self.quantize(weight.t()).t()


class Int4E3nnBlocks(Int4Rows):
    """Flat e3nn o3.Linear weight: one (mul_in, mul_out) block per path, scale per output channel."""

    def __init__(self, block_shapes: list[tuple[int, int]], group_size: Optional[int] = None, scale_rule: str = "max"):
        super().__init__(group_size, scale_rule)
        self.block_shapes = [tuple(shape) for shape in block_shapes]

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        blocks, start = [], 0
        for mul_in, mul_out in self.block_shapes:
            block = weight[start : start + mul_in * mul_out].reshape(mul_in, mul_out)
            blocks.append(self.quantize(block.t()).t().reshape(-1))
            start += mul_in * mul_out
        return torch.cat(blocks)


def e3nn_block_shapes(linear: o3.Linear) -> list[tuple[int, int]]:
    return [tuple(ins.path_shape) for ins in linear.instructions]


def weight_quantizer(module: nn.Module, group_size: Optional[int], scale_rule: str) -> Optional[nn.Module]:
    """The int4 parametrization for a module's 'weight', or None for modules without a matrix."""
    if isinstance(module, o3.Linear) and module.weight_numel > 0:
        return Int4E3nnBlocks(e3nn_block_shapes(module), group_size, scale_rule)
    if isinstance(module, nn.Linear):
        return Int4Rows(group_size, scale_rule)
    if isinstance(module, nn.Embedding):
        return Int4Columns(group_size, scale_rule)
    return None


def quantize_weights(model: nn.Module, group_size: Optional[int] = None, scale_rule: str = "max") -> list[str]:
    """Attach int4 fake quantization to every weight matrix of model; returns the module names."""
    names = []
    for name, module in list(model.named_modules()):
        quantizer = weight_quantizer(module, group_size, scale_rule)
        if quantizer is not None and not parametrize.is_parametrized(module, "weight"):
            parametrize.register_parametrization(module, "weight", quantizer)
            names.append(name)
    return names
