"""convert: the integer form of a QAT model (packed int4 weights, scales, activation scales,
codebook), which the exporter writes into the model artifact."""

from dataclasses import dataclass
from typing import Optional

import torch
from torch import nn
from torch.nn.utils import parametrize

from gaqmd.quant.int4 import pack_int4


@dataclass(frozen=True)
class PackedWeight:
    """int4 codes packed two per byte (low nibble first) in the (out, in) orientation of each block,
    and their scales (out, n_groups). shapes: the (out, in) shape of every block, in order."""

    packed: torch.Tensor  # (ceil(numel / 2),) uint8
    scales: list[torch.Tensor]
    shapes: list[tuple[int, int]]
    group_size: Optional[int]


def convert_weights(model: nn.Module) -> dict[str, PackedWeight]:
    """Packed int4 form of every parametrized weight, keyed by module name."""
    converted = {}
    for name, module in model.named_modules():
        if not parametrize.is_parametrized(module, "weight"):
            continue
        quantizer = module.parametrizations.weight[0]
        original = module.parametrizations.weight.original.detach()
        codes, scales, shapes = [], [], []
        for index, block in enumerate(quantizer.blocks(original)):
            block_codes, block_scales = quantizer.codes_and_scales(index, block)
            codes.append(block_codes.reshape(-1))
            scales.append(block_scales)
            shapes.append(tuple(block.shape))
        converted[name] = PackedWeight(pack_int4(torch.cat(codes)), scales, shapes, quantizer.group_size)
    return converted
