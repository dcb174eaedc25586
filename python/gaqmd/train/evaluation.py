"""Evaluate saved models on labelled files: the engine behind `gaqmd evaluate`."""

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import torch

from gaqmd.data import GraphDataset, Split, Units, read_frames
from gaqmd.model.io import load_model
from gaqmd.train.metrics import ErrorMetrics, evaluate
from gaqmd.train.setup import file_sha256


@dataclass(frozen=True)
class EvaluationRow:
    model: str
    mode: str
    metrics: ErrorMetrics


def _units_for(metadata: dict, data_path: Path, energy_unit, length_unit, forces_are_gradients) -> Units:
    """Explicit units win; else the training units if data_path is the model's training file; else eV/Å."""
    trained_on_this_file = metadata.get("data_sha256") == file_sha256(data_path)
    data_config = metadata.get("run_config", {}).get("data", {}) if trained_on_this_file else {}
    return Units(
        energy=energy_unit or data_config.get("energy_unit", "eV"),
        length=length_unit or data_config.get("length_unit", "A"),
        forces_are_gradients=forces_are_gradients or data_config.get("forces_are_gradients", False),
    )


def _test_indices(metadata: dict, model_path: Path, data_path: Path) -> Sequence[int]:
    if "split" not in metadata or metadata.get("data_sha256") != file_sha256(data_path):
        raise ValueError(
            f"--split test needs the file {model_path} was trained on; {data_path} is not it "
            "(use --split all for a file the model never saw)"
        )
    return Split.from_dict(metadata["split"]).test


def evaluate_model_file(
    model_path: Path,
    data_path: Path,
    split: str = "all",
    energy_unit: Optional[str] = None,
    length_unit: Optional[str] = None,
    forces_are_gradients: bool = False,
    batch_size: int = 16,
) -> EvaluationRow:
    """Errors of one model file on data_path ('all' frames or the model's 'test' frames), in float64."""
    model, metadata = load_model(model_path, dtype=torch.float64)
    units = _units_for(metadata, Path(data_path), energy_unit, length_unit, forces_are_gradients)
    frames = read_frames(data_path, units=units)
    if split == "test":
        frames = [frames[i] for i in _test_indices(metadata, Path(model_path), Path(data_path))]
    dataset = GraphDataset(frames, model.config.species, model.config.cutoff)
    metrics = evaluate(model, dataset, batch_size=batch_size, dtype=torch.float64)
    return EvaluationRow(model=str(model_path), mode=metadata.get("mode", "fp32"), metrics=metrics)


def format_table(rows: Sequence[EvaluationRow]) -> str:
    header = f"{'model':<44} {'mode':<6} {'frames':>6} {'E MAE (meV)':>12} {'E RMSE':>9} {'F MAE (meV/Å)':>14} {'F RMSE':>9}"
    lines = [header, "-" * len(header)]
    for row in rows:
        m = row.metrics
        lines.append(
            f"{row.model[-44:]:<44} {row.mode:<6} {m.n_frames:>6} {m.energy_mae:>12.2f} {m.energy_rmse:>9.2f} "
            f"{m.force_mae:>14.2f} {m.force_rmse:>9.2f}"
        )
    return "\n".join(lines)
