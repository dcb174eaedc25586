"""Output node features of each interaction layer, and the share of each degree l in their norm.

Features are read with forward hooks on model.layers[k] (e3nn layout: block i of irreps_out is
`irreps.slices()[i]`, channel-major). QAT models are read with their fake quantizers in place; their
hooks quantize each layer's input, so what is recorded here is the layer output before that.
"""

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from e3nn import o3

from gaqmd.data import GraphDataset
from gaqmd.model import EquivariantPotential


@dataclass(frozen=True)
class LayerFeatures:
    """Output node features of every interaction layer over a dataset, atoms in dataset order.

    irreps[k]: layer k's irreps_out; features[k]: (atoms, irreps[k].dim); numbers: (atoms,) atomic numbers.
    """

    irreps: tuple[o3.Irreps, ...]
    features: tuple[np.ndarray, ...]
    numbers: np.ndarray


@dataclass(frozen=True)
class NormShares:
    """shares[k][i]: fraction of layer k's squared feature norm in degree degrees[i]; rows sum to 1.
    squared_norms[k][i]: the sums themselves (feature units squared, summed over atoms and frames)."""

    degrees: tuple[int, ...]
    shares: tuple[tuple[float, ...], ...]
    squared_norms: tuple[tuple[float, ...], ...]


def degree_slices(irreps: o3.Irreps) -> dict[int, list[slice]]:
    """l -> the slices of a flat (..., irreps.dim) feature tensor that hold degree l (all parities)."""
    blocks: dict[int, list[slice]] = {}
    for (_, ir), span in zip(irreps, irreps.slices()):
        blocks.setdefault(ir.l, []).append(span)
    return blocks


def model_degrees(model: EquivariantPotential) -> tuple[int, ...]:
    return tuple(range(model.config.l_max + 1))


def _atomic_numbers(model: EquivariantPotential, dataset: GraphDataset) -> np.ndarray:
    species = torch.cat([graph.species for graph in dataset]).numpy()
    return np.asarray(model.config.species, dtype=np.int64)[species]


def capture_layer_features(
    model: EquivariantPotential, dataset: GraphDataset, batch_size: int = 16, dtype: torch.dtype = torch.float64
) -> LayerFeatures:
    """Forward passes (no gradients) with a forward hook on each model.layers[k] that records its output."""
    outputs: list[list[torch.Tensor]] = [[] for _ in model.layers]

    def recorder(k: int):
        def hook(module, args, output):
            outputs[k].append(output.detach().to(torch.float64))

        return hook

    handles = [layer.register_forward_hook(recorder(k)) for k, layer in enumerate(model.layers)]
    try:
        with torch.no_grad():
            for graph in dataset.batches(batch_size, shuffle=False):
                graph = graph.to(dtype=dtype)
                model(graph.positions, graph.species, graph.edge_index, graph.edge_shift, graph.batch, graph.num_graphs)
    finally:
        for handle in handles:
            handle.remove()
    return LayerFeatures(
        irreps=tuple(o3.Irreps(layer.irreps_out) for layer in model.layers),
        features=tuple(torch.cat(chunks).numpy() for chunks in outputs),
        numbers=_atomic_numbers(model, dataset),
    )


def norm_shares(features: LayerFeatures, degrees: Sequence[int]) -> NormShares:
    """Share of each degree in the squared norm of each layer's output (degrees a layer lacks: 0)."""
    shares, squared_norms = [], []
    for irreps, x in zip(features.irreps, features.features):
        blocks = degree_slices(irreps)
        sums = [float(sum((x[:, span] ** 2).sum() for span in blocks.get(l, []))) for l in degrees]
        total = sum(sums)
        squared_norms.append(tuple(sums))
        shares.append(tuple(s / total if total > 0 else 0.0 for s in sums))
    return NormShares(degrees=tuple(degrees), shares=tuple(shares), squared_norms=tuple(squared_norms))
