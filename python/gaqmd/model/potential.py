"""The equivariant potential: species embedding, interaction layers, scalar readout, E = sum_i E_i."""

import torch
from e3nn import o3
from torch import nn

from gaqmd.model.config import ModelConfig
from gaqmd.nn import BesselBasis, InteractionBlock, PolynomialCutoff, ScalarReadout, hidden_irreps


class EquivariantPotential(nn.Module):
    """NequIP-style potential (DESIGN §3). Inputs in Å, energies in eV."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        c = config
        self.embedding = nn.Embedding(len(c.species), c.channels)
        nn.init.normal_(self.embedding.weight)
        self.basis = BesselBasis(c.cutoff, c.num_basis)
        self.envelope = PolynomialCutoff(c.cutoff, c.cutoff_p)
        self.spherical_harmonics = o3.SphericalHarmonics(
            o3.Irreps.spherical_harmonics(c.l_max), normalize=True, normalization="component"
        )
        irreps_hidden = hidden_irreps(c.channels, c.l_max)
        irreps = [o3.Irreps(f"{c.channels}x0e")] + [irreps_hidden] * c.num_layers
        self.layers = nn.ModuleList(
            InteractionBlock(
                irreps_in,
                irreps_out,
                l_max=c.l_max,
                num_basis=c.num_basis,
                radial_hidden=c.radial_hidden,
                avg_num_neighbors=c.avg_num_neighbors,
                attention_dim=c.attention_dim if c.attention else None,
            )
            for irreps_in, irreps_out in zip(irreps[:-1], irreps[1:])
        )
        self.readout = ScalarReadout(c.channels, c.readout_hidden, len(c.species))
        self.num_scalars = c.channels  # a plain int, so TorchScript need not see the config

    def atomic_energies(
        self,
        positions: torch.Tensor,
        species: torch.Tensor,
        edge_index: torch.Tensor,
        edge_shift: torch.Tensor,
    ) -> torch.Tensor:
        """positions (N, 3) Å, species (N,), edge_index (2, E), edge_shift (E, 3) Å -> E_i (N,) eV."""
        vectors = positions[edge_index[1]] - positions[edge_index[0]] + edge_shift
        distance = torch.linalg.vector_norm(vectors, dim=-1)
        sh = self.spherical_harmonics(vectors)
        basis = self.basis(distance)
        envelope = self.envelope(distance)
        x = self.embedding(species)
        for layer in self.layers:
            x = layer(x, sh, basis, envelope, edge_index)
        return self.readout(x[:, : self.num_scalars], species)

    def forward(
        self,
        positions: torch.Tensor,
        species: torch.Tensor,
        edge_index: torch.Tensor,
        edge_shift: torch.Tensor,
        batch: torch.Tensor,
        num_graphs: int,
    ) -> torch.Tensor:
        """As atomic_energies, plus batch (N,) graph index -> energy per graph (B,) eV."""
        per_atom = self.atomic_energies(positions, species, edge_index, edge_shift)
        energy = torch.zeros(num_graphs, dtype=per_atom.dtype, device=per_atom.device)
        return energy.index_add(0, batch, per_atom)


def energy_and_forces(
    model: EquivariantPotential, graph, create_graph: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """graph: gaqmd.data.GraphBatch -> (energy (B,) eV, forces (N, 3) eV/Å = -dE/dx)."""
    positions = graph.positions.detach().requires_grad_(True)
    energy = model(positions, graph.species, graph.edge_index, graph.edge_shift, graph.batch, graph.num_graphs)
    (gradient,) = torch.autograd.grad(energy.sum(), positions, create_graph=create_graph)
    return energy, -gradient
