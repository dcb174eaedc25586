"""Operations on either torch tensors or FwdLapl, so a wavefunction is written once (as folx's operators).

A log-wavefunction written with these functions and the arithmetic operators (+, −, ·, / by a
constant) runs on positions (..., n, 3), bohr, as a plain tensor — for autograd, e.g. the
Hessian-trace reference — or as a FwdLapl from `fwdlapl_input`, which carries the jacobian and
laplacian along. Every function takes the same arguments and returns the same shapes as its torch
namesake; axes may be negative or positive.
"""

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from gaqmd.vmc import determinants, rules
from gaqmd.vmc.laplacian import FwdLapl

Value = Tensor | FwdLapl


def _elementwise(name: str, tensor_function):
    derivatives = rules.DERIVATIVES[name]

    def apply(x: Value) -> Value:
        if isinstance(x, FwdLapl):
            return rules.elementwise(x, derivatives)
        return tensor_function(x)

    apply.__name__ = name
    apply.__doc__ = f"{name}(x) entrywise; x (...) tensor or FwdLapl."
    return apply


tanh = _elementwise("tanh", torch.tanh)
silu = _elementwise("silu", F.silu)
sigmoid = _elementwise("sigmoid", torch.sigmoid)
softplus = _elementwise("softplus", rules.softplus_value)
exp = _elementwise("exp", torch.exp)
log = _elementwise("log", torch.log)
sqrt = _elementwise("sqrt", torch.sqrt)
square = _elementwise("square", torch.square)
reciprocal = _elementwise("reciprocal", torch.reciprocal)


def linear(x: Value, weight: Tensor, bias: Tensor | None = None) -> Value:
    """x @ weightᵀ + bias over the last axis; x (..., F), weight (H, F), bias (H,) -> (..., H)."""
    if isinstance(x, FwdLapl):
        return rules.linear(x, weight, bias)
    return F.linear(x, weight, bias)


def sum(x: Value, dim: int, keepdim: bool = False) -> Value:
    """Σ over axis `dim`."""
    return rules.sum(x, dim, keepdim) if isinstance(x, FwdLapl) else x.sum(dim, keepdim)


def mean(x: Value, dim: int, keepdim: bool = False) -> Value:
    """Mean over axis `dim`."""
    return rules.mean(x, dim, keepdim) if isinstance(x, FwdLapl) else x.mean(dim, keepdim)


def norm(x: Value, dim: int = -1) -> Value:
    """Euclidean norm over axis `dim`, e.g. distances (..., n) from displacements (..., n, 3), bohr."""
    return sqrt(sum(square(x), dim))


def unsqueeze(x: Value, dim: int) -> Value:
    """A new axis of size 1 at `dim`."""
    return rules.unsqueeze(x, dim) if isinstance(x, FwdLapl) else x.unsqueeze(dim)


def flatten(x: Value, start_dim: int, end_dim: int = -1) -> Value:
    """Axes start_dim..end_dim merged into one."""
    return rules.flatten(x, start_dim, end_dim) if isinstance(x, FwdLapl) else x.flatten(start_dim, end_dim)


def unflatten(x: Value, dim: int, sizes: Sequence[int]) -> Value:
    """Axis `dim` split into `sizes`."""
    return rules.unflatten(x, dim, sizes) if isinstance(x, FwdLapl) else x.unflatten(dim, sizes)


def transpose(x: Value, dim0: int, dim1: int) -> Value:
    """Axes dim0 and dim1 swapped."""
    return rules.transpose(x, dim0, dim1) if isinstance(x, FwdLapl) else x.transpose(dim0, dim1)


def narrow(x: Value, dim: int, start: int, length: int) -> Value:
    """Entries start..start+length-1 along `dim`."""
    return rules.narrow(x, dim, start, length) if isinstance(x, FwdLapl) else x.narrow(dim, start, length)


def concat(xs: Sequence[Value], dim: int) -> Value:
    """Concatenation along `dim`; all tensors or all FwdLapl."""
    return rules.concat(xs, dim) if isinstance(xs[0], FwdLapl) else torch.cat(list(xs), dim)


def slogdet(a: Value) -> tuple[Tensor, Value]:
    """(sign, log|det A|) of A (..., m, m), both (...); the sign is always a plain tensor."""
    if isinstance(a, FwdLapl):
        return determinants.slogdet(a)
    sign, log_abs = torch.linalg.slogdet(a)
    return sign, log_abs


def signed_logsumexp(logs: Value, signs: Tensor, dim: int = -1) -> tuple[Tensor, Value]:
    """(sign, log|Σ_k s_k exp(L_k)|) over axis `dim` of logs and signs (..., K, ...)."""
    if isinstance(logs, FwdLapl):
        return determinants.signed_logsumexp(logs, signs, dim)
    shift = logs.amax(dim, keepdim=True).detach()  # keeps exp from overflowing; cancels exactly
    total = (signs * torch.exp(logs - shift)).sum(dim, keepdim=True)
    return torch.sign(total).squeeze(dim), (shift + torch.log(total.abs())).squeeze(dim)
