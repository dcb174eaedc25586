"""The native C++ engine from Python: one model, energies and forces of molecules or periodic cells.

Used by the ASE calculator and the checks; OpenMM runs the same engine through GaqForce.
"""

import ctypes
import functools
import os
from pathlib import Path

import numpy as np

from gaqmd.data import species_index
from gaqmd.export.source import ModelSource, model_description


@functools.cache
def core():
    """The compiled module gaqmd._core (imported after openmm, whose libOpenMM.so it links against),
    with the CalcGaqForce kernel registered on Reference and CPU, and on CUDA where the plugin
    libgaqmdCUDA.so and OpenMM's CUDA platform are both installed (see cuda_plugin_path)."""
    import openmm

    from gaqmd import _core

    _core.register_kernels()
    platforms = {openmm.Platform.getPlatform(k).getName() for k in range(openmm.Platform.getNumPlatforms())}
    plugin = cuda_plugin_path()
    if plugin is not None and "CUDA" in platforms:
        ctypes.CDLL(str(plugin), mode=ctypes.RTLD_GLOBAL).gaqmdRegisterCudaKernels()
    return _core


def cuda_plugin_path() -> Path | None:
    """libgaqmdCUDA.so from $GAQMD_CUDA_PLUGIN, else next to the package (installed builds), else None."""
    if os.environ.get("GAQMD_CUDA_PLUGIN"):
        return Path(os.environ["GAQMD_CUDA_PLUGIN"])
    installed = Path(__file__).parent / "libgaqmdCUDA.so"
    return installed if installed.exists() else None


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
