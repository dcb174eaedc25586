"""Lower a PyTorch potential (FP32 or QAT) to the flat model description of docs/format.md.

The description is what the native engine computes from: attributes (strings) and named arrays.
Every coefficient comes from the modules themselves (e3nn paths and normalizations are probed,
not re-derived), and every lowered linear map is checked against the module it came from.
"""

import copy

import numpy as np
import torch
from e3nn import o3
from torch import nn
from torch.nn.utils import parametrize

from gaqmd.export.probe import linear_blocks, tensor_product_paths
from gaqmd.model import EquivariantPotential
from gaqmd.quant.activations import IrrepsQuantizer
from gaqmd.quant.int4 import pack_int4
from gaqmd.quant.lsq import LsqQuantizer
from gaqmd.quant.mddq import MddqQuantizer
from gaqmd.quant.vector_baselines import (
    Fp16Quantizer,
    LocalFrameQuantizer,
    MddqFp16Quantizer,
    NaiveInt8Vectors,
)
from gaqmd.quant.weights import Int4Rows

FORMAT_VERSION = 1
EXPORTABLE_MODES = ("fp32", "w4a32", "w4a8", "w4a8-naive")
# The lowered e3nn Linear must reproduce the module's probed matrices to float64 round-off.
_PROBE_RTOL = 1e-12

Description = tuple[dict[str, str], dict[str, np.ndarray]]


class ExportError(ValueError):
    """A model that cannot be lowered (unsupported mode or layer); the message says which."""


def _float_array(values: torch.Tensor) -> np.ndarray:
    """float32 when that is exact (trained weights), float64 otherwise (float64 test models)."""
    values = values.detach().to(torch.float64).cpu()
    single = values.to(torch.float32)
    if torch.equal(single.to(torch.float64), values):
        return single.numpy().copy()
    return values.numpy().copy()


def _f64(values) -> np.ndarray:
    return torch.as_tensor(values).detach().to(torch.float64).cpu().numpy().copy()


def _weight_quantizer(module: nn.Module) -> Int4Rows | None:
    if parametrize.is_parametrized(module, "weight"):
        return module.parametrizations.weight[0]
    return None


def _put_matrix(out: Description, name: str, matrix: torch.Tensor, alpha: float,
                quantizer: Int4Rows | None, block: int = 0) -> None:
    """matrix (out, in), raw (before int4 rounding), block `block` of its quantizer's weight; the
    map is y = alpha * W x (format.md)."""
    attributes, arrays = out
    arrays[f"{name}.alpha"] = np.asarray(alpha, dtype=np.float64)
    if quantizer is None:
        arrays[f"{name}.w"] = _float_array(matrix)
        return
    codes, scales = quantizer.codes_and_scales(block, matrix.detach())
    arrays[f"{name}.codes"] = pack_int4(codes).numpy()
    arrays[f"{name}.scales"] = _f64(scales)
    arrays[f"{name}.shape"] = np.asarray(matrix.shape, dtype=np.int32)
    attributes[f"{name}.group"] = str(quantizer.group_size or matrix.shape[1])


def _raw_weight(module: nn.Module) -> torch.Tensor:
    if parametrize.is_parametrized(module, "weight"):
        return module.parametrizations.weight.original
    return module.weight


def _irreps_array(irreps: o3.Irreps) -> np.ndarray:
    return np.asarray([[mul, ir.l] for mul, ir in o3.Irreps(irreps)], dtype=np.int32).reshape(-1, 2)


def _put_torch_linear(out: Description, name: str, linear: nn.Linear) -> None:
    _put_matrix(out, name, _raw_weight(linear), 1.0, _weight_quantizer(linear))
    if linear.bias is not None:
        out[1][f"{name}.bias"] = _float_array(linear.bias)


