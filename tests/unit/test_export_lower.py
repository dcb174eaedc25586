"""Lowering a PyTorch potential to the flat model description (docs/format.md)."""

import numpy as np
import pytest
import torch

from gaqmd.data import read_frames
from gaqmd.export.lower import ExportError, lower_model
from gaqmd.quant import unpack_int4
from gaqmd.quant.activations import set_vector_quantization
from gaqmd.testing.model import make_model, quantized_model


@pytest.fixture(scope="module")
def ethanol(data_dir):
    return read_frames(data_dir / "rmd17" / "train_1000.xyz", index="0:4")


def decode(attributes, arrays, name):
    """alpha * W of a lowered matrix (format.md, "Matrices"), float64 (out, in)."""
    alpha = float(arrays[f"{name}.alpha"])
    if f"{name}.w" in arrays:
        return alpha * torch.from_numpy(arrays[f"{name}.w"]).double()
    rows, cols = arrays[f"{name}.shape"]
    codes = unpack_int4(torch.from_numpy(arrays[f"{name}.codes"]), rows * cols).reshape(rows, cols).double()
    group = int(attributes[f"{name}.group"])
    scales = torch.from_numpy(arrays[f"{name}.scales"]).repeat_interleave(group, dim=1)[:, :cols]
    return alpha * codes * scales


@pytest.mark.parametrize("mode", ["fp32", "w4a32", "w4a8"])
def test_torch_linears_decode_to_the_weights_the_model_uses(ethanol, mode):
    model = make_model() if mode == "fp32" else quantized_model(mode, ethanol)
    attributes, arrays = lower_model(model)
    assert attributes["mode"] == mode
    with torch.no_grad():
        torch.testing.assert_close(decode(attributes, arrays, "embedding"), model.embedding.weight.t(), rtol=0, atol=0)
        for k, linear in enumerate(model.layers[1].radial_mlp.layers):
            torch.testing.assert_close(decode(attributes, arrays, f"layer1.radial{k}"), linear.weight, rtol=0, atol=0)
    assert ("embedding.codes" in arrays) == (mode != "fp32")


def test_float32_exact_weights_are_stored_as_float32_and_others_as_float64():
    model = make_model()
    arrays = lower_model(model)[1]
    assert arrays["embedding.w"].dtype == np.float32
    assert arrays["layer0.radial0.alpha"].dtype == np.float64
    with torch.no_grad():
        model.embedding.weight[0, 0] += 1e-12
    assert lower_model(model)[1]["embedding.w"].dtype == np.float64


def test_lowering_leaves_the_model_untouched():
    model = make_model().float()
    lower_model(model)
    assert model.embedding.weight.dtype == torch.float32


def test_e3nn_linear_paths_reproduce_the_module(ethanol):
    model = quantized_model("w4a32", ethanol, l_max=2)
    attributes, arrays = lower_model(model)
    linear = model.layers[1].linear_down
    x = torch.randn(3, linear.irreps_in.dim, dtype=torch.float64)
    y = torch.zeros(3, linear.irreps_out.dim, dtype=torch.float64)
    starts_in = [s.start for s in linear.irreps_in.slices()]
    starts_out = [s.start for s in linear.irreps_out.slices()]
    irreps_in = arrays["layer1.linear_down.irreps_in"]
    for p, (block_in, block_out) in enumerate(arrays["layer1.linear_down.paths"]):
        mul_in, l = irreps_in[block_in]
        matrix = decode(attributes, arrays, f"layer1.linear_down.p{p}")
        d = 2 * l + 1
        x_block = x[:, starts_in[block_in] : starts_in[block_in] + mul_in * d].reshape(3, mul_in, d)
        y_block = torch.einsum("vu,num->nvm", matrix, x_block).reshape(3, -1)
        y[:, starts_out[block_out] : starts_out[block_out] + y_block.shape[1]] += y_block
    torch.testing.assert_close(y, linear(x), rtol=1e-12, atol=1e-12)


