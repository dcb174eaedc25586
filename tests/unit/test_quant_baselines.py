"""Vector-quantizer baselines: naive per-component int8 (not rotation invariant) and the l=2 options."""

import numpy as np
import pytest
import torch

from gaqmd.quant import (
    Fp16Quantizer,
    Int8SharedQuantizer,
    MddqFp16Quantizer,
    MddqQuantizer,
    NaiveInt8Vectors,
    SphericalCodebook,
    l2_quantizer,
    naive_vector_quantizer,
)


def _random_rotation(seed):
    q, r = torch.linalg.qr(torch.randn(3, 3, generator=torch.Generator().manual_seed(seed), dtype=torch.float64))
    q = q * torch.sign(torch.diagonal(r))
    return q if torch.det(q) > 0 else -q


def _features(n, channels, dim, seed):
    return torch.randn(n, channels * dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_naive_int8_magnitudes_depend_on_orientation_but_mddq_ones_do_not():
    channels, step = 2, 0.05
    naive = NaiveInt8Vectors(channels).double().eval()
    mddq = MddqQuantizer(channels, SphericalCodebook.from_bits(8)).double().eval()
    for module in (naive.lsq, mddq.magnitude.lsq):
        with torch.no_grad():
            module.scale.fill_(step)
        module.initialized.fill_(True)
    v = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 0.6, 0.8]]], dtype=torch.float64).expand(50, 2, 3).clone()
    for i in range(50):
        v[i] = v[i] @ _random_rotation(i).T  # the same two vectors (|v| = 1) in 50 orientations
    naive_norms = naive(v.flatten(-2)).reshape(50, 2, 3).norm(dim=-1)
    mddq_norms = mddq(v.flatten(-2)).reshape(50, 2, 3).norm(dim=-1)
    # per-component rounding moves |v_hat| by up to sqrt(3)/2 steps, depending on orientation
    assert (naive_norms.amax(dim=0) - naive_norms.amin(dim=0)).min() > 0.2 * step
    torch.testing.assert_close(mddq_norms, torch.full((50, 2), 1.0, dtype=torch.float64), rtol=1e-14, atol=0)


def test_naive_int8_per_channel_option_shares_a_scale_over_components():
    quantizer = NaiveInt8Vectors(3, l=1, per_channel=True)
    x = _features(200, 3, 3, seed=1).float()
    quantizer(x)
    assert quantizer.lsq.scale.shape == (3,)
    per_tensor = naive_vector_quantizer(3, 3)
    per_tensor(x)
    assert per_tensor.lsq.scale.shape == (1,)
    torch.testing.assert_close(per_tensor.lsq.scale.detach(), 2 * x.abs().mean().reshape(1) / 127**0.5)


def test_int8_shared_matches_per_channel_oracle():
    channels = 3
    x = _features(100, channels, 5, seed=2)
    x[:, 5:10] *= 20.0
    quantizer = Int8SharedQuantizer(channels).double()
    quantizer(x)
    scales = quantizer.lsq.scale.detach().numpy()
    assert scales[1] > 10 * scales[0]  # channel 1 (columns 5..9) got its own scale
    columns = np.repeat(scales, 5)
    expected = np.clip(np.rint(x.numpy() / columns), -127, 127)
    codes, _ = quantizer.quantize(x)
    assert codes.dtype == torch.int8 and np.array_equal(codes.numpy(), expected)
    assert np.array_equal(quantizer.eval()(x).detach().numpy(), expected * columns)
    assert torch.equal(quantizer.dequantize(codes, torch.float64), quantizer(x))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_fp16_rounds_every_component_and_passes_gradients(dtype):
    x = _features(50, 4, 5, seed=3).to(dtype).requires_grad_()
    quantizer = Fp16Quantizer(4)
    out = quantizer(x)
    assert torch.equal(out, x.detach().half().to(dtype))
    if dtype == torch.float64:
        assert not torch.equal(out, x.detach())
    assert torch.equal(quantizer.dequantize(quantizer.quantize(x), dtype), out)
    weights = torch.randn(x.shape, dtype=dtype)
    (out * weights).sum().backward()
    assert torch.equal(x.grad, weights)


