"""Run configuration (data, model, training) as frozen dataclasses, read from YAML with overrides."""

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gaqmd.config import config_from_mapping
from gaqmd.model.config import PRESETS


@dataclass(frozen=True)
class DataConfig:
    """Where the labelled frames come from and how they are split. Units name the file's units."""

    path: str
    energy_unit: str = "eV"
    length_unit: str = "A"
    forces_are_gradients: bool = False
    energy_key: str = "energy"
    forces_key: str = "forces"
    atomic_energies: str = "fit"  # "fit" (least squares on the training frames) or an isolated-atom file
    n_train: int = 850
    n_val: int = 50
    n_test: int | None = None  # None: every remaining frame
    split_seed: int = 0


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings. Loss = w_E * mean((dE/N)^2) + w_F * mean(dF^2), eV and eV/Å."""

    epochs: int = 300
    batch_size: int = 5
    lr: float = 5e-3
    weight_decay: float = 0.0
    # "cosine": linear warm-up, then cosine to min_lr_ratio * lr over the epochs or the max_minutes
    # budget, whichever runs out first; "plateau": halve on a validation force MAE plateau.
    schedule: str = "cosine"
    warmup_epochs: int = 5
    min_lr_ratio: float = 0.01
    plateau_factor: float = 0.5
    plateau_patience: int = 10
    # Learning-rate multiplier of activation-quantizer scales (QAT). Adam moves every parameter by
    # about lr per step whatever its size, and these scales are ~1e-3..1e-1.
    quantizer_lr_factor: float = 0.01
    energy_weight: float = 1.0
    force_weight: float = 10.0
    ema_decay: float = 0.99
    early_stopping_patience: int = 60  # epochs without a better validation force MAE
    max_minutes: float | None = None  # wall-time budget; the run stops cleanly when it is spent
    dtype: str = "float32"
    seed: int = 0


@dataclass(frozen=True)
class RunConfig:
    data: DataConfig
    train: TrainConfig = field(default_factory=TrainConfig)
    model: Mapping[str, Any] = field(default_factory=dict)  # overrides of ModelConfig, minus species
    preset: str | None = "small"
    output: str = "runs/default"

    def to_dict(self) -> dict[str, Any]:
        return {
            "data": dataclasses.asdict(self.data),
            "train": dataclasses.asdict(self.train),
            "model": dict(self.model),
            "preset": self.preset,
            "output": self.output,
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "RunConfig":
        unknown = set(values) - {"data", "train", "model", "preset", "output"}
        if unknown:
            raise ValueError(f"unknown top-level config keys {sorted(unknown)}")
        if "data" not in values:
            raise ValueError("config needs a 'data' section with at least 'path'")
        preset = values.get("preset", "small")
        if preset is not None and preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; choose from {sorted(PRESETS)}")
        return cls(
            data=config_from_mapping(DataConfig, values["data"], "keys in 'data'"),
            train=config_from_mapping(TrainConfig, values.get("train") or {}, "keys in 'train'"),
            model=dict(values.get("model") or {}),
            preset=preset,
            output=str(values.get("output", "runs/default")),
        )


def apply_overrides(values: dict[str, Any], assignments: Sequence[str]) -> dict[str, Any]:
    """Apply 'section.key=value' strings (value parsed as YAML) to a nested config dict."""
    for assignment in assignments:
        key, sep, raw = assignment.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects key=value, got {assignment!r}")
        *parents, leaf = key.split(".")
        node = values
        for parent in parents:
            node = node.setdefault(parent, {})
            if not isinstance(node, dict):
                raise ValueError(f"--set {key}: '{parent}' is not a section")
        node[leaf] = yaml.safe_load(raw)
    return values


def load_run_config(path: Path, preset: str | None = None, assignments: Sequence[str] = ()) -> RunConfig:
    """Read a YAML run config; --preset and --set override what the file says."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    values = yaml.safe_load(path.read_text()) or {}
    if not isinstance(values, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    if preset is not None:
        values["preset"] = preset
    apply_overrides(values, assignments)
    return RunConfig.from_dict(values)


def save_run_config(config: RunConfig, path: Path) -> None:
    Path(path).write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