def test_w4a8_lowering_carries_every_quantizer(ethanol):
    attributes, arrays = lower_model(quantized_model("w4a8", ethanol))
    assert attributes["direction_frame"] == "local"
    assert arrays["codebook.points"].shape == (2**16, 3)
    for t in range(2):
        assert arrays[f"layer{t}.in_q.b0.scale"].shape == (8,)
        for k in range(3):
            assert f"layer{t}.radial{k}.in_q.scale" in arrays
    assert arrays["layer1.in_q.b1.scale"].shape == (8,)
    assert attributes["layer1.up_q.b1.qmax"] == "255"
    assert attributes["readout.out.in_q.qmin"] == "-127"


def test_a_float_edge_basis_is_lowered_without_its_quantizers(ethanol):
    attributes, arrays = lower_model(quantized_model("w4a8", ethanol, attention=True, edge_basis="float"))
    assert attributes["edge_basis"] == "float"
    for t in range(2):
        assert f"layer{t}.radial0.in_q.scale" not in arrays
        assert f"layer{t}.attention.key_radial.in_q.scale" not in arrays
        assert f"layer{t}.radial1.in_q.scale" in arrays
    attributes, arrays = lower_model(quantized_model("w4a8", ethanol, attention=True))
    assert attributes["edge_basis"] == "int8" and "layer1.attention.key_radial.in_q.scale" in arrays


def test_the_int8_straight_through_derivative_is_one_attribute(ethanol):
    assert lower_model(quantized_model("w4a8", ethanol))[0]["int8_ste"] == "clipped"
    model = quantized_model("w4a8-naive", ethanol, int8_ste="unclipped")
    assert lower_model(model)[0]["int8_ste"] == "unclipped"
    model.readout.out.input_quantizer.clip_ste = True
    with pytest.raises(ExportError, match=r"readout\.out\.in_q: a clipped straight-through derivative"):
        lower_model(model)


def test_vector_blocks_name_their_quantizer_kind(ethanol):
    attributes, arrays = lower_model(quantized_model("w4a8-naive", ethanol))
    assert attributes["mode"] == "w4a8-naive" and "direction_frame" not in attributes
    assert attributes["layer1.in_q.b1.kind"] == "int8" and arrays["layer1.in_q.b1.scale"].shape == (1,)
    assert "codebook.points" not in arrays
    for l2_mode, kind in [("int8-shared", "int8"), ("fp16", "fp16"), ("mddq-fp16", "mddq-fp16")]:
        attributes, arrays = lower_model(quantized_model("w4a8", ethanol, l_max=2, l2_mode=l2_mode))
        assert attributes["layer1.up_q.b1.kind"] == "mddq"
        assert attributes["layer1.up_q.b2.kind"] == kind
    assert arrays["layer1.up_q.b2.scale"].shape == (8,)  # mddq-fp16: one magnitude scale per channel


def test_a_model_in_qat_warm_up_is_refused(ethanol):
    warming_up = quantized_model("w4a8", ethanol)
    set_vector_quantization(warming_up, False)
    with pytest.raises(ExportError, match="warm-up"):
        lower_model(warming_up)


def test_a_symmetric_quantizer_with_a_negative_learned_scale_exports_its_magnitude(ethanol):
    model = quantized_model("w4a8", ethanol)
    quantizer = model.layers[0].radial_mlp.layers[1].input_quantizer
    with torch.no_grad():
        quantizer.scale[0] = -quantizer.scale[0]
        x = torch.randn(50, quantizer.num_channels, dtype=torch.float64)
        flipped = quantizer(x)
        quantizer.scale[0] = -quantizer.scale[0]
        torch.testing.assert_close(flipped, quantizer(x), rtol=0, atol=0)  # the premise: odd in s
        quantizer.scale[0] = -quantizer.scale[0]
    arrays = lower_model(model)[1]
    assert (arrays["layer0.radial1.in_q.scale"] > 0).all()
