"""Evaluate saved models on labelled files: the engine behind `gaqmd evaluate`."""

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import torch

from gaqmd.checks import EquivarianceResult, local_equivariance_error, model_energy_forces
from gaqmd.data import Frame, GraphDataset, Split, Units, read_frames
from gaqmd.model.io import load_model
from gaqmd.quant.config import QuantConfig
from gaqmd.quant.footprint import activation_bytes_per_atom, weight_bytes
from gaqmd.train.metrics import ErrorMetrics, evaluate
from gaqmd.train.setup import file_sha256


@dataclass(frozen=True)
class EvaluationRow:
    model: str
    mode: str
    metrics: ErrorMetrics
    symmetry: Optional[EquivarianceResult]  # None: not measured (lee_frames = 0)
    weight_bytes: int
    activation_bytes_per_atom: float


def _units_for(metadata: dict, data_path: Path, energy_unit, length_unit, forces_are_gradients) -> Units:
    """Explicit units win; else the training units if data_path is the model's training file; else eV/Å."""
    trained_on_this_file = metadata.get("data_sha256") == file_sha256(data_path)
    data_config = metadata.get("run_config", {}).get("data", {}) if trained_on_this_file else {}
    return Units(
        energy=energy_unit or data_config.get("energy_unit", "eV"),
        length=length_unit or data_config.get("length_unit", "A"),
        forces_are_gradients=forces_are_gradients or data_config.get("forces_are_gradients", False),
    )


def _split_indices(metadata: dict, model_path: Path, data_path: Path, split: str) -> Sequence[int]:
    if "split" not in metadata or metadata.get("data_sha256") != file_sha256(data_path):
        raise ValueError(
            f"--split {split} needs the file {model_path} was trained on; {data_path} is not it "
            "(use --split all for a file the model never saw)"
        )
    return getattr(Split.from_dict(metadata["split"]), split)


def read_labelled_frames(
    metadata: dict,
    model_path: Path,
    data_path: Path,
    split: str = "all",
    energy_unit: Optional[str] = None,
    length_unit: Optional[str] = None,
    forces_are_gradients: bool = False,
) -> list[Frame]:
    """Frames of data_path in eV/Å that a model file is judged on: 'all' of them, or the model's
    'test' or 'val' frames; units as for evaluate_model_file."""
    units = _units_for(metadata, Path(data_path), energy_unit, length_unit, forces_are_gradients)
    frames = read_frames(data_path, units=units)
    if split in ("test", "val"):
        frames = [frames[i] for i in _split_indices(metadata, Path(model_path), Path(data_path), split)]
    return frames


def evaluate_model_file(
    model_path: Path,
    data_path: Path,
    split: str = "all",
    energy_unit: Optional[str] = None,
    length_unit: Optional[str] = None,
    forces_are_gradients: bool = False,
    batch_size: int = 16,
    lee_frames: int = 10,
    lee_rotations: int = 4,
) -> EvaluationRow:
    """Errors of one model file on data_path ('all' frames or the model's 'test' frames), in float64,
    with its LEE on the first lee_frames of them and its memory footprint."""
    model, metadata = load_model(model_path, dtype=torch.float64)
    frames = read_labelled_frames(
        metadata, model_path, data_path, split, energy_unit, length_unit, forces_are_gradients
    )
    quant = QuantConfig.from_dict(metadata["quant"]) if "quant" in metadata else QuantConfig(mode="fp32")
    return evaluate_loaded(model, quant, frames, str(model_path), batch_size, lee_frames, lee_rotations)


def evaluate_loaded(
    model,
    quant: QuantConfig,
    frames: Sequence[Frame],
    label: str,
    batch_size: int = 16,
    lee_frames: int = 10,
    lee_rotations: int = 4,
) -> EvaluationRow:
    """evaluate_model_file for a model already in memory (float64, eval mode) with its QuantConfig;
    lee_frames = 0 skips the LEE."""
    if lee_frames < 0:
        raise ValueError(f"lee_frames must be 0 (no LEE) or more, got {lee_frames}")
    dataset = GraphDataset(frames, model.config.species, model.config.cutoff)
    metrics = evaluate(model, dataset, batch_size=batch_size, dtype=torch.float64)
    symmetry = None
    if lee_frames > 0:
        symmetry = local_equivariance_error(model_energy_forces(model), frames[:lee_frames], lee_rotations)
    return EvaluationRow(
        model=label,
        mode=quant.mode,
        metrics=metrics,
        symmetry=symmetry,
        weight_bytes=weight_bytes(model),
        activation_bytes_per_atom=activation_bytes_per_atom(model, quant),
    )


def format_table(rows: Sequence[EvaluationRow]) -> str:
    """One row per model: errors (meV, meV/Å), LEE (meV/Å), energy invariance (meV), footprint; "—"
    where the LEE was not measured."""
    header = (
        f"{'model':<36} {'mode':<10} {'frames':>6} {'E MAE':>8} {'F MAE':>8} {'LEE':>9} {'E inv':>9} "
        f"{'weights kB':>10} {'act B/atom':>10}"
    )
    units = f"{'':<36} {'':<10} {'':>6} {'meV':>8} {'meV/Å':>8} {'meV/Å':>9} {'meV':>9} {'':>10} {'':>10}"
    lines = [header, units, "-" * len(header)]
    for row in rows:
        m, q = row.metrics, row.symmetry
        lee, invariance = (f"{q.lee:>9.2e}", f"{q.energy_invariance:>9.2e}") if q else (f"{'—':>9}", f"{'—':>9}")
        lines.append(
            f"{row.model[-36:]:<36} {row.mode:<10} {m.n_frames:>6} {m.energy_mae:>8.2f} {m.force_mae:>8.2f} "
            f"{lee} {invariance} {row.weight_bytes / 1e3:>10.1f} {row.activation_bytes_per_atom:>10.0f}"
        )
    return "\n".join(lines)
