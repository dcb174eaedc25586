"""Local energy E_L = (Hψ)/ψ of a many-electron wavefunction, Hartree atomic units (bohr, Hartree).

    E_L(r) = −½ (Δ log|ψ| + |∇ log|ψ||²) + V(r)

with V all Coulomb terms: electron–nucleus, electron–electron and nucleus–nucleus. The kinetic
part has interchangeable methods, as in ferminet's hamiltonian.local_kinetic_energy:

- "forward": one pass of log_psi on FwdLapl inputs with per-electron jacobians (Forward Laplacian);
- "forward_dense": the same with dense jacobians from the start (a check on the sparse layout);
- "hessian": the reference, ∇ by autograd and Δ as the trace of the Hessian, one double-backward
  per coordinate (3n of them).

log_psi maps positions (..., n, 3), bohr, to log|ψ| (...) and must be written with `gaqmd.vmc.ops`
so that it accepts both tensors and FwdLapl.
"""

from collections.abc import Callable

import torch
from torch import Tensor

from gaqmd.vmc.laplacian import FwdLapl, fwdlapl_input

LogPsi = Callable[[Tensor | FwdLapl], Tensor | FwdLapl]
METHODS = ("forward", "forward_dense", "hessian")


def local_kinetic_energy(log_psi: LogPsi, positions: Tensor, method: str = "forward") -> Tensor:
    """−½ (Δ log|ψ| + |∇ log|ψ||²) (...), Hartree, at positions (..., n, 3), bohr.

    "forward" keeps the autograd graph to log_psi's parameters; "hessian" returns a result without
    one (its second derivatives are not differentiated again).
    """
    if method in ("forward", "forward_dense"):
        layout = "per-electron" if method == "forward" else "dense"
        log_abs = log_psi(fwdlapl_input(positions, layout))
        _check_output(log_abs, positions)
        return -0.5 * (log_abs.laplacian + log_abs.jacobian.square().sum(0))
    if method == "hessian":
        laplacian, gradient = _hessian_trace(log_psi, positions)
        return -0.5 * (laplacian + gradient.square().sum(-1))
    raise ValueError(f"method must be one of {METHODS}, got {method!r}")


def _check_output(log_abs, positions: Tensor) -> None:
    if not isinstance(log_abs, FwdLapl):
        raise TypeError("log_psi must be written with gaqmd.vmc.ops and return a FwdLapl for FwdLapl input")
    if log_abs.shape != positions.shape[:-2]:
        raise ValueError(f"log_psi returned shape {tuple(log_abs.shape)}, expected {tuple(positions.shape[:-2])}")


def _hessian_trace(log_psi: LogPsi, positions: Tensor) -> tuple[Tensor, Tensor]:
    """Δ log|ψ| (...) and ∇ log|ψ| (..., 3n) by eager double backward, one coordinate at a time.

    Summing over the batch before each backward is exact because each configuration's log|ψ|
    depends on its own positions only.
    """
    with torch.enable_grad():
        x = positions.detach().requires_grad_(True)
        log_abs = log_psi(x)
        if log_abs.shape != positions.shape[:-2]:
            raise ValueError(f"log_psi returned shape {tuple(log_abs.shape)}, expected {tuple(positions.shape[:-2])}")
        (gradient,) = torch.autograd.grad(log_abs.sum(), x, create_graph=True)
        gradient = gradient.flatten(-2)
        laplacian = torch.zeros_like(log_abs)
        for d in range(gradient.shape[-1]):
            (second,) = torch.autograd.grad(gradient[..., d].sum(), x, retain_graph=True)
            laplacian = laplacian + second.flatten(-2)[..., d]
    return laplacian.detach(), gradient.detach()


def potential_energy(positions: Tensor, nuclei: Tensor, charges: Tensor) -> Tensor:
    """Coulomb energy (...), Hartree, of electrons at positions (..., n, 3) and point nuclei at
    nuclei (A, 3), both bohr, with charges (A,) in units of e."""
    charges = torch.as_tensor(charges, dtype=positions.dtype, device=positions.device)
    nuclei = torch.as_tensor(nuclei, dtype=positions.dtype, device=positions.device)
    to_nuclei = torch.linalg.vector_norm(positions.unsqueeze(-2) - nuclei, dim=-1)  # (..., n, A)
    electron_nucleus = -(charges / to_nuclei).sum((-2, -1))
    i, j = torch.triu_indices(positions.shape[-2], positions.shape[-2], offset=1, device=positions.device)
    electron_electron = (1.0 / torch.linalg.vector_norm(positions[..., i, :] - positions[..., j, :], dim=-1)).sum(-1)
    a, b = torch.triu_indices(len(nuclei), len(nuclei), offset=1, device=positions.device)
    nucleus_nucleus = (charges[a] * charges[b] / torch.linalg.vector_norm(nuclei[a] - nuclei[b], dim=-1)).sum()
    return electron_nucleus + electron_electron + nucleus_nucleus


def local_energy(
    log_psi: LogPsi, positions: Tensor, nuclei: Tensor, charges: Tensor, method: str = "forward"
) -> Tensor:
    """E_L (...), Hartree, at positions (..., n, 3), bohr; see `local_kinetic_energy` for method."""
    return local_kinetic_energy(log_psi, positions, method) + potential_energy(positions, nuclei, charges)
