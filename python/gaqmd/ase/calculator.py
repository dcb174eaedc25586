"""GaqCalculator: the native C++ engine (the same one GaqForce runs in OpenMM) as an ASE calculator.

Units are ASE's (Å, eV), the engine's own. Periodic cells are rotated to the lower-triangular,
reduced form the engine expects (a along x, b in the xy plane, |b_x| <= a_x/2, |c_x| <= a_x/2,
|c_y| <= b_y/2); forces are rotated back. Only fully periodic or fully open systems are supported.
"""

import numpy as np
from ase.calculators.calculator import Calculator, all_changes
from ase.cell import Cell

from gaqmd.export.source import ModelSource
from gaqmd.native import NativeModel


def reduced_cell(cell: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """cell (3, 3) Å rows a, b, c -> (reduced lower-triangular cell, Q) with positions' = positions @ Q.T.

    The lattice is unchanged (integer combinations only), so periodic images are the same.
    Raises ValueError for a left-handed or degenerate cell.
    """
    rotated, q = Cell(cell).standard_form()
    a, b, c = (np.array(v, dtype=np.float64) for v in rotated.array)
    if min(a[0], b[1], c[2]) <= 0:
        raise ValueError(f"cell {np.asarray(cell).tolist()} is left-handed or degenerate; the engine needs a "
                         "right-handed cell")
    c -= np.round(c[1] / b[1]) * b
    c -= np.round(c[0] / a[0]) * a
    b -= np.round(b[0] / a[0]) * a
    return np.stack([a, b, c]), q


class GaqCalculator(Calculator):
    """Energy (eV) and forces (eV/Å) of a gaqmd model on the native engine (threads: worker threads)."""

    implemented_properties = ["energy", "free_energy", "forces"]

    def __init__(self, model: ModelSource, threads: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.model = NativeModel(model, threads)

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        positions, pbc = self.atoms.positions, self.atoms.pbc
        box, rotation = None, None
        if pbc.any():
            if not pbc.all():
                raise ValueError(f"pbc={pbc.tolist()}: the engine supports fully periodic or open systems only")
            box, rotation = reduced_cell(self.atoms.cell.array)
            positions = positions @ rotation.T
        energy, forces = self.model.compute(positions, self.atoms.numbers, box)
        if rotation is not None:
            forces = forces @ rotation
        self.results = {"energy": energy, "free_energy": energy, "forces": forces}