def _put_e3nn_linear(out: Description, name: str, linear: o3.Linear) -> None:
    """Paths of an e3nn Linear, each (mul_out, mul_in) with its path normalization alpha."""
    if linear.bias_numel > 0:
        raise ExportError(f"{name}: e3nn Linear with biases is not supported")
    arrays = out[1]
    arrays[f"{name}.irreps_in"] = _irreps_array(linear.irreps_in)
    arrays[f"{name}.irreps_out"] = _irreps_array(linear.irreps_out)
    arrays[f"{name}.paths"] = np.asarray([[ins.i_in, ins.i_out] for ins in linear.instructions],
                                         dtype=np.int32).reshape(-1, 2)
    raw, quantizer, start = _raw_weight(linear), _weight_quantizer(linear), 0
    probed = linear_blocks(_hook_free_copy(linear))
    for p, (ins, probe) in enumerate(zip(linear.instructions, probed)):
        mul_in, mul_out = ins.path_shape
        block = raw[start : start + mul_in * mul_out].reshape(mul_in, mul_out).t()
        start += mul_in * mul_out
        _put_matrix(out, f"{name}.p{p}", block, float(ins.path_weight), quantizer, p)
        _check_block(out, f"{name}.p{p}", probe.matrix.t())


def _hook_free_copy(linear: o3.Linear) -> o3.Linear:
    """A plain e3nn Linear with the module's effective (int4-rounded) weights, without the
    activation-quantizer hooks, so probing it measures the linear map alone."""
    instructions = [(ins.i_in, ins.i_out) for ins in linear.instructions]
    clone = o3.Linear(linear.irreps_in, linear.irreps_out, instructions=instructions).to(torch.float64)
    clone.weight.copy_(linear.weight)
    return clone


def _decoded(arrays: dict[str, np.ndarray], attributes: dict[str, str], name: str) -> torch.Tensor:
    """alpha * W of a stored matrix, float64 (out, in)."""
    alpha = float(arrays[f"{name}.alpha"])
    if f"{name}.w" in arrays:
        return alpha * torch.from_numpy(arrays[f"{name}.w"]).to(torch.float64)
    from gaqmd.quant.int4 import dequantize_int4, unpack_int4

    rows, cols = (int(n) for n in arrays[f"{name}.shape"])
    codes = unpack_int4(torch.from_numpy(arrays[f"{name}.codes"]), rows * cols).reshape(rows, cols)
    group = int(attributes[f"{name}.group"])
    scales = torch.from_numpy(arrays[f"{name}.scales"])
    return alpha * dequantize_int4(codes, scales, None if group >= cols else group)


def _check_block(out: Description, name: str, expected: torch.Tensor) -> None:
    attributes, arrays = out
    actual = _decoded(arrays, attributes, name)
    expected = expected.to(torch.float64)
    if not torch.allclose(actual, expected, rtol=_PROBE_RTOL, atol=_PROBE_RTOL * float(expected.abs().max())):
        raise ExportError(f"{name}: lowered matrix differs from the module's (e3nn normalization changed?)")


def _checked_scale(name: str, quantizer: LsqQuantizer) -> np.ndarray:
    """The learned scales, positive. Adam can walk a scale through zero; a symmetric quantizer is odd
    in s (round half to even is odd, the clamp is symmetric), so |s| gives the same values and STE
    mask. Others cannot be rescued."""
    scale = _f64(quantizer.scale).reshape(-1)
    if quantizer.qmin == -quantizer.qmax:
        scale = np.abs(scale)
    if not (scale > 0).all():
        raise ExportError(f"{name}: quantizer scales must be positive, got {scale[scale <= 0][:5].tolist()}")
    return scale


def _put_lsq(out: Description, name: str, quantizer: LsqQuantizer, vector_components: bool = False) -> None:
    """Per-channel LSQ; vector_components: an l >= 1 block's int8 kind, one scale for the block or
    per channel shared by its 2l+1 components."""
    if quantizer.channel_size is not None and not vector_components:
        raise ExportError(f"{name}: channel-block LSQ quantizers are exported only for l >= 1 blocks")
    out[1][f"{name}.scale"] = _checked_scale(name, quantizer)
    out[0][f"{name}.qmin"] = str(quantizer.qmin)
    out[0][f"{name}.qmax"] = str(quantizer.qmax)
    ste = "clipped" if quantizer.clip_ste else "unclipped"
    if out[0].setdefault("int8_ste", ste) != ste:
        raise ExportError(f"{name}: a {ste} straight-through derivative, the model's other int8 quantizers have "
                          f"{out[0]['int8_ste']} ones; the engine takes one for all")


