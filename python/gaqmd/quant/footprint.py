"""Memory footprint of a (quantized) potential: weight bytes and activation bytes per atom."""

import math

from e3nn import o3
from torch import nn

from gaqmd.model import EquivariantPotential
from gaqmd.quant.config import QuantConfig

FP32 = 4
INT4_SCALE_BYTES = 2  # int4 scales are fp16 values (gaqmd.quant.int4); activation scales fp32


def weight_bytes(model: EquivariantPotential) -> int:
    """Bytes of all parameters as the engine stores them: int4 matrices packed two per byte plus an
    fp16 scale per output channel (or group); every other parameter (activation scales included)
    in fp32."""
    modules = dict(model.named_modules())
    suffix = ".parametrizations.weight.original"
    total = 0
    for name, parameter in model.named_parameters():
        if name.endswith(suffix):
            owner = modules[name[: -len(suffix)]]
            total += math.ceil(parameter.numel() / 2) + INT4_SCALE_BYTES * _int4_scale_count(owner)
        elif ".parametrizations.weight.0.learned_scales." not in name:  # those are the scales counted above
            total += FP32 * parameter.numel()
    return total


def _int4_scale_count(module: nn.Module) -> int:
    quantizer = module.parametrizations.weight[0]
    group = quantizer.group_size
    if isinstance(module, o3.Linear):
        shapes = [tuple(i.path_shape) for i in module.instructions]
    elif isinstance(module, nn.Embedding):
        shapes = [(module.num_embeddings, module.embedding_dim)]
    else:
        shapes = [(module.in_features, module.out_features)]
    return sum(mul_out * (math.ceil(mul_in / group) if group else 1) for mul_in, mul_out in shapes)


def feature_bytes(irreps: o3.Irreps, config: QuantConfig) -> float:
    """Bytes of one atom's feature vector with these irreps, as stored in this mode (bit-packed
    when irrep_bits asks for widths that are not whole bytes)."""
    total_bits = 0
    for mul, ir in irreps:
        dim, bits = 2 * ir.l + 1, config.bits_for(ir.l)
        if not config.quantizes_activations:
            per_channel = 32 * dim
        elif ir.l == 0 or config.mode == "w4a8-naive":
            per_channel = bits * dim
        elif ir.l == 1:
            per_channel = bits + config.codebook_bits  # magnitude + codebook index
        else:
            per_channel = {"mddq-fp16": bits + 16 * dim, "int8-shared": bits * dim, "fp16": 16 * dim}[config.l2_mode]
        total_bits += mul * per_channel
    return total_bits / 8


def activation_bytes_per_atom(model: EquivariantPotential, config: QuantConfig) -> float:
    """Per-atom features each interaction stores and gathers over edges (its input x and
    linear_up(x)), summed over interactions."""
    return sum(2 * feature_bytes(layer.irreps_in, config) for layer in model.layers)
