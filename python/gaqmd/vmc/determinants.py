"""Forward Laplacian rules for log|det| of orbital matrices and for signed sums of determinants.

With A the orbital matrix and ∂_d the derivative along electron coordinate d (bohr):

    ∂_d log|det A| = tr(A⁻¹ ∂_d A)
    Δ log|det A|   = tr(A⁻¹ ΔA) − Σ_d tr(A⁻¹ ∂_d A A⁻¹ ∂_d A)

When row i of A depends on electron i only (a per-electron FwdLapl over the row axis), ∂_d A for
d = (i, k) is zero outside row i and both sums collapse to the diagonal of G_k = J_k A⁻¹, with
J_k[i, j] = ∂A_ij/∂r_ik: O(m³) work instead of O(n m³).
"""

from dataclasses import replace

import torch
from torch import Tensor

from gaqmd.vmc import rules
from gaqmd.vmc.laplacian import FwdLapl, to_dense


def slogdet(a: FwdLapl) -> tuple[Tensor, FwdLapl]:
    """sign(det A) (...) and log|det A| (...) as a dense FwdLapl, for A (..., m, m).

    The sign is a plain tensor: it is constant wherever det A ≠ 0, so it has no derivatives.
    """
    if a.electron_axis == -1:
        a = rules.transpose(a, -2, -1)  # det Aᵀ = det A; electrons index the rows from here on
    sign, log_abs = torch.linalg.slogdet(a.value)
    inverse = torch.linalg.inv(a.value)
    trace_inverse_lapl = (inverse.mT * a.laplacian).sum((-2, -1))
    if a.electron_axis == -2 and torch.unique(a.electron_index).numel() == a.shape[-2]:
        return sign, _logdet_per_electron_rows(a, log_abs, inverse, trace_inverse_lapl)
    a = to_dense(a)
    solved = inverse @ a.jacobian  # (3n, ..., m, m): A⁻¹ ∂_d A
    jacobian = solved.diagonal(dim1=-2, dim2=-1).sum(-1)
    laplacian = trace_inverse_lapl - (solved * solved.mT).sum((0, -2, -1))
    return sign, FwdLapl(log_abs, jacobian, laplacian, a.n_electrons)


def _logdet_per_electron_rows(a: FwdLapl, log_abs: Tensor, inverse: Tensor, trace_inverse_lapl: Tensor) -> FwdLapl:
    """log|det A| for A (..., m, m) whose row i depends on electron electron_index[i] only."""
    diagonal = (a.jacobian @ inverse).diagonal(dim1=-2, dim2=-1)  # (3, ..., m): ∂ log|det| / ∂ r_(index[i], k)
    laplacian = trace_inverse_lapl - diagonal.square().sum((0, -1))
    per_row = diagonal.movedim(-1, 0)  # (m, 3, ...)
    jacobian = torch.zeros(a.n_electrons, *per_row.shape[1:], dtype=per_row.dtype, device=per_row.device)
    jacobian = jacobian.index_add(0, a.electron_index, per_row).flatten(0, 1)
    return FwdLapl(log_abs, jacobian, laplacian, a.n_electrons)


def signed_logsumexp(logs: FwdLapl, signs: Tensor, dim: int = -1) -> tuple[Tensor, FwdLapl]:
    """sign and log|Σ_k s_k exp(L_k)| over axis `dim`: a sum of determinants given as (sign, log|det|).

    logs (..., K, ...) FwdLapl, signs of the same shape (±1). With w_k = s_k e^{L_k} / Σ_j s_j e^{L_j}
    and S the result: ∇S = Σ_k w_k ∇L_k, ΔS = Σ_k w_k (ΔL_k + |∇L_k|²) − |∇S|².
    """
    dim = dim - logs.ndim if dim >= 0 else dim
    if dim == logs.electron_axis:
        logs = to_dense(logs)
    shift = logs.value.amax(dim, keepdim=True).detach()  # keeps exp from overflowing; cancels exactly
    terms = signs * torch.exp(logs.value - shift)
    total = terms.sum(dim, keepdim=True)
    weights = terms / total
    jacobian = (weights * logs.jacobian).sum(dim)
    laplacian = (weights * (logs.laplacian + logs.jacobian.square().sum(0))).sum(dim) - jacobian.square().sum(0)
    axis = logs.electron_axis
    if axis is not None and dim > axis:
        axis += 1
    value = (shift + torch.log(total.abs())).squeeze(dim)
    result = replace(logs, value=value, jacobian=jacobian, laplacian=laplacian, electron_axis=axis)
    return torch.sign(total).squeeze(dim), result