def _put_magnitude(out: Description, name: str, magnitude) -> None:
    attributes, arrays = out
    arrays[f"{name}.scale"] = _f64(magnitude.lsq.scale).reshape(-1)
    attributes[f"{name}.qmax"] = str(magnitude.qmax)
    attributes[f"{name}.log_domain"] = str(int(magnitude.log_domain))
    if magnitude.log_domain:
        arrays[f"{name}.log_min"] = _f64(magnitude.log_min).reshape(-1)
    attributes["zero_threshold"] = repr(magnitude.zero_threshold)


def _put_mddq(out: Description, name: str, quantizer: MddqQuantizer) -> None:
    _put_magnitude(out, name, quantizer.magnitude)
    out[1].setdefault("codebook.points", _f64(quantizer.codebook.points))


def _put_vector_block(out: Description, name: str, block: nn.Module, degree: int) -> None:
    """An l >= 1 block: attribute NAME.kind says which quantizer (docs/format.md)."""
    attributes = out[0]
    if isinstance(block, LocalFrameQuantizer):
        if degree != 2:
            raise ExportError(f"{name}: local frames are exported for l = 2 blocks only, got l={degree}")
        attributes[f"{name}.frame"] = "local"
        block = block.quantizer
    if isinstance(block, MddqQuantizer) and degree == 1:
        attributes[f"{name}.kind"] = "mddq"
        _put_mddq(out, name, block)
    elif isinstance(block, NaiveInt8Vectors):
        attributes[f"{name}.kind"] = "int8"
        _put_lsq(out, name, block.lsq, vector_components=True)
    elif isinstance(block, MddqFp16Quantizer):
        attributes[f"{name}.kind"] = "mddq-fp16"
        _put_magnitude(out, name, block.magnitude)
    elif isinstance(block, Fp16Quantizer):
        attributes[f"{name}.kind"] = "fp16"
    else:
        raise ExportError(f"{name}: {type(block).__name__} for l={degree} is not exportable")


def _put_irreps_quantizer(out: Description, name: str, quantizer: IrrepsQuantizer) -> None:
    if not quantizer.vectors_enabled:
        raise ExportError(f"{name}: vector quantization is switched off (QAT warm-up); finish QAT first")
    for b, (block, degree) in enumerate(zip(quantizer.blocks, quantizer.degrees)):
        if degree == 0:
            _put_lsq(out, f"{name}.b{b}", block)
        else:
            _put_vector_block(out, f"{name}.b{b}", block, degree)


def _quantizes_edge_basis(layer) -> bool:
    return hasattr(layer.radial_mlp.layers[0], "input_quantizer")


def _put_layer(out: Description, t: int, layer, quantized: bool) -> None:
    arrays = out[1]
    name = f"layer{t}"
    arrays[f"{name}.irreps_in"] = _irreps_array(layer.irreps_in)
    arrays[f"{name}.irreps_out"] = _irreps_array(layer.irreps_out)
    arrays[f"{name}.irreps_mid"] = _irreps_array(layer.tensor_product.irreps_out)
    arrays[f"{name}.irreps_gate"] = _irreps_array(layer.gate.irreps_in)
    _put_e3nn_linear(out, f"{name}.linear_up", layer.linear_up)
    _put_e3nn_linear(out, f"{name}.linear_down", layer.linear_down)
    _put_e3nn_linear(out, f"{name}.self_connection", layer.self_connection)
    for k, linear in enumerate(layer.radial_mlp.layers):
        _put_torch_linear(out, f"{name}.radial{k}", linear)
    _put_tensor_product(out, name, layer)
    _put_gate_constants(out, name, layer.gate)
    if layer.attention is not None:
        attention = layer.attention
        for part in ("query", "key", "key_radial"):
            _put_torch_linear(out, f"{name}.attention.{part}", getattr(attention, part))
        arrays[f"{name}.attention.temperature"] = _f64(attention.temperature).reshape(())
    if quantized:
        edge_basis_int8 = _quantizes_edge_basis(layer)
        _put_irreps_quantizer(out, f"{name}.in_q", layer.input_quantizer)
        _put_irreps_quantizer(out, f"{name}.up_q", layer.linear_up.output_quantizer)
        for k, linear in enumerate(layer.radial_mlp.layers):
            if k > 0 or edge_basis_int8:
                _put_lsq(out, f"{name}.radial{k}.in_q", linear.input_quantizer)
        _put_lsq(out, f"{name}.radial.out_q", layer.radial_mlp.output_quantizer)
        if layer.attention is not None and edge_basis_int8:
            _put_lsq(out, f"{name}.attention.key_radial.in_q", layer.attention.key_radial.input_quantizer)


