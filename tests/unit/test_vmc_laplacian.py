"""Forward Laplacian rules: value, jacobian and laplacian equal autograd (float64), dense and per-electron."""

import pytest
import torch

from gaqmd.testing.autograd import autograd_reference
from gaqmd.vmc import FwdLapl, fwdlapl_input, ops, to_dense

N_ELECTRONS = 3
LAYOUTS = ("per-electron", "dense")
TOLERANCE = {"rtol": 1e-10, "atol": 1e-12}


def assert_matches_autograd(f, positions, layout):
    out = f(fwdlapl_input(positions, layout))
    assert isinstance(out, FwdLapl)
    value, jacobian, laplacian = autograd_reference(f, positions)
    dense = to_dense(out)
    assert dense.jacobian.shape == (3 * positions.shape[-2], *value.shape)
    torch.testing.assert_close(out.value, value, **TOLERANCE)
    torch.testing.assert_close(dense.jacobian, jacobian, **TOLERANCE)
    torch.testing.assert_close(out.laplacian, laplacian, **TOLERANCE)
    return out


def _generator(seed=0):
    return torch.Generator().manual_seed(seed)


def _positions(n=N_ELECTRONS, seed=0):
    return 0.8 * torch.randn(n, 3, generator=_generator(seed), dtype=torch.float64)


def _weights(out_features, in_features, seed=1):
    generator = _generator(seed)
    weight = torch.randn(out_features, in_features, generator=generator, dtype=torch.float64) / in_features**0.5
    return weight, 0.3 * torch.randn(out_features, generator=generator, dtype=torch.float64)


W1, B1 = _weights(5, 3, seed=1)
W2, B2 = _weights(5, 3, seed=2)
W3, B3 = _weights(4, 5, seed=3)
POSITIVE_FUNCTIONS = ("log", "sqrt", "reciprocal")


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", ["tanh", "silu", "sigmoid", "softplus", "exp", "log", "sqrt", "square", "reciprocal"])
def test_elementwise_functions(name, layout):
    function = getattr(ops, name)

    def f(x):
        u = ops.linear(x, 2.0 * W1, B1)
        if name in POSITIVE_FUNCTIONS:
            u = ops.square(u) + 0.3
        return function(u)

    out = assert_matches_autograd(f, _positions(), layout)
    assert out.per_electron == (layout == "per-electron")


@pytest.mark.parametrize("layout", LAYOUTS)
def test_linear_map_after_a_nonlinearity(layout):
    def f(x):
        return ops.linear(ops.tanh(ops.linear(x, W1, B1)), W3, B3)

    assert_matches_autograd(f, _positions(), layout)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_product_sum_difference_and_constants(layout):
    def f(x):
        a, b = ops.tanh(ops.linear(x, W1, B1)), ops.silu(ops.linear(x, W2, B2))
        return a * b - 0.7 * a + b / 3.0 + torch.linspace(-1.0, 1.0, 5, dtype=torch.float64)

    out = assert_matches_autograd(f, _positions(), layout)
    assert out.per_electron == (layout == "per-electron")


