"""Structures for MD: an OpenMM Topology, positions and an optional periodic box, from PDB or XYZ."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from openmm import Vec3, app, unit


@dataclass(frozen=True)
class Structure:
    topology: app.Topology
    positions: np.ndarray  # (n, 3) nm
    box: np.ndarray | None  # (3, 3) nm, rows a, b, c; None for a non-periodic system


def _topology_from_numbers(numbers: np.ndarray, box_nm: np.ndarray | None) -> app.Topology:
    topology = app.Topology()
    chain = topology.addChain()
    residue = topology.addResidue("MOL", chain)
    for i, z in enumerate(numbers):
        element = app.Element.getByAtomicNumber(int(z))
        topology.addAtom(f"{element.symbol}{i + 1}", element, residue)
    if box_nm is not None:
        topology.setPeriodicBoxVectors([Vec3(*row) for row in box_nm] * unit.nanometer)
    return topology


def _read_xyz(path: Path) -> Structure:
    import ase.io

    atoms = ase.io.read(path, index=0)
    if atoms.pbc.any() and not atoms.pbc.all():
        raise ValueError(f"{path}: pbc={atoms.pbc.tolist()}; only fully periodic or open systems are supported")
    box = atoms.cell.array / 10.0 if atoms.pbc.all() else None
    return Structure(_topology_from_numbers(atoms.numbers, box), atoms.positions / 10.0, box)


def _read_pdb(path: Path) -> Structure:
    pdb = app.PDBFile(str(path))
    positions = np.asarray(pdb.getPositions(asNumpy=True).value_in_unit(unit.nanometer), dtype=np.float64)
    vectors = pdb.topology.getPeriodicBoxVectors()
    box = None if vectors is None else np.asarray(vectors.value_in_unit(unit.nanometer), dtype=np.float64)
    return Structure(pdb.topology, positions, box)


def read_structure(path: str | Path) -> Structure:
    """A PDB (.pdb) or any ASE-readable file (.xyz, extxyz, ...) -> Structure.

    Raises FileNotFoundError, or ValueError for an empty structure, atoms without an element, or
    non-finite coordinates.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such structure file")
    structure = _read_pdb(path) if path.suffix.lower() == ".pdb" else _read_xyz(path)
    if len(structure.positions) == 0:
        raise ValueError(f"{path}: no atoms")
    if not np.isfinite(structure.positions).all():
        raise ValueError(f"{path}: non-finite coordinates")
    missing = [atom.index for atom in structure.topology.atoms() if atom.element is None]
    if missing:
        raise ValueError(f"{path}: atoms without an element: {missing[:10]}")
    return structure
