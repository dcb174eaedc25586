"""The potential, its configuration, and safe checkpoint I/O."""

from gaqmd.model.config import PRESETS, ModelConfig, model_config
from gaqmd.model.potential import EquivariantPotential, energy_and_forces

__all__ = ["PRESETS", "EquivariantPotential", "ModelConfig", "energy_and_forces", "model_config"]
