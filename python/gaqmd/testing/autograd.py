"""Autograd oracles for forward-mode derivative code (value, jacobian, Hessian trace)."""

import torch


def autograd_reference(f, positions: torch.Tensor):
    """value (*S), jacobian (3n, *S) and laplacian (*S) of f at positions (n, 3), by autograd only.

    jacobian from torch.autograd.functional.jacobian; laplacian as the Hessian trace, one eager
    double backward per output entry and coordinate.
    """
    value = f(positions)
    jacobian = torch.autograd.functional.jacobian(f, positions)  # (*S, n, 3)
    jacobian = jacobian.reshape(*value.shape, -1).movedim(-1, 0)
    x = positions.detach().requires_grad_(True)
    flat = f(x).reshape(-1)
    laplacian = torch.zeros_like(flat)
    for entry in range(flat.numel()):
        (gradient,) = torch.autograd.grad(flat[entry], x, create_graph=True)
        gradient = gradient.reshape(-1)
        if not gradient.requires_grad:  # f affine in x: no second derivatives
            continue
        for d in range(gradient.numel()):
            (second,) = torch.autograd.grad(gradient[d], x, retain_graph=True, allow_unused=True)
            if second is not None:
                laplacian[entry] += second.reshape(-1)[d]
    return value, jacobian, laplacian.reshape(value.shape)
