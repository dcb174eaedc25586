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
    """(out, in) weight, one scale per row (or per group of in channels)."""

    def __init__(self, group_size: Optional[int] = None):
        super().__init__()
        self.group_size = group_size

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return fake_quant_int4(weight, self.group_size)


class Int4Columns(Int4Rows):
    """(in, out) weight such as an embedding table (species, channels): one scale per column."""

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return fake_quant_int4(weight.t(), self.group_size).t()


class Int4E3nnBlocks(Int4Rows):
    """Flat e3nn o3.Linear weight: one (mul_in, mul_out) block per path, scale per output channel."""

    def __init__(self, block_shapes: list[tuple[int, int]], group_size: Optional[int] = None):
        super().__init__(group_size)
        self.block_shapes = [tuple(shape) for shape in block_shapes]

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        blocks, start = [], 0
        for mul_in, mul_out in self.block_shapes:
            block = weight[start : start + mul_in * mul_out].reshape(mul_in, mul_out)
            blocks.append(fake_quant_int4(block.t(), self.group_size).t().reshape(-1))
            start += mul_in * mul_out
        return torch.cat(blocks)


def e3nn_block_shapes(linear: o3.Linear) -> list[tuple[int, int]]:
    return [tuple(ins.path_shape) for ins in linear.instructions]


def weight_quantizer(module: nn.Module, group_size: Optional[int]) -> Optional[nn.Module]:
    """The int4 parametrization for a module's 'weight', or None for modules without a matrix."""
    if isinstance(module, o3.Linear) and module.weight_numel > 0:
        return Int4E3nnBlocks(e3nn_block_shapes(module), group_size)
    if isinstance(module, nn.Linear):
        return Int4Rows(group_size)
    if isinstance(module, nn.Embedding):
        return Int4Columns(group_size)
    return None


def quantize_weights(model: nn.Module, group_size: Optional[int] = None) -> list[str]:
    """Attach int4 fake quantization to every weight matrix of model; returns the module names."""
    names = []
    for name, module in list(model.named_modules()):
        quantizer = weight_quantizer(module, group_size)
        if quantizer is not None and not parametrize.is_parametrized(module, "weight"):
            parametrize.register_parametrization(module, "weight", quantizer)
            names.append(name)
    return names
