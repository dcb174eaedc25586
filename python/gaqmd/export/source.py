"""One entry point for "a model" wherever the native engine needs one: a model.gaq file, a gaqmd
model or checkpoint file (.pt, lowered on the fly), a PyTorch potential, or a description."""

from pathlib import Path
from typing import Union

from gaqmd.export.lower import Description, lower_model
from gaqmd.model import EquivariantPotential

ModelSource = Union[str, Path, EquivariantPotential, Description]


def model_description(source: ModelSource) -> Description:
    """(attributes, arrays) of docs/format.md from any ModelSource.

    .gaq files are read by the XML proxy (gaqmd.openmm.force); anything else with a path is a gaqmd
    model or checkpoint file (gaqmd.model.load_model, which refuses files that would run code).
    """
    if isinstance(source, tuple):
        return source
    if isinstance(source, EquivariantPotential):
        return lower_model(source)
    path = Path(source)
    if path.suffix == ".gaq":
        from gaqmd.openmm.force import load_model_description

        return load_model_description(path)
    from gaqmd.model.io import load_model

    return lower_model(load_model(path)[0])
