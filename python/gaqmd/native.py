"""The native C++ engine from Python: one model, energies and forces of molecules or periodic cells.

Used by the ASE calculator and the checks; OpenMM runs the same engine through GaqForce.
"""

import numpy as np

from gaqmd.data import species_index
from gaqmd.export.source import ModelSource, model_description


def core():
    """The compiled module gaqmd._core (imported after openmm, whose libOpenMM.so it links against)."""
    import openmm  # noqa: F401

    from gaqmd import _core

    return _core


class NativeModel:
    """A model description loaded into the engine. Units: Å, eV, eV/Å.

    model: a model.gaq file, a gaqmd model/checkpoint file, a PyTorch potential or a description.
    """

    def __init__(self, model: ModelSource, threads: int = 1):
        attributes, arrays = model_description(model)
        self.mode = attributes["mode"]
        self.engine = core().Engine(attributes, arrays)
        self.threads = int(threads)
        self.species = tuple(int(z) for z in self.engine.species)
        self.cutoff = float(self.engine.cutoff)

    def species_index(self, numbers) -> np.ndarray:
        """(n,) atomic numbers -> (n,) int32 model species indices; DataError names unknown elements."""
        return species_index(numbers, self.species).astype(np.int32)

    def compute(self, positions, numbers, box=None) -> tuple[float, np.ndarray]:
        """positions (n, 3) Å, numbers (n,), box (3, 3) Å in reduced form or None -> (E eV, F (n, 3) eV/Å)."""
        positions = np.ascontiguousarray(positions, dtype=np.float64)
        box = None if box is None else np.ascontiguousarray(box, dtype=np.float64)
        energy, forces = self.engine.compute(positions, self.species_index(numbers), box, self.threads)
        return float(energy), np.asarray(forces)

    def __call__(self, positions, numbers) -> tuple[float, np.ndarray]:
        """gaqmd.checks' EnergyForces protocol: one non-periodic molecule."""
        return self.compute(positions, numbers)
