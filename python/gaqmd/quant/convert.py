"""convert: the integer form of a QAT model (packed int4 weights, scales, activation scales,
codebook), which the exporter writes into the model artifact."""

from dataclasses import dataclass
from typing import Optional

import torch
from torch import nn
from torch.nn.utils import parametrize

from gaqmd.quant.int4 import pack_int4, quantize_int4
from gaqmd.quant.weights import Int4Columns, Int4E3nnBlocks


@dataclass(frozen=True)
class PackedWeight:
    """int4 codes packed two per byte (low nibble first) in the (out, in) orientation of each block,
    and their scales (out, n_groups). shapes: the (out, in) shape of every block, in order."""

    packed: torch.Tensor  # (ceil(numel / 2),) uint8
    scales: list[torch.Tensor]
    shapes: list[tuple[int, int]]
    group_size: Optional[int]


def _blocks(module: nn.Module, weight: torch.Tensor) -> list[torch.Tensor]:
    """The weight as a list of (out, in) matrices, the orientation in which scales are per row."""
    quantizer = module.parametrizations.weight[0]
    if isinstance(quantizer, Int4E3nnBlocks):
        blocks, start = [], 0
        for mul_in, mul_out in quantizer.block_shapes:
            blocks.append(weight[start : start + mul_in * mul_out].reshape(mul_in, mul_out).t())
            start += mul_in * mul_out
        return blocks
    if isinstance(quantizer, Int4Columns):
        return [weight.t()]
    return [weight]


def convert_weights(model: nn.Module) -> dict[str, PackedWeight]:
    """Packed int4 form of every parametrized weight, keyed by module name."""
    converted = {}
    for name, module in model.named_modules():
        if not parametrize.is_parametrized(module, "weight"):
            continue
        quantizer = module.parametrizations.weight[0]
        original = module.parametrizations.weight.original.detach()
        codes, scales, shapes = [], [], []
        for block in _blocks(module, original):
            block_codes, block_scales = quantize_int4(block, quantizer.group_size, quantizer.scale_rule)
            codes.append(block_codes.reshape(-1))
            scales.append(block_scales)
            shapes.append(tuple(block.shape))
        converted[name] = PackedWeight(pack_int4(torch.cat(codes)), scales, shapes, quantizer.group_size)
    return converted
