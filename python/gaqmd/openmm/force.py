"""GaqForce: a gaqmd model on the native engine as an ordinary ``openmm.Force`` (DESIGN §5).

The force is built in C++ (gaqmd._core) and handed over as its XML, which
``openmm.XmlSerializer.deserialize`` turns into a SWIG ``openmm.Force``; ``system.addForce``,
``copy.deepcopy`` and XmlSerializer then treat it like any other OpenMM force. It runs on the
Reference platform (one thread) and the CPU platform (the platform's ``Threads`` property).

A model file (``model.gaq``) is the XML of a GaqForce without particles; its model is the flat
description of docs/format.md: ``(attributes: dict[str, str], arrays: dict[str, np.ndarray])``.
Reading one never runs code.

Units: OpenMM's outside (nm, kJ/mol), the engine's inside (Å, eV); C++ converts in one place
(cpp/include/gaqmd/internal/Units.h, the same constants as gaqmd.openmm.units).

Errors: bad arguments raise ValueError naming the problem (unknown element: the particle and
element; subset index out of range or repeated; invalid model). Problems found while OpenMM
evaluates the force (non-finite positions, a periodic box thinner than 2 x cutoff) raise
``openmm.OpenMMException`` from Context.getState / step, naming the particle or the box.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import openmm  # loads libOpenMM.so, which gaqmd._core links against: keep it before _core
from openmm import app

from gaqmd.native import core

_core = core()  # CalcGaqForce registered on every platform gaqmd was built for

Description = tuple[dict[str, str], dict[str, np.ndarray]]
ModelSource = str | Path | Description


class GaqFileError(ValueError):
    """A model.gaq file that cannot be read; the message names the file and the problem."""


def load_model_description(path: str | Path) -> Description:
    """(attributes, arrays) of the model in a model.gaq file (arrays: numpy, dtypes as stored).

    Raises FileNotFoundError for a missing file and GaqFileError for a file that is not a GaqForce
    XML document, has an unsupported version, or holds a truncated or corrupted array.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such model file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise GaqFileError(f"{path}: not a GaqForce XML file (not UTF-8 text: {error})") from error
    try:
        return _core.model_from_xml(text)
    except ValueError as error:
        raise GaqFileError(f"{path}: {error}") from error


def save_model(path: str | Path, attributes: Mapping[str, str], arrays: Mapping[str, np.ndarray],
               *, check: bool = True) -> Path:
    """Write a model description as a model.gaq file (atomically) and return its path.

    check: build the engine once first, so an invalid description raises ValueError here instead of
    when a Context is created.
    """
    path = Path(path)
    xml = _core.force_xml(_attributes(attributes), _arrays(arrays), [], None, False, check)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(xml, encoding="utf-8")
    os.replace(temporary, path)
    return path


def gaq_force(model: ModelSource, topology: app.Topology | None = None,
              atomic_numbers: Sequence[int] | None = None, subset: Sequence[int] | None = None,
              periodic: bool | None = None) -> openmm.Force:
    """A GaqForce (SWIG ``openmm.Force``) evaluating ``model`` on the particles of a System.

    model: a model.gaq path, a description ``(attributes, arrays)``, or anything
        gaqmd.export.source.model_description accepts (a gaqmd model file, a PyTorch potential).
    topology / atomic_numbers: exactly one; they give one element per particle of the System.
        Topology atoms without an element (virtual sites) get 0 and must stay outside the subset.
    subset: System indices of the ML particles (None: all); the others get no force from it.
    periodic: use the Context's box vectors; None: whether the topology has a box (False for
        atomic_numbers). The box must be at least 2 x cutoff high along each axis.
    """
    attributes, arrays = _description(model)
    numbers = _atomic_numbers(topology, atomic_numbers, subset)
    if periodic is None:
        periodic = topology is not None and topology.getPeriodicBoxVectors() is not None
    indices = None if subset is None else _indices(subset)
    xml = _core.force_xml(_attributes(attributes), _arrays(arrays), numbers, indices, bool(periodic), True)
    return openmm.XmlSerializer.deserialize(xml)


def _description(model: ModelSource) -> Description:
    if isinstance(model, tuple):
        if len(model) != 2:
            raise ValueError("a model description is a pair (attributes, arrays)")
        return model
    if isinstance(model, (str, Path)) and Path(model).suffix == ".gaq":
        return load_model_description(model)
    from gaqmd.export.source import model_description  # imports torch: only when needed

    return model_description(model)


def _atomic_numbers(topology, atomic_numbers, subset) -> list[int]:
    if (topology is None) == (atomic_numbers is None):
        raise ValueError("give exactly one of topology= and atomic_numbers=")
    if topology is not None:
        atoms = list(topology.atoms())
        selected = range(len(atoms)) if subset is None else _indices(subset)
        missing = [f"{i} ({atoms[i].name} in {atoms[i].residue.name}{atoms[i].residue.id})"
                   for i in selected if 0 <= i < len(atoms) and atoms[i].element is None]
        if missing:
            raise ValueError(f"topology atoms without an element cannot be given to the model: {', '.join(missing[:10])}")
        return [0 if atom.element is None else int(atom.element.atomic_number) for atom in atoms]
    values = np.asarray(atomic_numbers)
    if values.ndim != 1 or not (values.size == 0 or np.issubdtype(values.dtype, np.integer)):
        raise ValueError(f"atomic_numbers must be a 1-d sequence of integers, got {atomic_numbers!r}")
    return [int(z) for z in values]


def _indices(subset: Sequence[int]) -> list[int]:
    values = np.asarray(subset)
    if values.ndim != 1 or not (values.size == 0 or np.issubdtype(values.dtype, np.integer)):
        raise ValueError(f"subset must be a 1-d sequence of particle indices, got {subset!r}")
    return [int(i) for i in values]


def _attributes(attributes: Mapping[str, str]) -> dict[str, str]:
    wrong = [name for name, value in attributes.items() if not isinstance(value, str)]
    if wrong:
        raise ValueError(f"model attributes must be strings (docs/format.md); not: {wrong[:10]}")
    return dict(attributes)


def _arrays(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Native byte order (the format is little-endian; this machine is too), C order, shapes kept."""
    return {name: np.asarray(value, dtype=np.asarray(value).dtype.newbyteorder("="), order="C")
            for name, value in arrays.items()}
