"""MDDQ of C x 1o features: exact integer path, rotation-invariant magnitudes, geometric STE."""

import math

import numpy as np
import pytest
import torch

from gaqmd.quant import GeometricSTE, MddqQuantizer, SphericalCodebook

CHANNELS = 4


@pytest.fixture(scope="module")
def codebook():
    return SphericalCodebook.from_bits(8)


def _features(n, seed, dtype=torch.float64, scale=2.0):
    return scale * torch.randn(n, CHANNELS * 3, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _random_rotation(seed):
    q, r = torch.linalg.qr(torch.randn(3, 3, generator=torch.Generator().manual_seed(seed), dtype=torch.float64))
    q = q * torch.sign(torch.diagonal(r))
    return q if torch.det(q) > 0 else -q


def _bits(t):
    return t.view(torch.int64 if t.dtype == torch.float64 else torch.int32)


def _initialized(codebook, dtype, log_domain, x):
    quantizer = MddqQuantizer(CHANNELS, codebook, log_domain=log_domain).to(dtype)
    quantizer(x)  # first training-mode forward sets the magnitude scales from x
    return quantizer.eval()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("log_domain", [False, True])
def test_integer_path_reproduces_forward_bit_for_bit(codebook, dtype, log_domain):
    x = _features(3000, seed=0, dtype=dtype)
    x[:5, :3] = 1e-8  # below the zero threshold
    x[5:10] *= 1e3  # clipped at the top code
    quantizer = _initialized(codebook, dtype, log_domain, _features(3000, seed=1, dtype=dtype))
    codes = quantizer.quantize(x)
    assert codes.magnitude.dtype == torch.uint8 and codes.magnitude.shape == (3000, CHANNELS)
    assert codes.direction.dtype == torch.int32 and codes.direction.shape == (3000, CHANNELS)
    assert int(codes.magnitude.max()) == 255
    out = quantizer(x)
    assert out.dtype == dtype and out.shape == x.shape
    assert torch.equal(_bits(quantizer.dequantize(codes.magnitude, codes.direction, dtype)), _bits(out))


def test_directions_are_the_nearest_codebook_points(codebook):
    x = _features(2000, seed=2)
    quantizer = _initialized(codebook, torch.float64, False, x)
    v = x.reshape(-1, CHANNELS, 3).numpy()
    u = v / np.linalg.norm(v, axis=-1, keepdims=True)
    oracle = np.argmax(u @ codebook.points.numpy().T, axis=-1)  # independent brute force
    assert np.array_equal(quantizer.quantize(x).direction.numpy(), oracle)


def test_near_zero_vectors_become_exactly_zero(codebook):
    x = _features(10, seed=3)
    x[:, 3:6] = torch.tensor([1e-7, -2e-7, 3e-7], dtype=torch.float64)  # |v| ~ 3.7e-7 < 1e-6
    x[:, 6:9] = 0.0
    quantizer = _initialized(codebook, torch.float64, False, _features(100, seed=4))
    out = quantizer(x)
    assert torch.all(out[:, 3:9] == 0)
    assert torch.all(out[:, :3].norm(dim=-1) > 0)
    codes = quantizer.quantize(x)
    assert torch.all(codes.magnitude[:, 1:3] == 0) and torch.all(codes.direction[:, 1:3] == 0)


def test_linear_magnitude_error_within_half_step(codebook):
    x = _features(2000, seed=5)
    quantizer = _initialized(codebook, torch.float64, False, x)
    m = x.reshape(-1, CHANNELS, 3).norm(dim=-1)
    m_hat = quantizer(x).reshape(-1, CHANNELS, 3).norm(dim=-1)
    scale = quantizer.magnitude.lsq.scale.detach()
    inside = m < 255 * scale
    assert inside.any()
    assert torch.all(((m_hat - m).abs() <= 0.5 * scale * (1 + 1e-9))[inside])


def test_log_domain_bounds_come_from_the_data(codebook):
    x = _features(2000, seed=6)
    quantizer = _initialized(codebook, torch.float64, True, x)
    m = x.reshape(-1, CHANNELS, 3).norm(dim=-1)
    step = quantizer.magnitude.lsq.scale.detach()
    torch.testing.assert_close(quantizer.magnitude.log_min.detach(), m.log().amin(dim=0), rtol=0, atol=1e-12)
    torch.testing.assert_close(step, (m.log().amax(dim=0) - m.log().amin(dim=0)) / 254, rtol=1e-12, atol=0)
    codes = quantizer.quantize(x).magnitude
    assert torch.equal(codes.gather(0, m.argmin(dim=0, keepdim=True)), torch.ones(1, CHANNELS, dtype=torch.uint8))
    top = torch.full((1, CHANNELS), 255, dtype=torch.uint8)
    assert torch.equal(codes.gather(0, m.argmax(dim=0, keepdim=True)), top)
    m_hat = quantizer(x).reshape(-1, CHANNELS, 3).norm(dim=-1)
    assert torch.all((m_hat / m).log().abs() <= 0.5 * step * (1 + 1e-9))


@pytest.mark.parametrize("log_domain", [False, True])
def test_magnitude_codes_are_rotation_invariant(codebook, log_domain):
    quantizer = _initialized(codebook, torch.float64, log_domain, _features(500, seed=7))
    step = quantizer.magnitude.lsq.scale.detach()
    generator = torch.Generator().manual_seed(8)
    levels = torch.randint(1, 250, (300, CHANNELS), generator=generator).double() + 0.25  # off the boundaries
    if log_domain:
        m = torch.exp(quantizer.magnitude.log_min.detach() + levels * step)
    else:
        m = levels * step
    u = torch.randn(300, CHANNELS, 3, generator=generator, dtype=torch.float64)
    v = m.unsqueeze(-1) * u / u.norm(dim=-1, keepdim=True)
    reference = quantizer.quantize(v.flatten(-2)).magnitude
    m_hat = quantizer(v.flatten(-2)).reshape(-1, CHANNELS, 3).norm(dim=-1)
    for seed in range(5):
        rotated = (v @ _random_rotation(seed).T).flatten(-2)
        assert torch.equal(quantizer.quantize(rotated).magnitude, reference)
        rotated_m_hat = quantizer(rotated).reshape(-1, CHANNELS, 3).norm(dim=-1)
        torch.testing.assert_close(rotated_m_hat, m_hat, rtol=1e-14, atol=0)


def _gste_oracle(x, g, out, quantizer):
    """dL/dv = (g.c) 1_clip u + (m_hat/m)(I - u u^T) g per vector, identity for zero vectors (numpy loops)."""
    v, g, v_hat = (t.detach().reshape(-1, 3).numpy() for t in (x, g, out))
    points = quantizer.codebook.points.numpy()
    scale = np.tile(quantizer.magnitude.lsq.scale.detach().numpy(), len(v) // CHANNELS)
    expected = np.empty_like(v)
    for i in range(len(v)):
        m = np.sqrt(v[i] @ v[i])
        if m < quantizer.magnitude.zero_threshold:
            expected[i] = g[i]
            continue
        u = v[i] / m
        c = points[np.argmax(points @ u)]
        m_hat = np.sqrt(v_hat[i] @ v_hat[i])
        clip = 1.0 if m / scale[i] <= 255 else 0.0
        expected[i] = (g[i] @ c) * clip * u + (m_hat / m) * (np.eye(3) - np.outer(u, u)) @ g[i]
    return expected.reshape(x.shape)


def test_gste_backward_equals_the_formula(codebook):
    x = _features(200, seed=9)
    x[:3, :3] = 1e-9  # zero vectors: identity
    x[3:6, 3:6] *= 1e4  # clipped: radial part vanishes
    x[6:9, 6:9] *= 1e-3  # small: magnitude code 0, so only the radial part remains
    quantizer = _initialized(codebook, torch.float64, False, _features(200, seed=10))
    x.requires_grad_()
    g = torch.randn(x.shape, generator=torch.Generator().manual_seed(11), dtype=torch.float64)
    out = quantizer(x)
    (grad,) = torch.autograd.grad(out, x, g)
    np.testing.assert_allclose(grad.numpy(), _gste_oracle(x, g, out, quantizer), rtol=1e-10, atol=1e-12)


def test_gste_direction_part_is_tangent(codebook):
    x = _features(200, seed=12).requires_grad_()
    quantizer = _initialized(codebook, torch.float64, False, x.detach())
    out = quantizer(x)
    codeword = out.detach().reshape(-1, CHANNELS, 3)
    codeword = codeword / codeword.norm(dim=-1, keepdim=True)
    g = torch.randn(codeword.shape, generator=torch.Generator().manual_seed(13), dtype=torch.float64)
    g = g - (g * codeword).sum(-1, keepdim=True) * codeword  # no magnitude component: g.c = 0
    (grad,) = torch.autograd.grad(out, x, g.flatten(-2))
    grad, v = grad.reshape(-1, CHANNELS, 3), x.detach().reshape(-1, CHANNELS, 3)
    cosine = (grad * v).sum(-1) / (grad.norm(dim=-1) * v.norm(dim=-1))
    assert torch.all(grad.norm(dim=-1) > 0)
    assert cosine.abs().max() < 1e-12


def test_gste_double_backward_matches_finite_differences():
    generator = torch.Generator().manual_seed(14)
    v = torch.randn(6, 2, 3, generator=generator, dtype=torch.float64, requires_grad=True)
    m_hat = (v.detach().norm(dim=-1) * 1.01).requires_grad_()
    codeword = torch.nn.functional.normalize(v.detach() + 0.05 * torch.randn(6, 2, 3, generator=generator), dim=-1)
    in_range = torch.tensor([[True, False]] * 6)
    is_zero = torch.zeros(6, 2, dtype=torch.bool)

    def function(v, m_hat):
        return GeometricSTE.apply(v, m_hat, codeword, in_range, is_zero)

    assert torch.autograd.gradgradcheck(function, (v, m_hat))


def test_module_double_backward_runs_and_reaches_the_scales(codebook):
    # Forces-style: F = dE/dx with create_graph=True, then a loss on F trained end to end.
    x = _features(50, seed=15).requires_grad_()
    quantizer = _initialized(codebook, torch.float64, False, x.detach()).train()
    energy = (quantizer(x) ** 2).sum() + (quantizer(x) * x).sum()
    (force,) = torch.autograd.grad(energy, x, create_graph=True)
    (force**2).sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert torch.isfinite(quantizer.magnitude.lsq.scale.grad).all()
    assert quantizer.magnitude.lsq.scale.grad.abs().sum() > 0
    assert torch.autograd.gradgradcheck(quantizer, (x.detach()[:5].clone().requires_grad_(),))


def test_dtype_casts_keep_the_codebook_in_float64(codebook):
    quantizer = MddqQuantizer(CHANNELS, codebook).float()
    assert quantizer.codebook.points.dtype == torch.float64
    assert quantizer.magnitude.lsq.scale.dtype == torch.float32


def test_state_dict_round_trip(codebook):
    x = _features(100, seed=16)
    quantizer = _initialized(codebook, torch.float64, True, x)
    restored = MddqQuantizer(CHANNELS, SphericalCodebook.from_bits(8), log_domain=True).double()
    restored.load_state_dict(quantizer.state_dict())
    restored(3.0 * x)  # training mode, but already initialised: must not re-fit the bounds
    assert torch.equal(restored.eval()(x), quantizer(x))
    assert math.isfinite(restored.magnitude.log_min.sum().item())
