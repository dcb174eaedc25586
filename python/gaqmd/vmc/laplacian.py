"""The Forward Laplacian value type FwdLapl (Li et al., Nat. Mach. Intell. 2024; DESIGN §7).

A FwdLapl holds, for a quantity u(r) of the 3n electron coordinates r (bohr), its value, its
jacobian ∂u/∂r_d and its laplacian Σ_d ∂²u/∂r_d², so one forward pass of a wavefunction gives
∇log|ψ| and Δlog|ψ| without a loop over the 3n coordinates.

The derivative axis of the jacobian comes first, so every rule broadcasts it against the value:

- dense: jacobian (3n, *value.shape), derivative axis d = 3 i + k for coordinate k of electron i;
- per-electron: every entry at position e along `electron_axis` of the value depends only on
  electron `electron_index[e]`; the jacobian keeps its three non-zero columns, (3, *value.shape),
  axis k. Cost and memory then grow like n instead of n², as in the paper.

Axes (electron_axis and the `dim` arguments of the rules) are stored and compared as negative
numbers, counted from the end of the value shape, so they survive leading batch axes.

This module holds the type, the seeding `fwdlapl_input`, the layout changes and the arithmetic
operators; the other rules are in `rules.py` and `determinants.py`, and `ops.py` dispatches
between torch tensors and FwdLapl.
"""

from dataclasses import dataclass, replace

import torch
from torch import Tensor


@dataclass(frozen=True, eq=False)  # tensor fields: == would be ambiguous
class FwdLapl:
    """u, ∂u/∂r and Σ_d ∂²u/∂r_d² for a quantity u of the electron coordinates r (bohr).

    value (...), in the unit of u; jacobian (3n, ...) when dense or (3, ...) when per-electron, in
    unit(u)/bohr; laplacian (...), in unit(u)/bohr². electron_axis (negative) and electron_index
    (m,) long, with m = value.shape[electron_axis], are set only for the per-electron layout.
    """

    value: Tensor
    jacobian: Tensor
    laplacian: Tensor
    n_electrons: int
    electron_axis: int | None = None
    electron_index: Tensor | None = None

    @property
    def per_electron(self) -> bool:
        return self.electron_axis is not None

    @property
    def shape(self) -> torch.Size:
        return self.value.shape

    @property
    def ndim(self) -> int:
        return self.value.ndim

    def dense(self) -> "FwdLapl":
        return to_dense(self)

    def __neg__(self) -> "FwdLapl":
        return replace(self, value=-self.value, jacobian=-self.jacobian, laplacian=-self.laplacian)

    def __add__(self, other) -> "FwdLapl":
        return add(self, other)

    __radd__ = __add__

    def __sub__(self, other) -> "FwdLapl":
        return add(self, -other)

    def __rsub__(self, other) -> "FwdLapl":
        return add(-self, other)

    def __mul__(self, other) -> "FwdLapl":
        return multiply(self, other)

    __rmul__ = __mul__

    def __truediv__(self, other) -> "FwdLapl":
        if isinstance(other, FwdLapl):
            raise TypeError("divide by a FwdLapl with ops.reciprocal")
        return multiply(self, 1.0 / other)


def fwdlapl_input(positions: Tensor, layout: str = "per-electron") -> FwdLapl:
    """Seed the forward pass: the electron positions (..., n, 3), bohr, as a FwdLapl.

    The jacobian is the identity (∂r_ik/∂r_jl = δ_ij δ_kl) and the laplacian is zero. layout
    "per-electron" gives jacobian (3, ..., n, 3) with electron_axis -2; "dense" gives (3n, ..., n, 3).
    """
    if positions.ndim < 2 or positions.shape[-1] != 3:
        raise ValueError(f"positions must have shape (..., n, 3), got {tuple(positions.shape)}")
    n, batch = positions.shape[-2], positions.shape[:-2]
    like = {"dtype": positions.dtype, "device": positions.device}
    if layout == "per-electron":
        eye = torch.eye(3, **like).reshape(3, *([1] * (len(batch) + 1)), 3)
        jacobian = eye.expand(3, *positions.shape)
        index = torch.arange(n, device=positions.device)
        return FwdLapl(positions, jacobian, torch.zeros_like(positions), n, -2, index)
    if layout == "dense":
        eye = torch.eye(3 * n, **like).reshape(3 * n, *([1] * len(batch)), n, 3)
        jacobian = eye.expand(3 * n, *positions.shape)
        return FwdLapl(positions, jacobian, torch.zeros_like(positions), n)
    raise ValueError(f"layout must be 'per-electron' or 'dense', got {layout!r}")


