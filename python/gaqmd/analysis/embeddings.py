"""Rotation-invariant per-atom embeddings of each degree l, and their 2-D projections.

l = 0: the C scalar channels themselves; l > 0: the norm of each of the C channels' (2l+1)-vectors.
Both are unchanged when the molecule is rotated, so atoms can be compared across frames.
Projection: PHATE when the `phate` package imports (as in arXiv 2410.08131), else PCA by numpy SVD.
"""

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from gaqmd.analysis.features import LayerFeatures, degree_slices

PROJECTIONS = ("auto", "phate", "pca")


@dataclass(frozen=True)
class Projection2D:
    """coords: (atoms, 2) projection of the invariant embedding of degree `degree` after layer `layer`."""

    layer: int
    degree: int
    coords: np.ndarray


@dataclass(frozen=True)
class EmbeddingProjections:
    """method: "PHATE" or "PCA"; numbers: (atoms,) atomic numbers; panels ordered by layer, then l."""

    method: str
    numbers: np.ndarray
    panels: tuple[Projection2D, ...]


def invariant_embedding(x: np.ndarray, spans: Sequence[slice], degree: int) -> np.ndarray:
    """x (atoms, dim) e3nn features, spans: the blocks of one degree -> (atoms, channels)."""
    if degree == 0:
        return np.concatenate([x[:, span] for span in spans], axis=1)
    width = 2 * degree + 1
    norms = [np.linalg.norm(x[:, span].reshape(len(x), -1, width), axis=-1) for span in spans]
    return np.concatenate(norms, axis=1)


def phate_available() -> bool:
    try:
        import phate  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_projection(method: str) -> str:
    """'auto' | 'phate' | 'pca' -> "PHATE" or "PCA"; ValueError for 'phate' without the package."""
    if method not in PROJECTIONS:
        raise ValueError(f"unknown projection {method!r}; choose from {PROJECTIONS}")
    if method == "pca" or (method == "auto" and not phate_available()):
        return "PCA"
    if not phate_available():
        raise ValueError("projection 'phate' needs the phate package (pip install phate); use 'pca' or 'auto'")
    return "PHATE"


def pca_2d(x: np.ndarray) -> np.ndarray:
    """(n, d) -> (n, 2) scores on the two leading principal axes (zeros where d or the rank is < 2).

    Each axis's sign is fixed so that its largest loading is positive, for reproducible plots.
    """
    centred = x - x.mean(axis=0)
    _, singular, axes = np.linalg.svd(centred, full_matrices=False)
    coords = np.zeros((len(x), 2))
    for i in range(min(2, len(singular))):
        axis = axes[i] * np.sign(axes[i][np.argmax(np.abs(axes[i]))])
        coords[:, i] = centred @ axis
    return coords


def phate_2d(x: np.ndarray, seed: int = 0) -> np.ndarray:
    import phate

    return np.asarray(phate.PHATE(n_components=2, random_state=seed, verbose=0, n_jobs=1).fit_transform(x))


def embedding_projections(
    features: LayerFeatures, degrees: Sequence[int], method: str = "auto"
) -> EmbeddingProjections:
    """2-D projection of every (layer, l) invariant embedding; method as for resolve_projection."""
    name = resolve_projection(method)
    project = phate_2d if name == "PHATE" else pca_2d
    panels = []
    for k, (irreps, x) in enumerate(zip(features.irreps, features.features)):
        blocks = degree_slices(irreps)
        for l in degrees:
            if l in blocks:
                panels.append(Projection2D(layer=k, degree=l, coords=project(invariant_embedding(x, blocks[l], l))))
    return EmbeddingProjections(method=name, numbers=features.numbers, panels=tuple(panels))
