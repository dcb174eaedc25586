"""int4 weights: symmetric per-channel/group codes, exact fake quant, low-nibble-first packing."""

import numpy as np
import pytest
import torch

from gaqmd.quant import dequantize_int4, fake_quant_int4, pack_int4, quantize_int4, unpack_int4
from gaqmd.quant.int4 import codes_for_scales, lsq_fake_quant_int4


def _pack_oracle(codes):
    """Byte k = (code[2k] & 0xF) | (code[2k+1] & 0xF) << 4, odd counts padded with 0 (pure Python)."""
    codes = list(codes) + [0] * (len(codes) % 2)
    return [(codes[i] & 0xF) | ((codes[i + 1] & 0xF) << 4) for i in range(0, len(codes), 2)]


@pytest.mark.parametrize(
    "codes, expected",
    [
        ([3, -2], [0xE3]),  # low nibble 3, high nibble -2 = 0b1110
        ([-7, 7, 5], [0x79, 0x05]),  # -7 = 0b1001; odd length pads a zero high nibble
        ([-1, 0], [0x0F]),
        ([0, -1], [0xF0]),
        ([-8, 1], [0x18]),
    ],
)
def test_pack_matches_hand_computed_bytes(codes, expected):
    packed = pack_int4(torch.tensor(codes, dtype=torch.int8))
    assert packed.dtype == torch.uint8
    assert packed.tolist() == expected


def test_pack_unpack_round_trip_every_pair_of_values():
    values = torch.arange(-7, 8, dtype=torch.int8)
    codes = torch.cartesian_prod(values, values).reshape(-1)  # all 225 (low, high) nibble pairs
    packed = pack_int4(codes)
    assert packed.tolist() == _pack_oracle(codes.tolist())
    assert torch.equal(unpack_int4(packed, codes.numel()), codes)


@pytest.mark.parametrize("numel", [1, 2, 3, 7, 15, 64, 101])
def test_pack_unpack_round_trip_odd_and_even_lengths(numel):
    codes = torch.randint(-7, 8, (numel,), generator=torch.Generator().manual_seed(numel), dtype=torch.int8)
    packed = pack_int4(codes)
    assert packed.numel() == (numel + 1) // 2
    assert packed.tolist() == _pack_oracle(codes.tolist())
    assert torch.equal(unpack_int4(packed, numel), codes)


def test_pack_rejects_out_of_range_codes():
    with pytest.raises(ValueError):
        pack_int4(torch.tensor([8], dtype=torch.int16))


