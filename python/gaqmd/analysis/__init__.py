"""Analyses of trained potentials. irreps: how much each irrep degree l carries (arXiv 2410.08131).

analyze_model_file / analyze_irreps -> IrrepsAnalysis (norm shares, ablations, embedding maps);
format_table / write_report turn it into the printed table and the files of `gaqmd analyze irreps`.
"""

from .ablation import Ablation, AblationStudy, ablation_study, evaluate_ablated, zeroed_degrees
from .embeddings import EmbeddingProjections, Projection2D, embedding_projections, invariant_embedding, pca_2d
from .features import LayerFeatures, NormShares, capture_layer_features, degree_slices, norm_shares
from .irreps import IrrepsAnalysis, analyze_irreps, analyze_model_file
from .report import analysis_to_dict, format_markdown, format_table, write_report

__all__ = [
    "Ablation",
    "AblationStudy",
    "EmbeddingProjections",
    "IrrepsAnalysis",
    "LayerFeatures",
    "NormShares",
    "Projection2D",
    "ablation_study",
    "analysis_to_dict",
    "analyze_irreps",
    "analyze_model_file",
    "capture_layer_features",
    "degree_slices",
    "embedding_projections",
    "evaluate_ablated",
    "format_markdown",
    "format_table",
    "invariant_embedding",
    "norm_shares",
    "pca_2d",
    "write_report",
    "zeroed_degrees",
]
