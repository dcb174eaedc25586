"""Ablations: energy and force errors when the degree-l blocks of layer outputs are zeroed at inference.

After arXiv 2410.08131: a degree whose removal barely moves the errors carries little of what the
model predicts, whatever its share of the feature norm. Errors are against the reference labels,
in meV (energy per frame) and meV/Å (force components), as in gaqmd.train.metrics.
"""

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Optional, Sequence

import torch
from e3nn import o3

from gaqmd.analysis.features import degree_slices, model_degrees
from gaqmd.data import GraphDataset
from gaqmd.model import EquivariantPotential
from gaqmd.train.metrics import ErrorMetrics, evaluate


@dataclass(frozen=True)
class Ablation:
    """Errors with `degrees` zeroed in the outputs of `layers`; changes vs the unmodified model
    (meV for energies per frame, meV/Å for force components; positive = worse)."""

    degrees: tuple[int, ...]
    layers: tuple[int, ...]
    metrics: ErrorMetrics
    energy_mae_change: float
    force_mae_change: float

    @property
    def label(self) -> str:
        return "l=" + ",".join(str(l) for l in self.degrees) if self.degrees else "none"


@dataclass(frozen=True)
class AblationStudy:
    """baseline: the unmodified model; rows: each l zeroed in every layer, then all l > 0 zeroed in
    one layer at a time (the last layer's l > 0 never reaches the scalar readout: change 0)."""

    baseline: ErrorMetrics
    rows: tuple[Ablation, ...]


def _zero_mask(irreps: o3.Irreps, degrees: Sequence[int], device) -> torch.Tensor:
    """(irreps.dim,) bool, True on the components of the given degrees."""
    mask = torch.zeros(irreps.dim, dtype=torch.bool, device=device)
    for l, spans in degree_slices(irreps).items():
        if l in degrees:
            for span in spans:
                mask[span] = True
    return mask


@contextmanager
def zeroed_degrees(
    model: EquivariantPotential, degrees: Sequence[int], layers: Optional[Sequence[int]] = None
) -> Iterator[EquivariantPotential]:
    """Within the block, the `degrees` blocks of the outputs of `layers` (default: all) are zero.

    The hook replaces the output, so gradients (forces) see the ablated network too. The hook is
    installed even when nothing is zeroed; masked_fill with an empty mask is then the identity.
    """
    layers = range(len(model.layers)) if layers is None else layers
    device = next(model.parameters()).device
    handles = []
    for k in layers:
        layer = model.layers[k]
        mask = _zero_mask(o3.Irreps(layer.irreps_out), degrees, device)
        handles.append(layer.register_forward_hook(lambda module, args, out, mask=mask: out.masked_fill(mask, 0.0)))
    try:
        yield model
    finally:
        for handle in handles:
            handle.remove()


def evaluate_ablated(
    model: EquivariantPotential,
    dataset: GraphDataset,
    degrees: Sequence[int],
    layers: Optional[Sequence[int]] = None,
    batch_size: int = 16,
    dtype: torch.dtype = torch.float64,
) -> ErrorMetrics:
    """ErrorMetrics (meV, meV/Å) of the model with `degrees` zeroed in the outputs of `layers`."""
    with zeroed_degrees(model, degrees, layers):
        return evaluate(model, dataset, batch_size=batch_size, dtype=dtype)


def ablation_study(
    model: EquivariantPotential, dataset: GraphDataset, batch_size: int = 16, dtype: torch.dtype = torch.float64
) -> AblationStudy:
    """The unmodified errors, then each l zeroed in every layer, then l > 0 zeroed per layer."""
    baseline = evaluate(model, dataset, batch_size=batch_size, dtype=dtype)
    degrees = model_degrees(model)
    every_layer = tuple(range(len(model.layers)))
    settings = [((l,), every_layer) for l in degrees] + [(degrees[1:], (k,)) for k in every_layer]
    rows = []
    for zeroed, layers in settings:
        metrics = evaluate_ablated(model, dataset, zeroed, layers, batch_size=batch_size, dtype=dtype)
        rows.append(
            Ablation(
                degrees=zeroed,
                layers=layers,
                metrics=metrics,
                energy_mae_change=metrics.energy_mae - baseline.energy_mae,
                force_mae_change=metrics.force_mae - baseline.force_mae,
            )
        )
    return AblationStudy(baseline=baseline, rows=tuple(rows))
