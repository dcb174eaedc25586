"""log|det| and signed sums of determinants: Forward Laplacian against autograd through torch.linalg.det."""

import pytest
import torch

from gaqmd.testing.autograd import autograd_reference
from gaqmd.vmc import FwdLapl, fwdlapl_input, ops, to_dense

N_ELECTRONS = 4
LAYOUTS = ("per-electron", "dense")
TOLERANCE = {"rtol": 1e-10, "atol": 1e-12}


def _generator(seed):
    return torch.Generator().manual_seed(seed)


WEIGHT = torch.randn(3 * 4, 3, generator=_generator(1), dtype=torch.float64)
BIAS = torch.randn(3 * 4, generator=_generator(2), dtype=torch.float64)
MIXING = 0.3 * torch.randn(3 * 4, 3, generator=_generator(3), dtype=torch.float64)


def orbitals(x, coupled=False):
    """Orbital matrices (..., 3 determinants, 4 electrons, 4 orbitals) from positions (..., 4, 3);
    row i depends on electron i only unless `coupled` (then every entry sees all electrons)."""
    rows = ops.tanh(ops.linear(x, WEIGHT, BIAS)) * ops.unsqueeze(ops.exp(ops.norm(x, -1) * -0.3), -1)
    if coupled:
        rows = rows + ops.unsqueeze(ops.tanh(ops.linear(ops.mean(x, -2), MIXING)), -2) * ops.square(rows)
    return ops.transpose(ops.unflatten(rows, -1, (3, 4)), -3, -2)


def log_abs_det(matrices: torch.Tensor) -> torch.Tensor:
    """The oracle: log|det| straight from torch.linalg.det, no slogdet."""
    return torch.log(torch.abs(torch.linalg.det(matrices)))


def _positions(shape=(), seed=0):
    return torch.randn(*shape, N_ELECTRONS, 3, generator=_generator(seed), dtype=torch.float64)


def assert_matches(out: FwdLapl, f_reference, positions):
    """out (batch..., *S) against f_reference evaluated configuration by configuration."""
    batch = positions.shape[:-2]
    dense = to_dense(out)
    for index in torch.cartesian_prod(*[torch.arange(size) for size in batch]).reshape(-1, len(batch)).tolist():
        value, jacobian, laplacian = autograd_reference(f_reference, positions[tuple(index)])
        torch.testing.assert_close(out.value[tuple(index)], value, **TOLERANCE)
        torch.testing.assert_close(dense.jacobian[(slice(None), *index)], jacobian, **TOLERANCE)
        torch.testing.assert_close(out.laplacian[tuple(index)], laplacian, **TOLERANCE)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("coupled", [False, True])
def test_log_abs_det_with_sign_changes_across_samples(layout, coupled):
    positions = _positions((6,), seed=4)
    matrices = orbitals(fwdlapl_input(positions, layout), coupled)
    assert matrices.per_electron == (layout == "per-electron" and not coupled)
    sign, log_abs = ops.slogdet(matrices)
    assert log_abs.shape == (6, 3) and not log_abs.per_electron
    det = torch.linalg.det(orbitals(positions, coupled))
    assert torch.equal(sign, torch.sign(det))
    assert (det > 0).any() and (det < 0).any()
    assert_matches(log_abs, lambda x: log_abs_det(orbitals(x, coupled)), positions)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_log_abs_det_with_electrons_on_the_columns(layout):
    positions = _positions((2,), seed=5)
    _, log_abs = ops.slogdet(ops.transpose(orbitals(fwdlapl_input(positions, layout)), -2, -1))
    assert_matches(log_abs, lambda x: log_abs_det(orbitals(x).mT), positions)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_log_abs_det_of_a_spin_block(layout):
    def block(x):  # electrons 2 and 3, orbitals 0 and 1
        return ops.narrow(ops.narrow(orbitals(x), -2, 2, 2), -1, 0, 2)

    positions = _positions((2,), seed=6)
    _, log_abs = ops.slogdet(block(fwdlapl_input(positions, layout)))
    assert torch.equal(to_dense(log_abs).jacobian[:6], torch.zeros(6, 2, 3, dtype=torch.float64))
    assert_matches(log_abs, lambda x: log_abs_det(block(x)), positions)


def test_log_abs_det_with_two_rows_of_one_electron():
    def matrix(x):  # rows: electron 0 twice (different functions of it), then electrons 2 and 3
        a, b = orbitals(x), ops.exp(orbitals(x) * 0.5)
        return ops.concat([ops.narrow(a, -2, 0, 1), ops.narrow(b, -2, 0, 1), ops.narrow(a, -2, 2, 2)], -2)

    positions = _positions((2,), seed=7)
    x = matrix(fwdlapl_input(positions))
    assert x.electron_index.tolist() == [0, 0, 2, 3]
    _, log_abs = ops.slogdet(x)
    assert_matches(log_abs, lambda x: log_abs_det(matrix(x)), positions)


def sum_of_determinants(x):
    """log|Σ_k det Φ_k| over the 3 determinants, straight from torch.linalg.det."""
    return torch.log(torch.abs(torch.linalg.det(orbitals(x)).sum(-1)))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_signed_sum_of_determinants_with_sign_changes(layout):
    positions = _positions((8,), seed=8)
    signs, logs = ops.slogdet(orbitals(fwdlapl_input(positions, layout)))
    sign, log_abs = ops.signed_logsumexp(logs, signs, -1)
    total = torch.linalg.det(orbitals(positions)).sum(-1)
    assert torch.equal(sign, torch.sign(total))
    assert (total > 0).any() and (total < 0).any()
    assert_matches(log_abs, sum_of_determinants, positions)


def test_signed_logsumexp_does_not_overflow():
    positions = _positions((3,), seed=9)
    signs, logs = ops.slogdet(orbitals(fwdlapl_input(positions)))
    reference_sign, reference = ops.signed_logsumexp(logs, signs, -1)
    sign, shifted = ops.signed_logsumexp(logs + 1000.0, signs, -1)
    assert torch.equal(sign, reference_sign) and torch.isfinite(shifted.value).all()
    torch.testing.assert_close(shifted.value - 1000.0, reference.value, **TOLERANCE)
    torch.testing.assert_close(shifted.jacobian, reference.jacobian, **TOLERANCE)
    torch.testing.assert_close(shifted.laplacian, reference.laplacian, **TOLERANCE)
