"""Radial part of an edge: Bessel basis, polynomial cutoff envelope and the per-edge MLP."""

import math

import torch
from torch import nn


class PolynomialCutoff(nn.Module):
    """NequIP's polynomial envelope f(d) that goes to zero at r_c with p-1 continuous derivatives.

    f(x) = 1 - (p+1)(p+2)/2 x^p + p(p+2) x^(p+1) - p(p+1)/2 x^(p+2) for x = d/r_c < 1, else 0.
    """

    def __init__(self, cutoff: float, p: int = 6):
        super().__init__()
        self.cutoff = float(cutoff)
        self.p = float(p)

    def forward(self, distance: torch.Tensor) -> torch.Tensor:
        """distance (E,) Å -> envelope (E,), dimensionless."""
        p = self.p
        x = distance / self.cutoff
        envelope = (
            1.0
            - 0.5 * (p + 1.0) * (p + 2.0) * x.pow(p)
            + p * (p + 2.0) * x.pow(p + 1.0)
            - 0.5 * p * (p + 1.0) * x.pow(p + 2.0)
        )
        return envelope * (x < 1.0)


class BesselBasis(nn.Module):
    """e_n(d) = sqrt(2/r_c) sin(n pi d / r_c) / d, n = 1..K (fixed frequencies)."""

    def __init__(self, cutoff: float, num_basis: int = 8):
        super().__init__()
        self.cutoff = float(cutoff)
        self.prefactor = math.sqrt(2.0 / cutoff)
        frequencies = math.pi / cutoff * torch.arange(1, num_basis + 1, dtype=torch.get_default_dtype())
        self.register_buffer("frequencies", frequencies)

    def forward(self, distance: torch.Tensor) -> torch.Tensor:
        """distance (E,) Å -> basis (E, K) in Å^-1."""
        d = distance.unsqueeze(-1)
        return self.prefactor * torch.sin(self.frequencies * d) / d


class RadialMLP(nn.Module):
    """Per-edge MLP K -> H -> H -> out with SiLU and no biases.

    Without biases the output vanishes where the (cutoff-enveloped) input vanishes, which keeps
    messages, and hence energies, continuous as neighbours cross r_c.
    """

    def __init__(self, num_in: int, hidden: int, num_out: int, num_hidden_layers: int = 2):
        super().__init__()
        sizes = [num_in] + [hidden] * num_hidden_layers + [num_out]
        self.layers = nn.ModuleList(nn.Linear(a, b, bias=False) for a, b in zip(sizes[:-1], sizes[1:]))
        for layer in self.layers:
            nn.init.normal_(layer.weight, std=1.0 / math.sqrt(layer.in_features))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """features (E, K) -> (E, out)."""
        x = features
        for index, layer in enumerate(self.layers):
            x = layer(x)
            if index < len(self.layers) - 1:
                x = nn.functional.silu(x)
        return x