def _quantize_oracle(w, group_size):
    """numpy: per (row, group) scale = max|w| / 7 (1 if 0), codes = rint(w / scale) (half to even)."""
    out_features, in_features = w.shape
    size = in_features if group_size is None else group_size
    n_groups = -(-in_features // size)
    scales = np.ones((out_features, n_groups), dtype=w.dtype)
    codes = np.zeros(w.shape, dtype=np.int8)
    for r in range(out_features):
        for g in range(n_groups):
            block = w[r, g * size : (g + 1) * size]
            amax = np.abs(block).max()
            scale = np.float32(np.float16(amax / np.float32(7))) if amax > 0 else np.float32(1)
            scales[r, g] = scale
            codes[r, g * size : (g + 1) * size] = np.clip(np.rint(block / scale), -7, 7)
    return codes, scales


@pytest.mark.parametrize("group_size", [None, 4, 5, 16])
def test_quantize_matches_oracle_with_groups_and_zero_rows(group_size):
    w = torch.randn(6, 13, generator=torch.Generator().manual_seed(1))
    w[2] = 0.0
    w[4, :5] = 0.0  # a zero group (for group_size 4 and 5)
    codes, scales = quantize_int4(w, group_size)
    oracle_codes, oracle_scales = _quantize_oracle(w.numpy(), group_size)
    assert codes.dtype == torch.int8
    assert np.array_equal(codes.numpy(), oracle_codes)
    assert np.array_equal(scales.numpy(), oracle_scales)
    assert torch.all(codes[2] == 0) and torch.all(scales[2] == 1.0)
    assert codes.abs().max() == 7  # the largest |w| of a channel maps to +-7


def test_scales_are_fp16_values_and_codes_use_the_rounded_scale():
    w = torch.randn(64, 9, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    codes, scales = quantize_int4(w)
    assert torch.equal(scales.to(torch.float16).to(torch.float64), scales)
    assert torch.equal(codes.to(torch.float64), torch.clamp(torch.round(w / scales), -7, 7))
    rounded_down = (scales * 7 < w.abs().amax(dim=1, keepdim=True)).squeeze(1)
    assert rounded_down.any() and (codes[rounded_down].abs().amax(dim=1) == 7).all()


def test_rounding_is_half_to_even():
    # Row max 7 gives scale exactly 1, so w / scale hits the .5 cases exactly.
    w = torch.tensor([[7.0, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.5]])
    codes, scales = quantize_int4(w)
    assert scales.tolist() == [[1.0]]
    assert codes.tolist() == [[7, 0, 2, 2, 0, -2, -2, 4]]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("group_size", [None, 8])
def test_fake_quant_equals_integer_arithmetic_exactly(dtype, group_size):
    w = torch.randn(5, 20, generator=torch.Generator().manual_seed(2), dtype=dtype)
    codes, scales = quantize_int4(w, group_size)
    width = 20 if group_size is None else group_size
    expected = codes.to(dtype) * scales.repeat_interleave(width, dim=1)[:, :20]
    fake = fake_quant_int4(w, group_size)
    assert torch.equal(fake, expected)
    assert torch.equal(dequantize_int4(codes, scales, group_size), expected)
    step = scales.repeat_interleave(width, dim=1)[:, :20]
    assert torch.all((fake - w).abs() <= 0.5 * step * (1 + 1e-6))


def test_fake_quant_gradient_is_identity():
    w = torch.randn(4, 9, generator=torch.Generator().manual_seed(3), requires_grad=True)
    weights = torch.randn(4, 9, generator=torch.Generator().manual_seed(4))
    (fake_quant_int4(w, 3) * weights).sum().backward()
    assert torch.equal(w.grad, weights)


def test_dequantize_rejects_mismatched_groups():
    codes, scales = quantize_int4(torch.randn(3, 8), group_size=4)
    with pytest.raises(ValueError):
        dequantize_int4(codes, scales)  # 2 groups but no group_size


def _learned_setup(group_size, dtype=torch.float64):
    generator = torch.Generator().manual_seed(5)
    w = torch.randn(4, 12, generator=generator, dtype=dtype)
    n_groups = 1 if group_size is None else -(-12 // group_size)
    # scales small enough that some weights clip at +-7
    scales = (0.08 + 0.1 * torch.rand(4, n_groups, generator=generator, dtype=dtype)).to(torch.float16).to(dtype)
    return w, scales


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("group_size", [None, 5])
def test_learned_scale_fake_quant_equals_integer_arithmetic_exactly(dtype, group_size):
    w, scales = _learned_setup(group_size, dtype)
    codes = codes_for_scales(w, scales, group_size)
    assert int(codes.abs().max()) == 7  # the setup clips some weights
    assert torch.equal(lsq_fake_quant_int4(w, scales, group_size), dequantize_int4(codes, scales, group_size))


@pytest.mark.parametrize("group_size", [None, 5])
def test_learned_scale_gradients_are_lsq(group_size):
    """numpy oracle: dL/dw = g inside the int4 range, 0 where clipped; dL/ds = sum over the scale's
    weights of g * (round(w/s) - w/s) inside, g * (+-7) clipped, times 1 / sqrt(group width * 7)."""
    w, scales = _learned_setup(group_size)
    upstream = torch.randn(w.shape, generator=torch.Generator().manual_seed(6), dtype=w.dtype)
    w_leaf, s_leaf = w.clone().requires_grad_(), scales.clone().requires_grad_()
    (lsq_fake_quant_int4(w_leaf, s_leaf, group_size) * upstream).sum().backward()
    size = 12 if group_size is None else group_size
    group_of = np.arange(12) // size
    x = w.numpy() / scales.numpy()[:, group_of]
    clipped = np.abs(np.rint(x)) > 7
    np.testing.assert_allclose(w_leaf.grad.numpy(), np.where(clipped, 0.0, upstream.numpy()), rtol=1e-14, atol=0)
    local = np.where(clipped, np.sign(x) * 7, np.rint(x) - x) * upstream.numpy()
    per_scale = np.zeros(scales.shape)
    for column, group in enumerate(group_of):
        per_scale[:, group] += local[:, column]
    np.testing.assert_allclose(s_leaf.grad.numpy(), per_scale / np.sqrt(size * 7), rtol=1e-12)
