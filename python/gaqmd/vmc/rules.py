"""Forward Laplacian rules for elementwise functions, linear maps, reductions and shape changes.

Every rule takes and returns FwdLapl (see `laplacian.py`): value (...), jacobian (3n or 3, ...),
laplacian (...), derivatives with respect to electron coordinates in bohr. Axes are normalised to
negative numbers; a rule that would mix the electron axis of a per-electron FwdLapl with others
(a linear map or a sum over electrons) first makes the jacobian dense.
"""

from collections.abc import Callable, Sequence
from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import Tensor

from gaqmd.vmc.laplacian import FwdLapl, to_dense

# v -> (f(v), f'(v), f''(v)), each with v's shape.
Derivatives = Callable[[Tensor], tuple[Tensor, Tensor, Tensor]]


def elementwise(x: FwdLapl, derivatives: Derivatives) -> FwdLapl:
    """f(x) entrywise: ∇f = f'∇x, Δf = f'Δx + f''|∇x|². Keeps x's layout."""
    value, first, second = derivatives(x.value)
    return replace(
        x,
        value=value,
        jacobian=first * x.jacobian,
        laplacian=first * x.laplacian + second * x.jacobian.square().sum(0),
    )


def _tanh(v: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    y = torch.tanh(v)
    first = 1.0 - y * y
    return y, first, -2.0 * y * first


def _silu(v: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    s = torch.sigmoid(v)
    return v * s, s * (1.0 + v * (1.0 - s)), s * (1.0 - s) * (2.0 + v * (1.0 - 2.0 * s))


def _sigmoid(v: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    s = torch.sigmoid(v)
    first = s * (1.0 - s)
    return s, first, first * (1.0 - 2.0 * s)


def _softplus(v: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    s = torch.sigmoid(v)
    return softplus_value(v), s, s * (1.0 - s)


def softplus_value(v: Tensor) -> Tensor:
    """log(1 + e^v) without F.softplus's switch to v above 20, whose derivative jumps by 2e-9."""
    return torch.logaddexp(v, torch.zeros_like(v))


def _exp(v: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    y = torch.exp(v)
    return y, y, y


def _log(v: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    inverse = 1.0 / v
    return torch.log(v), inverse, -inverse * inverse


def _sqrt(v: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    y = torch.sqrt(v)
    return y, 0.5 / y, -0.25 / (y * v)


def _square(v: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    return v * v, 2.0 * v, torch.full_like(v, 2.0)


def _reciprocal(v: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    inverse = 1.0 / v
    return inverse, -inverse * inverse, 2.0 * inverse * inverse * inverse


DERIVATIVES: dict[str, Derivatives] = {
    "tanh": _tanh,
    "silu": _silu,
    "sigmoid": _sigmoid,
    "softplus": _softplus,
    "exp": _exp,
    "log": _log,
    "sqrt": _sqrt,
    "square": _square,
    "reciprocal": _reciprocal,
}


def linear(x: FwdLapl, weight: Tensor, bias: Tensor | None = None) -> FwdLapl:
    """x @ weightᵀ + bias over the last axis (torch.nn.functional.linear); weight (H, F), bias (H,)."""
    if x.electron_axis == -1:
        x = to_dense(x)
    return replace(
        x,
        value=F.linear(x.value, weight, bias),
        jacobian=F.linear(x.jacobian, weight),
        laplacian=F.linear(x.laplacian, weight),
    )


def _axis(x: FwdLapl, dim: int) -> int:
    if not -x.ndim <= dim < x.ndim:
        raise IndexError(f"dim {dim} out of range for a value of shape {tuple(x.shape)}")
    return dim - x.ndim if dim >= 0 else dim


def sum(x: FwdLapl, dim: int, keepdim: bool = False) -> FwdLapl:
    """Σ over one axis; a sum over the electron axis makes the jacobian dense."""
    dim = _axis(x, dim)
    if dim == x.electron_axis:
        x = to_dense(x)
    axis = x.electron_axis
    if axis is not None and dim > axis and not keepdim:
        axis += 1
    return replace(
        x,
        value=x.value.sum(dim, keepdim),
        jacobian=x.jacobian.sum(dim, keepdim),
        laplacian=x.laplacian.sum(dim, keepdim),
        electron_axis=axis,
    )


def mean(x: FwdLapl, dim: int, keepdim: bool = False) -> FwdLapl:
    """Mean over one axis (see `sum`)."""
    return sum(x, dim, keepdim) * (1.0 / x.shape[dim])


def unsqueeze(x: FwdLapl, dim: int) -> FwdLapl:
    """A new axis of size 1 at `dim` of the result."""
    dim = dim - x.ndim - 1 if dim >= 0 else dim
    axis = x.electron_axis
    if axis is not None and axis <= dim:
        axis -= 1
    return replace(
        x,
        value=x.value.unsqueeze(dim),
        jacobian=x.jacobian.unsqueeze(dim),
        laplacian=x.laplacian.unsqueeze(dim),
        electron_axis=axis,
    )


def flatten(x: FwdLapl, start_dim: int, end_dim: int = -1) -> FwdLapl:
    """Axes start_dim..end_dim merged into one (row-major, as torch.flatten)."""
    start, end = _axis(x, start_dim), _axis(x, end_dim)
    if x.electron_axis is not None and start <= x.electron_axis <= end and start != end:
        x = to_dense(x)
    axis = x.electron_axis
    if axis is not None and axis < start:
        axis += end - start
    return replace(
        x,
        value=x.value.flatten(start, end),
        jacobian=x.jacobian.flatten(start, end),
        laplacian=x.laplacian.flatten(start, end),
        electron_axis=axis,
    )


def unflatten(x: FwdLapl, dim: int, sizes: Sequence[int]) -> FwdLapl:
    """Axis `dim` split into `sizes` (row-major, as torch.unflatten)."""
    dim = _axis(x, dim)
    if dim == x.electron_axis and len(sizes) > 1:
        x = to_dense(x)
    axis = x.electron_axis
    if axis is not None and axis < dim:
        axis -= len(sizes) - 1
    return replace(
        x,
        value=x.value.unflatten(dim, sizes),
        jacobian=x.jacobian.unflatten(dim, sizes),
        laplacian=x.laplacian.unflatten(dim, sizes),
        electron_axis=axis,
    )


def transpose(x: FwdLapl, dim0: int, dim1: int) -> FwdLapl:
    """Axes dim0 and dim1 swapped."""
    dim0, dim1 = _axis(x, dim0), _axis(x, dim1)
    axis = {dim0: dim1, dim1: dim0}.get(x.electron_axis, x.electron_axis)
    return replace(
        x,
        value=x.value.transpose(dim0, dim1),
        jacobian=x.jacobian.transpose(dim0, dim1),
        laplacian=x.laplacian.transpose(dim0, dim1),
        electron_axis=axis,
    )


def narrow(x: FwdLapl, dim: int, start: int, length: int) -> FwdLapl:
    """Entries start..start+length-1 along `dim` (as torch.narrow), e.g. the spin-up electrons."""
    dim = _axis(x, dim)
    index = x.electron_index
    if dim == x.electron_axis:
        index = index.narrow(0, start, length)
    return replace(
        x,
        value=x.value.narrow(dim, start, length),
        jacobian=x.jacobian.narrow(dim, start, length),
        laplacian=x.laplacian.narrow(dim, start, length),
        electron_index=index,
    )


def concat(xs: Sequence[FwdLapl], dim: int) -> FwdLapl:
    """torch.cat of FwdLapl along `dim`; per-electron when all share the electron axis and, unless
    that is `dim`, the electrons."""
    dim = _axis(xs[0], dim)
    axis, index = xs[0].electron_axis, xs[0].electron_index
    same_axis = axis is not None and all(x.electron_axis == axis for x in xs)
    if same_axis and dim == axis:
        index = torch.cat([x.electron_index for x in xs])
    elif not (same_axis and all(torch.equal(x.electron_index, index) for x in xs)):
        xs, axis, index = [to_dense(x) for x in xs], None, None
    return FwdLapl(
        torch.cat([x.value for x in xs], dim),
        torch.cat([x.jacobian for x in xs], dim),
        torch.cat([x.laplacian for x in xs], dim),
        xs[0].n_electrons,
        axis,
        index,
    )
