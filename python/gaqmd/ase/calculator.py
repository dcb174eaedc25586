"""GaqCalculator: the native C++ engine (the same one GaqForce runs in OpenMM) as an ASE calculator.

Units are ASE's (Å, eV), the engine's own. Periodic cells are rotated to the lower-triangular,
reduced form the engine expects (a along x, b in the xy plane, |b_x| <= a_x/2, |c_x| <= a_x/2,
|c_y| <= b_y/2); forces are rotated back. Only fully periodic or fully open systems are supported.
"""

import numpy as np
from ase.calculators.calculator import Calculator, all_changes

from gaqmd.export.source import ModelSource, model_description


def _core():
    import openmm  # noqa: F401  (loads libOpenMM.so, which gaqmd._core links against)

    from gaqmd import _core

    return _core


def reduced_cell(cell: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """cell (3, 3) Å rows a, b, c -> (reduced lower-triangular cell, Q) with positions' = positions @ Q.T.

    The lattice is unchanged (integer combinations only), so periodic images are the same.
    Raises ValueError for a left-handed or degenerate cell.
    """
    from ase.cell import Cell

    rotated, q = Cell(cell).standard_form()
    a, b, c = (np.array(v, dtype=np.float64) for v in rotated.array)
    if min(a[0], b[1], c[2]) <= 0:
        raise ValueError(f"cell {cell.tolist()} is left-handed or degenerate; the engine needs a right-handed cell")
    c -= np.round(c[1] / b[1]) * b
    c -= np.round(c[0] / a[0]) * a
    b -= np.round(b[0] / a[0]) * a
    return np.stack([a, b, c]), q


class GaqCalculator(Calculator):
    """Energy (eV) and forces (eV/Å) of a gaqmd model on the native engine.

    model: a model.gaq file, a gaqmd model/checkpoint file, a PyTorch potential or a description
    (gaqmd.export.source). threads: engine worker threads.
    """

    implemented_properties = ["energy", "free_energy", "forces"]

    def __init__(self, model: ModelSource, threads: int = 1, **kwargs):
        super().__init__(**kwargs)
        attributes, arrays = model_description(model)
        self.engine = _core().Engine(attributes, arrays)
        self.threads = int(threads)
        self._index_of = {int(z): i for i, z in enumerate(self.engine.species)}

    def species_index(self, numbers: np.ndarray) -> np.ndarray:
        """(n,) atomic numbers -> (n,) int32 model species indices; ValueError names unknown atoms."""
        unknown = [(i, int(z)) for i, z in enumerate(numbers) if int(z) not in self._index_of]
        if unknown:
            listed = ", ".join(f"atom {i} (Z={z})" for i, z in unknown[:10])
            raise ValueError(f"the model knows elements {sorted(self._index_of)}; not {listed}")
        return np.asarray([self._index_of[int(z)] for z in numbers], dtype=np.int32)

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        positions = np.ascontiguousarray(self.atoms.positions, dtype=np.float64)
        pbc = self.atoms.pbc
        box, rotation = None, None
        if pbc.any():
            if not pbc.all():
                raise ValueError(f"pbc={pbc.tolist()}: the engine supports fully periodic or open systems only")
            box, rotation = reduced_cell(self.atoms.cell.array)
            positions = np.ascontiguousarray(positions @ rotation.T)
        energy, forces = self.engine.compute(positions, self.species_index(self.atoms.numbers), box, self.threads)
        if rotation is not None:
            forces = forces @ rotation
        self.results = {"energy": float(energy), "free_energy": float(energy), "forces": np.asarray(forces)}