def to_dense(x: FwdLapl) -> FwdLapl:
    """The same quantity with a dense jacobian (3n, *x.shape); a dense x is returned as is."""
    if not x.per_electron:
        return x
    n, m = x.n_electrons, x.shape[x.electron_axis]
    one_hot = (torch.arange(n, device=x.value.device)[:, None] == x.electron_index[None, :]).to(x.value.dtype)
    view = [n, 1] + [1] * x.ndim
    view[x.electron_axis] = m
    jacobian = (x.jacobian.unsqueeze(0) * one_hot.reshape(view)).reshape(3 * n, *x.shape)
    return FwdLapl(x.value, jacobian, x.laplacian, n)


def broadcast_to(x: FwdLapl, shape: torch.Size) -> FwdLapl:
    """x broadcast to the value shape `shape` (torch rules); per-electron only while the electron
    axis keeps its size, since a broadcast along it would pair entries with the wrong electron."""
    shape = torch.Size(shape)
    if x.shape == shape:
        return x
    if x.per_electron and shape[x.electron_axis] != x.shape[x.electron_axis]:
        x = to_dense(x)
    derivatives, lead = x.jacobian.shape[0], len(shape) - x.ndim
    jacobian = x.jacobian.reshape(derivatives, *([1] * lead), *x.shape).expand(derivatives, *shape)
    return replace(x, value=x.value.expand(shape), jacobian=jacobian, laplacian=x.laplacian.expand(shape))


def unify(x: FwdLapl, y: FwdLapl) -> tuple[FwdLapl, FwdLapl]:
    """x and y (same value shape) in one layout: per-electron if both are per-electron over the same
    axis and electrons, dense otherwise."""
    if x.n_electrons != y.n_electrons:
        raise ValueError(f"FwdLapl of {x.n_electrons} and {y.n_electrons} electrons cannot be combined")
    same_axis = x.per_electron and y.per_electron and x.electron_axis == y.electron_axis
    if same_axis and (x.electron_index is y.electron_index or torch.equal(x.electron_index, y.electron_index)):
        return x, y
    return to_dense(x), to_dense(y)


def add(x: FwdLapl, other: "FwdLapl | Tensor | float") -> FwdLapl:
    """x + other (broadcast); other is a FwdLapl of the same electrons or a constant."""
    if isinstance(other, FwdLapl):
        shape = torch.broadcast_shapes(x.shape, other.shape)
        x, other = unify(broadcast_to(x, shape), broadcast_to(other, shape))
        return replace(
            x,
            value=x.value + other.value,
            jacobian=x.jacobian + other.jacobian,
            laplacian=x.laplacian + other.laplacian,
        )
    value = x.value + other
    return replace(broadcast_to(x, value.shape), value=value)


def multiply(x: FwdLapl, other: "FwdLapl | Tensor | float") -> FwdLapl:
    """x · other (broadcast). For two FwdLapl: ∇(xy) = y∇x + x∇y, Δ(xy) = yΔx + xΔy + 2∇x·∇y."""
    if not isinstance(other, FwdLapl):
        other = torch.as_tensor(other, dtype=x.value.dtype, device=x.value.device)
        x = broadcast_to(x, torch.broadcast_shapes(x.shape, other.shape))
        return replace(x, value=x.value * other, jacobian=x.jacobian * other, laplacian=x.laplacian * other)
    shape = torch.broadcast_shapes(x.shape, other.shape)
    x, y = unify(broadcast_to(x, shape), broadcast_to(other, shape))
    return replace(
        x,
        value=x.value * y.value,
        jacobian=y.value * x.jacobian + x.value * y.jacobian,
        laplacian=y.value * x.laplacian + x.value * y.laplacian + 2.0 * (x.jacobian * y.jacobian).sum(0),
    )
