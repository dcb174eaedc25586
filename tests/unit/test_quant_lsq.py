"""LSQ int8 activations: half-to-even rounding, symmetric clamp, exact integer path, LSQ gradients."""

import math

import numpy as np
import pytest
import torch

from gaqmd.quant import LsqQuantizer, round_half_even_quant


def test_round_half_even_and_symmetric_clamp():
    scale = torch.tensor(0.25)
    x = torch.tensor([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 126.5, -1000.0, 1000.0]) * scale
    codes = round_half_even_quant(x, scale, -127, 127)
    assert codes.tolist() == [0, 2, 2, 0, -2, -2, 126, -127, 127]


def _lsq_oracle(x, scale, qmin, qmax, grad, clip_ste=True):
    """numpy LSQ (Esser et al. 2019): fake-quant value, dL/dx (clipped STE, or unclipped: grad),
    dL/ds (eq. 3, grad-scaled)."""
    w = x / scale
    codes = np.clip(np.rint(w), qmin, qmax)
    inside = (w >= qmin) & (w <= qmax)
    dq_ds = np.where(inside, codes - w, codes)
    return codes * scale, grad * inside if clip_ste else grad, dq_ds * grad


@pytest.mark.parametrize("clip_ste", [True, False])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_per_tensor_forward_and_gradients_match_lsq_formulas(dtype, clip_ste):
    generator = torch.Generator().manual_seed(0)
    x = (3.0 * torch.randn(40, 6, generator=generator)).to(dtype).requires_grad_()
    grad = torch.randn(40, 6, generator=generator).to(dtype)
    quantizer = LsqQuantizer(clip_ste=clip_ste).to(dtype)
    with torch.no_grad():
        quantizer.scale.fill_(0.02)  # clamps part of the data at +-127
    quantizer.initialized.fill_(True)
    y = quantizer(x)
    y.backward(grad)
    scale = quantizer.scale.detach().numpy()[0]  # 0.02 rounded to dtype
    value, grad_x, grad_s = _lsq_oracle(x.detach().numpy(), scale, -127, 127, grad.numpy(), clip_ste)
    assert np.array_equal(y.detach().numpy(), value)
    assert np.array_equal(x.grad.numpy(), grad_x)
    assert (grad_x == 0).any() == clip_ste and (grad_x != 0).any()
    expected = grad_s.sum() / math.sqrt(x.numel() * 127)
    assert quantizer.scale.grad.item() == pytest.approx(expected, rel=1e-5)


def test_blocked_per_channel_scales_and_gradients():
    channels, block = 3, 5
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(7, channels * block, dtype=torch.float64, generator=generator).requires_grad_()
    grad = torch.randn(7, channels * block, dtype=torch.float64, generator=generator)
    quantizer = LsqQuantizer(channels, channel_size=block).double()
    scales = np.array([0.01, 0.02, 0.05])
    with torch.no_grad():
        quantizer.scale.copy_(torch.from_numpy(scales))
    quantizer.initialized.fill_(True)
    y = quantizer(x)
    y.backward(grad)
    per_column = np.repeat(scales, block)  # channel c owns columns [5c, 5c+5)
    value, grad_x, grad_s = _lsq_oracle(x.detach().numpy(), per_column, -127, 127, grad.numpy())
    assert np.array_equal(y.detach().numpy(), value)
    assert np.array_equal(x.grad.numpy(), grad_x)
    expected = grad_s.reshape(7, channels, block).sum(axis=(0, 2)) / math.sqrt(7 * block * 127)
    np.testing.assert_allclose(quantizer.scale.grad.numpy(), expected, rtol=1e-12)


def test_channel_dim_scales():
    x = torch.randn(4, 3, 6, generator=torch.Generator().manual_seed(2))
    quantizer = LsqQuantizer(3, channel_dim=1)
    with torch.no_grad():
        quantizer.scale.copy_(torch.tensor([0.1, 0.2, 0.3]))
    codes, _ = quantizer.quantize(x)
    expected = torch.clamp(torch.round(x / torch.tensor([0.1, 0.2, 0.3]).reshape(1, 3, 1)), -127, 127)
    assert torch.equal(codes, expected.to(torch.int8))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("signed", [True, False])
def test_integer_path_reproduces_fake_quant_bit_for_bit(dtype, signed):
    x = 4.0 * torch.randn(1000, 8, generator=torch.Generator().manual_seed(3), dtype=dtype)
    x = x if signed else x.abs()
    quantizer = LsqQuantizer(8, signed=signed)
    quantizer(x)  # training-mode forward initialises the scales
    quantizer.eval()
    codes, scale = quantizer.quantize(x)
    assert codes.dtype == (torch.int8 if signed else torch.uint8)
    assert int(codes.min()) >= (-127 if signed else 0) and int(codes.max()) <= (127 if signed else 255)
    assert torch.equal(quantizer.dequantize(codes, dtype), quantizer(x))
    assert torch.equal(scale, quantizer.scale.detach())


@pytest.mark.parametrize("init", ["lsq", "max"])
def test_scale_initialised_once_from_first_training_batch(init):
    x = torch.randn(500, 2, generator=torch.Generator().manual_seed(4))
    x[:, 1] *= 10.0
    quantizer = LsqQuantizer(2, init=init)
    quantizer.eval()
    quantizer(x)
    assert not bool(quantizer.initialized) and torch.equal(quantizer.scale.detach(), torch.ones(2))
    quantizer.train()
    quantizer(x)
    if init == "lsq":
        expected = 2.0 * x.abs().mean(dim=0) / math.sqrt(127)
    else:
        expected = x.abs().amax(dim=0) / 127
    torch.testing.assert_close(quantizer.scale.detach(), expected, rtol=1e-6, atol=0)
    quantizer(3.0 * x)
    torch.testing.assert_close(quantizer.scale.detach(), expected, rtol=1e-6, atol=0)  # not re-initialised

    restored = LsqQuantizer(2, init=init)
    restored.load_state_dict(quantizer.state_dict())
    restored(5.0 * x)
    assert bool(restored.initialized)
    assert torch.equal(restored.scale.detach(), quantizer.scale.detach())


def test_zero_channel_initialises_to_unit_scale():
    x = torch.zeros(10, 2)
    x[:, 0] = 1.0
    quantizer = LsqQuantizer(2, init="max")
    quantizer(x)
    assert quantizer.scale.detach().tolist() == pytest.approx([1.0 / 127, 1.0])


def test_double_backward_reaches_the_scale():
    # L = sum q(x)^2: dL/dx = 2 q(x) 1_in; d/ds sum(dL/dx) = sum_in 2 (code - x/s) * gradient scale.
    x = torch.randn(50, dtype=torch.float64, generator=torch.Generator().manual_seed(5)).requires_grad_()
    quantizer = LsqQuantizer().double()
    with torch.no_grad():
        quantizer.scale.fill_(0.01)
    quantizer.initialized.fill_(True)
    (grad_x,) = torch.autograd.grad(quantizer(x).pow(2).sum(), x, create_graph=True)
    grad_x.sum().backward()
    w = x.detach().numpy() / 0.01
    inside = np.abs(w) <= 127
    expected = (2.0 * (np.rint(w) - w))[inside].sum() / math.sqrt(50 * 127)
    assert inside.any() and not inside.all()
    assert quantizer.scale.grad.item() == pytest.approx(expected, rel=1e-10)
