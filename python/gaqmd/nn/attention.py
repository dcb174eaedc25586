"""Cutoff-smooth attention over neighbours with L2-normalized query and key (GAQ §attention)."""

import torch
from torch import nn

# Keeps q/|q| finite when a query or key vanishes; far below any feature scale.
_NORM_EPS = 1e-12
# Keeps the softmax denominator positive when every neighbour sits at the cutoff (f_cut -> 0).
_DENOMINATOR_EPS = 1e-30


def l2_normalize(x: torch.Tensor, eps: float = _NORM_EPS) -> torch.Tensor:
    """x (..., A) -> x / sqrt(|x|^2 + eps)."""
    return x * torch.rsqrt((x * x).sum(-1, keepdim=True) + eps)


class CutoffAttention(nn.Module):
    """alpha_ij = f(d_ij) exp(a_ij) / sum_k f(d_ik) exp(a_ik), a_ij = tau * cos(q_i, k_ij).

    q_i = W_q s_i and k_ij = W_k s_j + W_r e(d_ij), with s the scalar (l=0) node features and e the
    Bessel basis. |a_ij| <= tau, so exp never overflows; the f(d) factor makes alpha_ij -> 0 smoothly
    as neighbour j leaves the cutoff sphere.
    """

    def __init__(self, num_scalars: int, num_basis: int, dim: int, temperature: float = 1.0):
        super().__init__()
        self.query = nn.Linear(num_scalars, dim, bias=False)
        self.key = nn.Linear(num_scalars, dim, bias=False)
        self.key_radial = nn.Linear(num_basis, dim, bias=False)
        self.temperature = nn.Parameter(torch.tensor(float(temperature)))
        self.denominator_eps = _DENOMINATOR_EPS

    def forward(
        self,
        scalars: torch.Tensor,
        basis: torch.Tensor,
        envelope: torch.Tensor,
        edge_index: torch.Tensor,
    ) -> torch.Tensor:
        """scalars (N, C), basis (E, K), envelope (E,), edge_index (2, E) -> alpha (E,)."""
        center, neighbour = edge_index[0], edge_index[1]
        q = l2_normalize(self.query(scalars))[center]
        k = l2_normalize(self.key(scalars)[neighbour] + self.key_radial(basis))
        logits = self.temperature * (q * k).sum(-1)
        weights = envelope * torch.exp(logits)
        denominator = torch.zeros(scalars.shape[0], dtype=weights.dtype, device=weights.device)
        denominator = denominator.index_add(0, center, weights)
        return weights / (denominator[center] + self.denominator_eps)
