"""prepare_qat: turn an FP32 potential into its fake-quantized QAT form, and calibrate it."""

from typing import Iterable

import torch

from gaqmd.data import GraphDataset
from gaqmd.model import EquivariantPotential, energy_and_forces
from gaqmd.quant.activations import quantize_activations, set_vector_quantization
from gaqmd.quant.config import QuantConfig
from gaqmd.quant.lsq import LsqQuantizer
from gaqmd.quant.weights import quantize_weights


def prepare_qat(model: EquivariantPotential, config: QuantConfig) -> EquivariantPotential:
    """Insert fake quantization in place (parametrizations and hooks; no layer code changes).

    fp32: nothing; w4a32: int4 weights; w4a8 / w4a8-naive: int4 weights plus activation quantizers.
    The model remembers its config as `model.quant_config`.
    """
    if config.quantizes_weights:
        quantize_weights(model, config.group_size, config.weight_scale, config.learn_weight_scales)
    if config.quantizes_activations:
        quantize_activations(model, config)
    model.quant_config = config
    return model


def calibrate(model: EquivariantPotential, batches: Iterable, dtype: torch.dtype = torch.float32) -> None:
    """Initialize every learned activation scale from data, before the optimizer or the weight EMA
    see the scales: each batch initializes the scales afresh (training-mode forward, vector
    quantizers included) and the final scale is the largest ("max" init) or mean ("lsq") seen."""
    quantizers = [m for m in model.modules() if isinstance(m, LsqQuantizer)]
    seen: list[list[torch.Tensor]] = [[] for _ in quantizers]
    was_training = model.training
    model.train()
    set_vector_quantization(model, True)
    for graph in batches:
        for quantizer in quantizers:
            quantizer.initialized.fill_(False)
        energy_and_forces(model, graph.to(dtype=dtype))
        for scales, quantizer in zip(seen, quantizers):
            scales.append(quantizer.scale.detach().clone())
    with torch.no_grad():
        for scales, quantizer in zip(seen, quantizers):
            if scales:
                stacked = torch.stack(scales)
                quantizer.scale.copy_(stacked.amax(0) if quantizer.init == "max" else stacked.mean(0))
    model.train(was_training)


def add_activation_quantizers(model: EquivariantPotential, config: QuantConfig, frames, batch_size: int = 16,
                              dtype: torch.dtype = torch.float64) -> EquivariantPotential:
    """Post-training quantization of the activations: attach config's activation quantizers to a model
    whose weights are already final (e.g. a W4A32 model), calibrate them on frames (a list of Frame)
    in batches of batch_size, and return the model in eval mode."""
    quantize_activations(model, config)
    model.quant_config = config
    calibrate(model, GraphDataset(frames, model.config.species, model.config.cutoff).batches(batch_size), dtype)
    return model.eval()
