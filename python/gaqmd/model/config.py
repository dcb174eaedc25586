"""Model hyperparameters (DESIGN §3) and the named presets."""

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gaqmd.config import config_from_mapping


@dataclass(frozen=True)
class ModelConfig:
    """Hyperparameters of the equivariant potential. Lengths in Å."""

    species: tuple[int, ...]  # atomic numbers, in the order of the model's species index
    cutoff: float = 5.0
    num_basis: int = 8  # K, Bessel functions
    cutoff_p: int = 6  # polynomial envelope exponent
    channels: int = 32  # C, multiplicity of every irrep
    l_max: int = 1
    num_layers: int = 3  # T
    radial_hidden: int = 64  # H
    attention: bool = False
    attention_dim: int = 16
    readout_hidden: int = 16
    avg_num_neighbors: float = 10.0  # normalizes the neighbour sum; set from training data

    def __post_init__(self):
        if self.l_max not in (1, 2):
            raise ValueError(f"l_max must be 1 or 2, got {self.l_max}")
        if self.cutoff <= 0:
            raise ValueError(f"cutoff must be positive, got {self.cutoff} Å")
        if len(set(self.species)) != len(self.species) or not self.species:
            raise ValueError(f"species must be a non-empty list of distinct atomic numbers, got {self.species}")
        object.__setattr__(self, "species", tuple(int(z) for z in self.species))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "ModelConfig":
        return config_from_mapping(cls, values, "model options")


PRESETS: dict[str, dict[str, Any]] = {
    "small": {"channels": 32, "l_max": 1, "num_layers": 3, "radial_hidden": 64},
    "medium": {"channels": 64, "l_max": 2, "num_layers": 4, "radial_hidden": 64},
}


def model_config(species, preset: str | None = None, **overrides) -> ModelConfig:
    """ModelConfig from a preset name plus explicit overrides (overrides win)."""
    values: dict[str, Any] = {}
    if preset is not None:
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; choose from {sorted(PRESETS)}")
        values.update(PRESETS[preset])
    values.update(overrides)
    return ModelConfig.from_dict({"species": tuple(species), **values})
