"""Geometric-Aware Quantization (GAQ): int4 weights, LSQ int8 activations, magnitude-direction
decoupled quantization (MDDQ) of l >= 1 features, and prepare_qat / convert for the potential."""

from gaqmd.quant.codebook import (
    SphericalCodebook,
    fibonacci_sphere,
    nearest_direction_bruteforce,
    refine_by_repulsion,
    repulsion_energy,
)
from gaqmd.quant.config import QuantConfig
from gaqmd.quant.convert import convert_weights
from gaqmd.quant.int4 import dequantize_int4, fake_quant_int4, pack_int4, quantize_int4, unpack_int4
from gaqmd.quant.lsq import LsqFakeQuant, LsqQuantizer, round_half_even_quant
from gaqmd.quant.mddq import GeometricSTE, MagnitudeQuantizer, MddqCodes, MddqQuantizer, polar, split_vectors
from gaqmd.quant.qat import add_activation_quantizers, calibrate, prepare_qat
from gaqmd.quant.vector_baselines import (
    L2_OPTIONS,
    Fp16Quantizer,
    Int8SharedQuantizer,
    LocalFrameQuantizer,
    MddqFp16Quantizer,
    NaiveInt8Vectors,
    l2_quantizer,
    naive_vector_quantizer,
)

__all__ = [
    "QuantConfig",
    "add_activation_quantizers",
    "calibrate",
    "convert_weights",
    "prepare_qat",
    "Fp16Quantizer",
    "GeometricSTE",
    "Int8SharedQuantizer",
    "L2_OPTIONS",
    "LocalFrameQuantizer",
    "LsqFakeQuant",
    "LsqQuantizer",
    "MagnitudeQuantizer",
    "MddqCodes",
    "MddqFp16Quantizer",
    "MddqQuantizer",
    "NaiveInt8Vectors",
    "SphericalCodebook",
    "dequantize_int4",
    "fake_quant_int4",
    "fibonacci_sphere",
    "l2_quantizer",
    "naive_vector_quantizer",
    "nearest_direction_bruteforce",
    "pack_int4",
    "polar",
    "quantize_int4",
    "refine_by_repulsion",
    "repulsion_energy",
    "round_half_even_quant",
    "split_vectors",
    "unpack_int4",
]
