"""Activation quantizers for e3nn feature tensors, and the hooks that attach them to the model.

Quantized (DESIGN §4, w4a8 modes): node features entering each interaction (they multiply weights
and are the stored per-atom state), node features after linear_up (gathered by every edge), the
radial-MLP hidden activations and outputs (the tensor-product path weights), the readout MLP
inputs, and with `edge_basis: int8` the radial basis entering the radial MLP and the attention's
key. Spherical harmonics and neighbour sums stay in float: the engine computes them per edge in
registers and accumulates in fp32.
"""

import functools
from typing import Optional

import torch
from e3nn import o3
from torch import nn

from gaqmd.model import EquivariantPotential
from gaqmd.quant.codebook import SphericalCodebook
from gaqmd.quant.config import QuantConfig
from gaqmd.quant.frames import local_frames
from gaqmd.quant.lsq import LsqQuantizer
from gaqmd.quant.mddq import MagnitudeQuantizer, MddqQuantizer
from gaqmd.quant.vector_baselines import LocalFrameQuantizer, l2_quantizer, naive_vector_quantizer


class IrrepsQuantizer(nn.Module):
    """Quantizes a (..., irreps.dim) tensor block by block: l=0 int8, l=1 MDDQ or naive, l=2 per config.

    Vector blocks (l > 0) pass through unchanged while `vectors_enabled` is False (QAT warm-up).
    """

    def __init__(self, irreps: o3.Irreps, config: QuantConfig, codebook: Optional[SphericalCodebook]):
        super().__init__()
        self.irreps = o3.Irreps(irreps)
        self.degrees = [ir.l for _, ir in self.irreps]
        self.blocks = nn.ModuleList(block_quantizer(mul, ir.l, config, codebook) for mul, ir in self.irreps)
        self.vectors_enabled = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = []
        for quantizer, degree, span in zip(self.blocks, self.degrees, self.irreps.slices()):
            block = x[..., span]
            parts.append(quantizer(block) if degree == 0 or self.vectors_enabled else block)
        return torch.cat(parts, dim=-1)


def block_quantizer(mul: int, degree: int, config: QuantConfig, codebook) -> nn.Module:
    bits, init = config.bits_for(degree), config.scale_init
    if degree == 0:
        return LsqQuantizer(num_channels=mul, bits=bits, signed=True, init=init)
    if config.mode == "w4a8-naive":
        return naive_vector_quantizer(mul, 2 * degree + 1, bits, init=init)
    if degree == 1:
        return MddqQuantizer(mul, codebook, magnitude_bits=bits, log_domain=config.magnitude_log_domain, init=init)
    quantizer = l2_quantizer(config.l2_mode, mul, bits, init=init)
    return LocalFrameQuantizer(quantizer, mul, degree) if config.l2_frame == "local" else quantizer


def scalar_quantizer(num_channels: int, config: QuantConfig) -> LsqQuantizer:
    return LsqQuantizer(num_channels=num_channels, bits=config.activation_bits, signed=True, init=config.scale_init)


# Hooks read their quantizer from the hooked module, so deep copies of the model stay consistent.
def _quantize_input(module, args):
    return (module.input_quantizer(args[0]), *args[1:])


def _quantize_output(module, args, output):
    return module.output_quantizer(output)


def attach_input(module: nn.Module, quantizer: nn.Module) -> None:
    module.input_quantizer = quantizer
    module.register_forward_pre_hook(_quantize_input)


def attach_output(module: nn.Module, quantizer: nn.Module) -> None:
    module.output_quantizer = quantizer
    module.register_forward_hook(_quantize_output)


def quantize_activations(model: EquivariantPotential, config: QuantConfig) -> None:
    """Attach the activation quantizers of a w4a8 mode to the model's modules."""
    codebook = None
    if config.mode == "w4a8":
        codebook = SphericalCodebook.from_bits(config.codebook_bits, refine=config.codebook_refine)
    basis_int8 = config.edge_basis == "int8"
    for layer in model.layers:
        attach_input(layer, IrrepsQuantizer(layer.irreps_in, config, codebook))
        attach_output(layer.linear_up, IrrepsQuantizer(layer.irreps_in, config, codebook))
        for linear in layer.radial_mlp.layers[0 if basis_int8 else 1:]:
            attach_input(linear, scalar_quantizer(linear.in_features, config))
        attach_output(layer.radial_mlp, scalar_quantizer(layer.tensor_product.weight_numel, config))
        if layer.attention is not None and basis_int8:
            attach_input(layer.attention.key_radial, scalar_quantizer(layer.attention.key_radial.in_features, config))
    directions_local = config.direction_frame == "local"
    if config.mode == "w4a8" and (directions_local or config.l2_frame == "local"):
        model.register_forward_pre_hook(functools.partial(_set_local_frames, directions=directions_local))
    attach_input(model.readout.hidden, scalar_quantizer(model.readout.hidden.in_features, config))
    attach_input(model.readout.out, scalar_quantizer(model.readout.out.in_features, config))
    set_int8_ste(model, config.int8_ste == "clipped")


def set_int8_ste(model: nn.Module, clipped: bool) -> None:
    """Clipped or unclipped straight-through derivative for every int8 (LSQ) activation quantizer;
    MDDQ magnitudes keep their own clipped one."""
    magnitudes = {id(module.lsq) for module in model.modules() if isinstance(module, MagnitudeQuantizer)}
    for module in model.modules():
        if isinstance(module, LsqQuantizer) and id(module) not in magnitudes:
            module.clip_ste = clipped


def _set_local_frames(model, args, directions: bool = True):
    """Forward pre-hook of the potential: frames from (positions, species, edge_index, edge_shift)
    for the l >= 2 blocks in local frames, and for the MDDQ directions when `directions`."""
    frames = local_frames(args[0], args[2], args[3])
    for module in model.modules():
        if isinstance(module, LocalFrameQuantizer) or (directions and isinstance(module, MddqQuantizer)):
            module.frames = frames


def set_vector_quantization(model: nn.Module, enabled: bool) -> None:
    """Switch the l > 0 activation quantizers on or off (the symmetry-aware warm-up)."""
    for module in model.modules():
        if isinstance(module, IrrepsQuantizer):
            module.vectors_enabled = enabled