def _put_tensor_product(out: Description, name: str, layer) -> None:
    arrays = out[1]
    channels = layer.irreps_in[0].mul
    paths = tensor_product_paths(layer.tensor_product)
    rows = []
    for p, path in enumerate(paths):
        if path.weight_offset != p * channels:
            raise ExportError(f"{name}.tp: path {p} weights start at {path.weight_offset}, expected {p * channels}")
        rows.append([path.i_in1, layer.irreps_sh[path.i_in2].ir.l, path.i_out])
        arrays[f"{name}.tp.cg{p}"] = _f64(path.coefficients)
    arrays[f"{name}.tp.paths"] = np.asarray(rows, dtype=np.int32).reshape(-1, 3)


def _put_gate_constants(out: Description, name: str, gate) -> None:
    """e3nn normalizes the gate's activations to unit second moment: act(x) = c * f(x). Probe c."""
    one = torch.ones(1, 1, dtype=torch.float64)
    scalar_act = gate.act_scalars.acts[0](one) / nn.functional.silu(one)
    gate_act = gate.act_gates.acts[0](one) / torch.sigmoid(one)
    out[1][f"{name}.gate.scalar_act_scale"] = _f64(scalar_act).reshape(())
    out[1][f"{name}.gate.gate_act_scale"] = _f64(gate_act).reshape(())


def _mode(model: EquivariantPotential) -> str:
    config = getattr(model, "quant_config", None)
    mode = "fp32" if config is None else config.mode
    if mode not in EXPORTABLE_MODES:
        raise ExportError(f"mode {mode!r} cannot be exported; the engine runs {EXPORTABLE_MODES}")
    return mode


def _put_readout(out: Description, model: EquivariantPotential, quantized: bool) -> None:
    readout = model.readout
    _put_torch_linear(out, "readout.hidden", readout.hidden)
    _put_torch_linear(out, "readout.out", readout.out)
    out[1]["readout.scale"] = _f64(readout.scale)
    out[1]["readout.shift"] = _f64(readout.shift)
    if quantized:
        _put_lsq(out, "readout.hidden.in_q", readout.hidden.input_quantizer)
        _put_lsq(out, "readout.out.in_q", readout.out.input_quantizer)


@torch.no_grad()
def lower_model(model: EquivariantPotential) -> Description:
    """model (any dtype; lowered in float64) -> (attributes, arrays) per docs/format.md."""
    mode = _mode(model)
    c = model.config
    model = copy.deepcopy(model).to(torch.float64)
    attributes = {
        "format_version": str(FORMAT_VERSION),
        "mode": mode,
        "cutoff": repr(float(c.cutoff)),
        "cutoff_p": str(c.cutoff_p),
        "num_basis": str(c.num_basis),
        "channels": str(c.channels),
        "l_max": str(c.l_max),
        "num_layers": str(c.num_layers),
        "attention": str(int(c.attention)),
        "avg_num_neighbors": repr(float(c.avg_num_neighbors)),
    }
    arrays: dict[str, np.ndarray] = {
        "species": np.asarray(c.species, dtype=np.int32),
        "basis.frequencies": _f64(model.basis.frequencies),
    }
    out = (attributes, arrays)
    quantized = mode in ("w4a8", "w4a8-naive")
    if mode == "w4a8":
        attributes["direction_frame"] = model.quant_config.direction_frame
    if quantized:
        attributes["edge_basis"] = "int8" if _quantizes_edge_basis(model.layers[0]) else "float"
    _put_matrix(out, "embedding", _raw_weight(model.embedding).t(), 1.0, _weight_quantizer(model.embedding))
    for t, layer in enumerate(model.layers):
        _put_layer(out, t, layer, quantized)
    _put_readout(out, model, quantized)
    return attributes, arrays