def test_mddq_fp16_is_magnitude_code_times_half_direction():
    channels = 3
    x = _features(300, channels, 5, seed=4)
    x[:4, :5] = 1e-9
    quantizer = MddqFp16Quantizer(channels).double()
    quantizer(x)
    quantizer.eval()
    v = x.reshape(-1, channels, 5)
    m = v.norm(dim=-1)
    u = (v / m.unsqueeze(-1)).half().double()  # oracle: unit 5-vector rounded to float16
    scale = quantizer.magnitude.lsq.scale.detach()
    m_hat = torch.clamp(torch.round(m / scale), 0, 255) * scale
    expected = torch.where((m < 1e-6).unsqueeze(-1), 0.0, m_hat.unsqueeze(-1) * u)
    out = quantizer(x)
    torch.testing.assert_close(out, expected.flatten(-2), rtol=1e-15, atol=0)
    assert torch.all(out[:4, :5] == 0)
    magnitude, direction = quantizer.quantize(x)
    assert magnitude.dtype == torch.uint8 and direction.dtype == torch.float16
    assert torch.equal(quantizer.dequantize(magnitude, direction, torch.float64), out)


def test_mddq_fp16_backward_is_geometric():
    channels = 2
    x = _features(40, channels, 5, seed=5).requires_grad_()
    quantizer = MddqFp16Quantizer(channels).double()
    out = quantizer(x)
    direction = torch.nn.functional.normalize(out.detach().reshape(-1, channels, 5), dim=-1)
    g = torch.randn(direction.shape, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    g = g - (g * direction).sum(-1, keepdim=True) * direction
    (grad,) = torch.autograd.grad(out, x, g.flatten(-2))
    v = x.detach().reshape(-1, channels, 5)
    grad = grad.reshape(-1, channels, 5)
    # g orthogonal to fp16(u) -> only the tangential part (m_hat/m)(I - u u^T) g, orthogonal to v
    # up to the float16 rounding of u (~1e-3 relative)
    cosine = (grad * v).sum(-1) / (grad.norm(dim=-1) * v.norm(dim=-1))
    assert cosine.abs().max() < 5e-3


@pytest.mark.parametrize("kind", ["mddq-fp16", "int8-shared", "fp16"])
def test_l2_options_share_the_flat_interface(kind):
    quantizer = l2_quantizer(kind, 4, 8).double()
    x = _features(20, 4, 5, seed=7).requires_grad_()
    out = quantizer(x)
    assert out.shape == x.shape and out.dtype == x.dtype
    out.sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    relative = ((out - x).norm() / x.norm()).item()
    assert 0 < relative < 0.05


def test_unknown_l2_option_is_rejected():
    with pytest.raises(ValueError):
        l2_quantizer("int4", 4)


def _frames_and_features(rotation, wigner, channels=3, seed=0):
    """Frames of a random molecule rotated by `rotation` (3, 3), and random l=2 features rotated by
    its representation `wigner` (5, 5)."""
    from gaqmd.data import neighbor_list
    from gaqmd.quant.frames import local_frames

    positions = np.random.default_rng(seed).normal(scale=1.5, size=(10, 3)) @ rotation.numpy().T
    edge_index, shifts = neighbor_list(positions, 4.0)
    frames = local_frames(torch.tensor(positions), torch.from_numpy(edge_index), torch.from_numpy(shifts))
    x = _features(10, channels, 5, seed).reshape(10, channels, 5)
    return frames, torch.einsum("ab,ncb->nca", wigner, x).flatten(-2)


@pytest.mark.parametrize("kind", ["int8-shared", "mddq-fp16", "fp16"])
def test_l2_options_in_local_frames_commute_with_rotations(kind):
    from gaqmd.quant import LocalFrameQuantizer
    from gaqmd.quant.frames import wigner_from_frames

    channels = 3
    quantizer = LocalFrameQuantizer(l2_quantizer(kind, channels), channels, 2).double()
    frames, x = _frames_and_features(torch.eye(3, dtype=torch.float64), torch.eye(5, dtype=torch.float64))
    quantizer.frames = frames
    quantizer.train()
    quantizer(x)  # initialises the learned scales on this batch
    quantizer.eval()
    reference = quantizer(x).detach().reshape(10, channels, 5)
    plain = l2_quantizer(kind, channels).double()
    plain.load_state_dict(quantizer.quantizer.state_dict())
    worst_plain = 0.0
    for seed in range(4):
        rotation = _random_rotation(seed)
        D = wigner_from_frames(rotation[None], 2)[0]  # exact; e3nn's D_from_matrix is good to ~1e-7
        quantizer.frames, rotated = _frames_and_features(rotation, D)
        expected = torch.einsum("ab,ncb->nca", D, reference)
        np.testing.assert_allclose(quantizer(rotated).detach().reshape(10, channels, 5), expected.detach(), atol=1e-12)
        plain_rotated = torch.einsum("ab,ncb->nca", D, plain.eval()(x).reshape(10, channels, 5))
        worst_plain = max(worst_plain, (plain(rotated).reshape(10, channels, 5) - plain_rotated).abs().max().item())
    assert worst_plain > 1e-6  # the same quantizer without frames does not commute with rotations