@pytest.mark.parametrize("layout", LAYOUTS)
def test_product_of_per_electron_and_all_electron_quantities(layout):
    def f(x):
        per_electron = ops.tanh(ops.linear(x, W1, B1))  # (n, 5)
        all_electrons = ops.mean(ops.silu(ops.linear(x, W2, B2)), 0)  # (5,)
        return per_electron * all_electrons + all_electrons

    out = assert_matches_autograd(f, _positions(), layout)
    assert not out.per_electron


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("dim", [0, 1, -1, -2])
@pytest.mark.parametrize("keepdim", [False, True])
def test_sum_and_mean(reduction, dim, keepdim, layout):
    def f(x):
        return getattr(ops, reduction)(ops.tanh(ops.linear(x, W1, B1)), dim, keepdim)

    out = assert_matches_autograd(f, _positions(), layout)
    over_electrons = dim in (0, -2)
    assert out.per_electron == (layout == "per-electron" and not over_electrons)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_shape_rules_follow_the_electron_axis(layout):
    nuclei = torch.tensor([[0.0, 0.0, 0.5], [0.3, -0.4, 0.0]], dtype=torch.float64)

    def f(x):
        displacement = ops.unsqueeze(x, -2) - nuclei  # (n, 2, 3)
        distance = ops.norm(displacement, -1)  # (n, 2)
        features = ops.concat([ops.flatten(displacement, -2), ops.exp(-distance)], -1)  # (n, 8)
        grid = ops.unflatten(ops.tanh(features), -1, (2, 4))  # (n, 2, 4)
        return ops.narrow(ops.transpose(grid, 0, 1), 1, 1, 2)  # (2, 2 electrons, 4)

    out = assert_matches_autograd(f, _positions(), layout)
    if layout == "per-electron":
        assert out.electron_axis == -2 and out.electron_index.tolist() == [1, 2]


def _rotate_electrons(h):
    """Rows (2, 0, 1) of h (3, F): electron order changed by narrow and concat."""
    return ops.concat([ops.narrow(h, 0, 2, 1), ops.narrow(h, 0, 0, 2)], 0)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_concat_along_the_electron_axis(layout):
    def f(x):
        return _rotate_electrons(ops.tanh(ops.linear(x, W1, B1))) * _rotate_electrons(ops.exp(ops.linear(x, W2, B2)))

    out = assert_matches_autograd(f, _positions(), layout)
    if layout == "per-electron":
        assert out.electron_index.tolist() == [2, 0, 1]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_product_of_rows_of_different_electrons(layout):
    def f(x):  # entry (e, f) depends on electrons e and (e + 2) mod 3
        return _rotate_electrons(ops.tanh(ops.linear(x, W1, B1))) * ops.exp(ops.linear(x, W2, B2))

    out = assert_matches_autograd(f, _positions(), layout)
    assert not out.per_electron


@pytest.mark.parametrize("layout", LAYOUTS)
def test_broadcast_along_a_single_electron_axis(layout):
    offsets = torch.linspace(-1.0, 1.0, 4, dtype=torch.float64).reshape(4, 1)

    def f(x):  # one electron: value (1, 5) broadcast to (4, 5), no longer one entry per electron
        return ops.tanh(ops.linear(x, W1, B1) + offsets) * ops.square(ops.linear(x, W2, B2))

    out = assert_matches_autograd(f, _positions(n=1), layout)
    assert out.shape == (4, 5) and not out.per_electron


def test_batched_configurations_match_each_configuration_alone():
    def f(x):
        h = ops.tanh(ops.linear(x, W1, B1))
        return ops.sum(ops.mean(h * ops.softplus(ops.linear(x, W2, B2)), -2), -1)

    positions = torch.randn(2, 3, N_ELECTRONS, 3, generator=_generator(5), dtype=torch.float64)
    out = f(fwdlapl_input(positions))
    assert out.shape == (2, 3) and out.jacobian.shape == (3 * N_ELECTRONS, 2, 3)
    for a in range(2):
        for b in range(3):
            value, jacobian, laplacian = autograd_reference(f, positions[a, b])
            torch.testing.assert_close(out.value[a, b], value, **TOLERANCE)
            torch.testing.assert_close(out.jacobian[:, a, b], jacobian, **TOLERANCE)
            torch.testing.assert_close(out.laplacian[a, b], laplacian, **TOLERANCE)


def test_input_seed_is_the_identity():
    positions = _positions()
    dense = to_dense(fwdlapl_input(positions))
    eye = torch.eye(3 * N_ELECTRONS, dtype=torch.float64).reshape(-1, N_ELECTRONS, 3)
    assert torch.equal(dense.jacobian, eye) and torch.equal(dense.laplacian, torch.zeros_like(positions))
    with pytest.raises(ValueError):
        fwdlapl_input(positions, layout="diagonal")
