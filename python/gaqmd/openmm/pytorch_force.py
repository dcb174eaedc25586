"""A gaqmd potential as an ``openmm.PythonForce``: the PyTorch reference path inside OpenMM.

OpenMM calls the force's computation with a State (positions in nm, box vectors in nm when the
force is periodic); the computation converts to Å (gaqmd.openmm.units), builds the neighbour list
with gaqmd.data.neighbor_list (minimum image for periodic=True), evaluates the model and returns
(energy kJ/mol, forces kJ/mol/nm), exactly as gaqmd.checks.model_energy_forces does for one molecule.
The energy is the model's total energy (its readout shift already holds the per-element E0).

Errors. Bad arguments raise here, at construction: ``DataError`` for an element the model was not
trained on, ``ValueError`` for bad particle indices or a count mismatch. Errors during a force
evaluation (non-finite positions, a periodic box thinner than 2 x cutoff, a non-finite model
output) are raised inside the computation; OpenMM re-raises them from Context.getState / step as
``openmm.OpenMMException`` carrying the same message (the exception type does not survive).

Serialization. XmlSerializer pickles the computation into the XML (PythonForce's own mechanism).
The computation pickles as plain data (model config, quantization config, weights, atomic numbers,
options), so a serialized System round-trips; deserializing needs gaqmd importable and, as for any
pickle, must only be done with trusted XML.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import openmm
import torch
from openmm import app, unit

from gaqmd.data import neighbor_list, species_index
from gaqmd.model.config import ModelConfig
from gaqmd.model.io import load_model
from gaqmd.model.potential import EquivariantPotential
from gaqmd.openmm import units

if not hasattr(getattr(openmm, "PythonForce", None), "setParticles"):  # pragma: no cover - depends on OpenMM
    raise ImportError("gaqmd.openmm needs openmm.PythonForce with setParticles (OpenMM >= 8.6); "
                      f"found OpenMM {openmm.__version__}")

_DTYPES = {"float32": torch.float32, "float64": torch.float64}

AtomicNumbers = Sequence[int] | np.ndarray | app.Topology


def atomic_numbers_from_topology(topology: app.Topology, particles: Sequence[int] | None = None) -> np.ndarray:
    """(n,) int64 atomic numbers of the atoms ``particles`` (default: all) of an OpenMM Topology, in that order.

    Atoms outside ``particles`` may lack an element (virtual sites, extra particles of a solvent);
    raises ValueError naming the selected atoms without one, or indices outside the topology.
    """
    atoms = list(topology.atoms())
    indices = _check_particles(particles, len(atoms))
    selected = atoms if indices is None else [atoms[i] for i in indices]
    missing = [f"{atom.index} ({atom.name} in {atom.residue.name}{atom.residue.id})"
               for atom in selected if atom.element is None]
    if missing:
        raise ValueError(f"topology atoms without an element cannot be given to the model: {', '.join(missing[:10])}"
                         + (f" and {len(missing) - 10} more" if len(missing) > 10 else ""))
    return np.asarray([atom.element.atomic_number for atom in selected], dtype=np.int64)


def _check_particles(particles: Sequence[int] | None, num_particles: int | None) -> list[int] | None:
    if particles is None:
        return None
    values = np.asarray(particles)
    if values.ndim != 1 or (values.size and not np.issubdtype(values.dtype, np.integer)):
        raise ValueError(f"particles must be a 1-d sequence of integer particle indices, got {particles!r}")
    indices = [int(i) for i in values]
    if not indices:
        raise ValueError("particles is empty: give at least one particle index, or None for all particles")
    negative = [i for i in indices if i < 0]
    if negative:
        raise ValueError(f"particle indices must be >= 0, got {negative[:10]}")
    if len(set(indices)) != len(indices):
        repeated = sorted({i for i in indices if indices.count(i) > 1})
        raise ValueError(f"particle indices repeat: {repeated[:10]}")
    if num_particles is not None:
        outside = [i for i in indices if i >= num_particles]
        if outside:
            raise ValueError(f"particle indices {outside[:10]} out of range for a system of {num_particles} particles")
    return indices


class ModelComputation:
    """The PythonForce computation: State -> (energy kJ/mol, forces (n, 3) kJ/mol/nm) of the ML particles.

    Holds its own copy of the model (in ``dtype``, eval mode, weights frozen), so later changes to
    the caller's model do not leak into the force. Picklable as plain data (see module docstring).
    """

    def __init__(self, model: EquivariantPotential, atomic_numbers: np.ndarray, dtype: torch.dtype,
                 periodic: bool):
        self.model = _frozen_copy(model, dtype)
        self.dtype = dtype
        self.numbers = np.asarray(atomic_numbers, dtype=np.int64).copy()
        self.species = torch.from_numpy(species_index(self.numbers, model.config.species))
        self.batch = torch.zeros(len(self.numbers), dtype=torch.long)
        self.cutoff = float(model.config.cutoff)
        self.periodic = bool(periodic)

    def energy_forces(self, positions: np.ndarray, cell: np.ndarray | None = None) -> tuple[float, np.ndarray]:
        """positions (n, 3) Å, cell (3, 3) Å rows or None -> (energy eV, forces (n, 3) eV/Å)."""
        if positions.shape != (len(self.numbers), 3):
            raise ValueError(f"gaqmd PythonForce: got positions of {positions.shape[0]} particles but the force was "
                             f"built for {len(self.numbers)} atoms; pass particles=[...] for the ML subset "
                             "or atomic numbers for every particle of the System")
        if not np.isfinite(positions).all():
            bad = np.flatnonzero(~np.isfinite(positions).all(axis=1))
            raise ValueError(f"gaqmd PythonForce: non-finite positions for ML atoms {bad[:10].tolist()} "
                             f"({len(bad)} in all); the simulation has probably blown up (time step too large?)")
        if self.periodic:
            if cell is None or not np.isfinite(cell).all():
                raise ValueError(f"gaqmd PythonForce: periodic force without usable box vectors: {cell}")
            edge_index, shifts = neighbor_list(positions, self.cutoff, cell=cell, pbc=(True, True, True))
        else:
            edge_index, shifts = neighbor_list(positions, self.cutoff)
        with torch.enable_grad():
            x = torch.tensor(positions, dtype=self.dtype, requires_grad=True)
            energy = self.model(x, self.species, torch.from_numpy(edge_index), torch.from_numpy(shifts).to(self.dtype),
                                self.batch, 1)[0]
            (gradient,) = torch.autograd.grad(energy, x)
        energy_ev = float(energy.detach())
        forces = -gradient.detach().numpy().astype(np.float64)
        if not (np.isfinite(energy_ev) and np.isfinite(forces).all()):
            raise ValueError("gaqmd PythonForce: the model returned a non-finite energy or forces "
                             "(overlapping atoms?); positions were finite")
        return energy_ev, forces

    def __call__(self, state: openmm.State) -> tuple[float, np.ndarray]:
        positions = units.nm_to_angstrom(state.getPositions(asNumpy=True).value_in_unit(unit.nanometer))
        cell = None
        if self.periodic:
            cell = units.nm_to_angstrom(state.getPeriodicBoxVectors(asNumpy=True).value_in_unit(unit.nanometer))
        energy, forces = self.energy_forces(positions, cell)
        return units.ev_to_kj_per_mol(energy), units.forces_to_openmm(forces)

    # Pickled (by XmlSerializer) as plain data, not as an e3nn module graph.
    def __getstate__(self) -> dict[str, Any]:
        quant = getattr(self.model, "quant_config", None)
        return {
            "model_config": self.model.config.to_dict(),
            "quant": quant.to_dict() if quant is not None else None,
            "weights": {k: v.detach().clone() for k, v in self.model.state_dict().items()},
            "dtype": str(self.dtype).removeprefix("torch."),
            "numbers": self.numbers.tolist(),
            "periodic": self.periodic,
        }

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        model = EquivariantPotential(ModelConfig.from_dict(state["model_config"]))
        if state["quant"] is not None:
            from gaqmd.quant import QuantConfig, prepare_qat

            prepare_qat(model, QuantConfig.from_dict(state["quant"]))
        dtype = _DTYPES[state["dtype"]]
        model = model.to(dtype)
        model.load_state_dict(state["weights"])
        self.__init__(model, np.asarray(state["numbers"]), dtype, state["periodic"])


def _model_dtype(model: torch.nn.Module) -> torch.dtype:
    for parameter in model.parameters():
        if parameter.is_floating_point():
            return parameter.dtype
    return torch.get_default_dtype()


def _frozen_copy(model: EquivariantPotential, dtype: torch.dtype) -> EquivariantPotential:
    copied = copy.deepcopy(model).to(dtype).eval()
    for parameter in copied.parameters():
        parameter.requires_grad_(False)
    return copied


def _resolve_dtype(dtype: None | str | torch.dtype, model: EquivariantPotential | None = None) -> torch.dtype:
    if dtype is None and model is not None:
        return _model_dtype(model)
    if isinstance(dtype, str):
        dtype = _DTYPES.get(dtype.removeprefix("torch."), dtype)
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64 (or 'float32'/'float64'), got {dtype!r}")
    return dtype


def pytorch_force(
    model: EquivariantPotential,
    atomic_numbers: AtomicNumbers,
    particles: Sequence[int] | None = None,
    periodic: bool = False,
    *,
    dtype: None | str | torch.dtype = None,
    num_particles: int | None = None,
) -> openmm.PythonForce:
    """An openmm.PythonForce that evaluates ``model`` on the ML particles.

    atomic_numbers: the elements of the ML particles, in the order of ``particles`` (or of all
        particles of the System when particles is None); or an openmm.app.Topology describing the
        whole System, from which the elements of ``particles`` are taken.
    particles: indices of the ML particles in the System; None: every particle. Forces on the
        other particles are zero (PythonForce.setParticles).
    periodic: use the State's box vectors with the minimum image; the box must be at least
        2 x cutoff wide (otherwise each evaluation fails with the DataError's message).
    dtype: torch.float32 / torch.float64 (or 'float32' / 'float64'); None: the model's own dtype.
        The force evaluates a frozen copy of the model in this dtype; the caller's model is untouched.
    num_particles: particle count of the System, to check ``particles`` against (OpenMM 8.6.1 does
        not check PythonForce particle indices itself). Taken from the Topology when one is given.
    Raises DataError for an element not in model.config.species, ValueError for bad particles.
    """
    if isinstance(atomic_numbers, app.Topology):
        topology_size = atomic_numbers.getNumAtoms()
        if num_particles is not None and num_particles != topology_size:
            raise ValueError(f"num_particles={num_particles} but the topology has {topology_size} atoms")
        indices = _check_particles(particles, topology_size)
        numbers = atomic_numbers_from_topology(atomic_numbers, indices)
    else:
        numbers = np.asarray(atomic_numbers)
        if numbers.ndim != 1 or (numbers.size and not np.issubdtype(numbers.dtype, np.integer)):
            raise ValueError(f"atomic_numbers must be a 1-d sequence of integers or an openmm.app.Topology, "
                             f"got {atomic_numbers!r}")
        numbers = numbers.astype(np.int64)
        indices = _check_particles(particles, num_particles)
        if indices is not None and len(indices) != len(numbers):
            raise ValueError(f"{len(numbers)} atomic numbers for {len(indices)} particles: give the atomic numbers "
                             "of the ML particles, in the order of `particles` (or pass the Topology)")
        if indices is None and num_particles is not None and num_particles != len(numbers):
            raise ValueError(f"{len(numbers)} atomic numbers for a system of {num_particles} particles; "
                             "pass particles=[...] to apply the model to a subset")
    if len(numbers) == 0:
        raise ValueError("no atoms for the model")
    species_index(numbers, model.config.species)  # DataError naming unknown elements
    computation = ModelComputation(model, numbers, _resolve_dtype(dtype, model), periodic)
    force = openmm.PythonForce(computation)
    if indices is not None:
        force.setParticles(indices)
    force.setUsesPeriodicBoundaryConditions(bool(periodic))
    force.setName("gaqmd")
    return force


def pytorch_force_from_file(
    path: str | Path,
    topology_or_atomic_numbers: AtomicNumbers,
    particles: Sequence[int] | None = None,
    periodic: bool = False,
    *,
    dtype: str | torch.dtype = torch.float32,
    num_particles: int | None = None,
) -> openmm.PythonForce:
    """pytorch_force for a gaqmd model file (gaqmd.model.io.load_model; ModelFileError for a bad file).

    dtype defaults to float32, the precision the models are trained and deployed in.
    """
    torch_dtype = _resolve_dtype(dtype)
    model, _ = load_model(Path(path), dtype=torch_dtype)
    return pytorch_force(model, topology_or_atomic_numbers, particles, periodic, dtype=torch_dtype,
                         num_particles=num_particles)
