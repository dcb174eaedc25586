"""How much each irrep degree l carries in a trained potential: `gaqmd analyze irreps`.

After arXiv 2410.08131 ("Deconstructing equivariant representations"): for the output node
features of every interaction layer, the share of each l in the squared feature norm, the change of
the energy and force errors when l is zeroed at inference, and 2-D maps of rotation-invariant per-l
embeddings. FP32 and QAT model files alike (load_model rebuilds the fake quantizers).
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from gaqmd.analysis.ablation import AblationStudy, ablation_study
from gaqmd.analysis.embeddings import EmbeddingProjections, embedding_projections, resolve_projection
from gaqmd.analysis.features import NormShares, capture_layer_features, model_degrees, norm_shares
from gaqmd.data import GraphDataset
from gaqmd.model import EquivariantPotential
from gaqmd.model.io import load_model
from gaqmd.train.evaluation import read_labelled_frames


@dataclass(frozen=True)
class IrrepsAnalysis:
    """Everything `gaqmd analyze irreps` reports for one model on one set of frames.

    irreps[k]: layer k's output irreps (layer 0's input is the C scalars of the species embedding).
    """

    model: str
    data: str
    split: str
    mode: str  # "fp32" or the QAT mode of the model file
    n_frames: int
    n_atoms: int
    irreps: tuple[str, ...]
    shares: NormShares
    ablation: AblationStudy
    embeddings: EmbeddingProjections


def analyze_irreps(
    model: EquivariantPotential,
    dataset: GraphDataset,
    projection: str = "auto",
    batch_size: int = 16,
    dtype: torch.dtype = torch.float64,
    model_name: str = "<memory>",
    data_name: str = "<memory>",
    split: str = "all",
) -> IrrepsAnalysis:
    """Norm shares, ablations and embedding projections of `model` over `dataset` (labelled frames)."""
    if len(dataset) == 0:
        raise ValueError(f"{data_name}: no frames to analyze")
    resolve_projection(projection)  # fail before the forward passes, not after
    degrees = model_degrees(model)
    features = capture_layer_features(model, dataset, batch_size=batch_size, dtype=dtype)
    quant = getattr(model, "quant_config", None)
    return IrrepsAnalysis(
        model=model_name,
        data=data_name,
        split=split,
        mode=quant.mode if quant is not None else "fp32",
        n_frames=len(dataset),
        n_atoms=len(features.numbers),
        irreps=tuple(str(irreps) for irreps in features.irreps),
        shares=norm_shares(features, degrees),
        ablation=ablation_study(model, dataset, batch_size=batch_size, dtype=dtype),
        embeddings=embedding_projections(features, degrees, projection),
    )


def spread_indices(n: int, count: Optional[int]) -> list[int]:
    """At most `count` of range(n), evenly spread (all of them for count None or >= n)."""
    if count is not None and count < 1:
        raise ValueError(f"--frames must be positive, got {count}")
    if count is None or count >= n:
        return list(range(n))
    return sorted(set(np.linspace(0, n - 1, count).round().astype(int).tolist()))


def analyze_model_file(
    model_path: Path,
    data_path: Path,
    split: str = "all",
    energy_unit: Optional[str] = None,
    length_unit: Optional[str] = None,
    forces_are_gradients: bool = False,
    frames: Optional[int] = 100,
    projection: str = "auto",
    batch_size: int = 16,
) -> IrrepsAnalysis:
    """analyze_irreps of a model file in float64 on data_path: 'all' frames or the model's 'test'
    frames (units and split as for `gaqmd evaluate`), at most `frames` of them, evenly spread."""
    model, metadata = load_model(model_path, dtype=torch.float64)
    selected = read_labelled_frames(
        metadata, model_path, data_path, split, energy_unit, length_unit, forces_are_gradients
    )
    selected = [selected[i] for i in spread_indices(len(selected), frames)]
    dataset = GraphDataset(selected, model.config.species, model.config.cutoff)
    return analyze_irreps(
        model,
        dataset,
        projection=projection,
        batch_size=batch_size,
        model_name=str(model_path),
        data_name=str(data_path),
        split=split,
    )
