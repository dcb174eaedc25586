"""Per-atom energy readout: MLP on final scalars, times per-species scale, plus per-species shift."""

import torch
from torch import nn


class ScalarReadout(nn.Module):
    """E_i = scale[z_i] * MLP(s_i) + shift[z_i], in eV.

    scale and shift are trainable; the trainer initializes them from data statistics (force RMS and
    per-element reference energies) so the MLP only learns a dimensionless correction.
    """

    def __init__(self, num_scalars: int, hidden: int, num_species: int):
        super().__init__()
        self.hidden = nn.Linear(num_scalars, hidden)
        self.out = nn.Linear(hidden, 1)
        self.scale = nn.Parameter(torch.ones(num_species))
        self.shift = nn.Parameter(torch.zeros(num_species))

    def forward(self, scalars: torch.Tensor, species: torch.Tensor) -> torch.Tensor:
        """scalars (N, C), species (N,) -> per-atom energies (N,) eV."""
        x = self.out(nn.functional.silu(self.hidden(scalars))).squeeze(-1)
        return self.scale[species] * x + self.shift[species]

    @torch.no_grad()
    def set_statistics(self, scale: torch.Tensor, shift: torch.Tensor) -> None:
        """scale (S,) eV, shift (S,) eV per species."""
        self.scale.copy_(scale)
        self.shift.copy_(shift)
