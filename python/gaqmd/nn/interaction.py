"""One NequIP-style interaction: channel-wise tensor-product convolution, gate, residual."""

import math
from typing import Optional

import torch
from e3nn import o3
from e3nn.nn import Gate
from torch import nn

from gaqmd.nn.attention import CutoffAttention
from gaqmd.nn.radial import RadialMLP


def hidden_irreps(channels: int, l_max: int) -> o3.Irreps:
    """C x 0e + C x 1o (+ C x 2e): node features of natural parity up to l_max."""
    return o3.Irreps([(channels, (l, (-1) ** l)) for l in range(l_max + 1)])


def convolution_paths(irreps_in: o3.Irreps, irreps_sh: o3.Irreps, irreps_target: o3.Irreps):
    """Channel-wise ("uvu") paths of x (x) Y whose output irrep is in irreps_target.

    Returns (irreps_mid, instructions): every path writes its own block of irreps_mid, and a linear
    layer mixes the blocks afterwards ("message mixing").
    """
    allowed = {ir for _, ir in irreps_target}
    irreps_mid, instructions = [], []
    for i_in, (mul, ir_in) in enumerate(irreps_in):
        for i_sh, (_, ir_sh) in enumerate(irreps_sh):
            for ir_out in ir_in * ir_sh:
                if ir_out in allowed:
                    instructions.append((i_in, i_sh, len(irreps_mid), "uvu", True))
                    irreps_mid.append((mul, ir_out))
    return o3.Irreps(irreps_mid), instructions


class InteractionBlock(nn.Module):
    """x_i -> x_i + Gate(Linear(sum_j w(d_ij) * (Linear(x)_j (x) Y(u_ij))) + SelfLinear(x_i)).

    The residual is used when input and output irreps agree (every layer but the first).
    """

    def __init__(
        self,
        irreps_in: o3.Irreps,
        irreps_out: o3.Irreps,
        l_max: int,
        num_basis: int,
        radial_hidden: int,
        avg_num_neighbors: float,
        attention_dim: Optional[int] = None,
    ):
        super().__init__()
        self.irreps_in = o3.Irreps(irreps_in)
        self.irreps_out = o3.Irreps(irreps_out)
        self.irreps_sh = o3.Irreps.spherical_harmonics(l_max)
        self.inv_sqrt_neighbors = 1.0 / math.sqrt(avg_num_neighbors)

        scalars = o3.Irreps([(mul, ir) for mul, ir in self.irreps_out if ir.l == 0])
        gated = o3.Irreps([(mul, ir) for mul, ir in self.irreps_out if ir.l > 0])
        gates = o3.Irreps(f"{gated.num_irreps}x0e")
        self.gate = Gate(scalars, [nn.functional.silu], gates, [torch.sigmoid], gated)
        irreps_gate_in = self.gate.irreps_in

        irreps_mid, instructions = convolution_paths(self.irreps_in, self.irreps_sh, self.irreps_out)
        self.linear_up = o3.Linear(self.irreps_in, self.irreps_in)
        self.tensor_product = o3.TensorProduct(
            self.irreps_in,
            self.irreps_sh,
            irreps_mid,
            instructions,
            shared_weights=False,
            internal_weights=False,
        )
        self.radial_mlp = RadialMLP(num_basis, radial_hidden, self.tensor_product.weight_numel)
        self.linear_down = o3.Linear(irreps_mid, irreps_gate_in)
        self.self_connection = o3.Linear(self.irreps_in, irreps_gate_in)
        self.residual = self.irreps_in == self.irreps_out

        num_scalars_in = sum(mul for mul, ir in self.irreps_in if ir.l == 0)
        self.attention = (
            CutoffAttention(num_scalars_in, num_basis, attention_dim) if attention_dim else None
        )

    def forward(
        self,
        x: torch.Tensor,
        sh: torch.Tensor,
        basis: torch.Tensor,
        envelope: torch.Tensor,
        edge_index: torch.Tensor,
    ) -> torch.Tensor:
        """x (N, irreps_in.dim), sh (E, irreps_sh.dim), basis (E, K) Bessel basis (no envelope),
        envelope (E,), edge_index (2, E) -> (N, irreps_out.dim)."""
        center, neighbour = edge_index[0], edge_index[1]
        x_up = self.linear_up(x)
        weights = self.radial_mlp(basis * envelope.unsqueeze(-1))
        messages = self.tensor_product(x_up[neighbour], sh, weights)
        if self.attention is not None:
            num_scalars = self.attention.query.in_features
            alpha = self.attention(x_up[:, :num_scalars], basis, envelope, edge_index)
            messages = messages * alpha.unsqueeze(-1)
        else:
            messages = messages * self.inv_sqrt_neighbors
        aggregated = torch.zeros(x.shape[0], messages.shape[1], dtype=x.dtype, device=x.device)
        aggregated = aggregated.index_add(0, center, messages)
        y = self.gate(self.linear_down(aggregated) + self.self_connection(x))
        return x + y if self.residual else y
