"""Model files: config + weights + metadata in a torch file that loads with weights_only=True.

A model file never runs code on load: torch.load(weights_only=True) admits only tensors and plain
containers, and the config is rebuilt from a dict of numbers and strings.
"""

import os
from pathlib import Path
from typing import Any, Optional

import torch

from gaqmd.model.config import ModelConfig
from gaqmd.model.potential import EquivariantPotential

MODEL_FORMAT = "gaqmd-model"
CHECKPOINT_FORMAT = "gaqmd-checkpoint"
FORMAT_VERSION = 1


class ModelFileError(ValueError):
    """A model or checkpoint file that cannot be used; the message names the file and the problem."""


def load_payload(path: Path) -> dict[str, Any]:
    """Read a gaqmd model or checkpoint file safely and check its format and version."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for corrupt or unsafe files
        raise ModelFileError(f"{path}: not a readable gaqmd model file ({type(error).__name__}: {error})") from error
    if not isinstance(payload, dict) or payload.get("format") not in (MODEL_FORMAT, CHECKPOINT_FORMAT):
        raise ModelFileError(f"{path}: not a gaqmd model or checkpoint (missing 'format' tag)")
    if payload.get("version") != FORMAT_VERSION:
        raise ModelFileError(f"{path}: format version {payload.get('version')} is not supported (expected {FORMAT_VERSION})")
    for key in ("model_config", "model"):
        if key not in payload:
            raise ModelFileError(f"{path}: missing entry '{key}'")
    return payload


def atomic_save(payload: Any, path: Path) -> None:
    """torch.save through a temporary file, so an interrupted write never leaves a broken file."""
    path = Path(path)
    temporary = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, temporary)
    os.replace(temporary, path)


def save_model(model: EquivariantPotential, path: Path, metadata: Optional[dict[str, Any]] = None) -> None:
    """Write the model's config and weights (and JSON-like metadata) to path, atomically."""
    atomic_save(
        {
            "format": MODEL_FORMAT,
            "version": FORMAT_VERSION,
            "model_config": model.config.to_dict(),
            "model": model.state_dict(),
            "metadata": metadata or {},
        },
        Path(path),
    )


def load_model(path: Path, dtype: torch.dtype = torch.float64) -> tuple[EquivariantPotential, dict[str, Any]]:
    """Model from a model file or a training checkpoint (EMA weights if present) -> (model, metadata)."""
    payload = load_payload(path)
    try:
        config = ModelConfig.from_dict(payload["model_config"])
    except (TypeError, ValueError) as error:
        raise ModelFileError(f"{path}: invalid model_config: {error}") from error
    model = EquivariantPotential(config)
    metadata = dict(payload.get("metadata", {}))
    if "quant" in metadata:
        from gaqmd.quant import QuantConfig, prepare_qat

        prepare_qat(model, QuantConfig.from_dict(metadata["quant"]))
    model = model.to(dtype)
    # EMA shadows cover parameters only; buffers come from the raw state.
    weights = {**payload["model"], **payload.get("ema", {})}
    try:
        model.load_state_dict(weights)
    except RuntimeError as error:
        raise ModelFileError(f"{path}: weights do not fit the model config: {error}") from error
    model.eval()
    return model, metadata
