"""GaqForce on OpenMM's CUDA platform (marker `gpu`): fixtures that load the plugin libgaqmdCUDA.so.

The plugin is found through GAQMD_CUDA_PLUGIN, next to gaqmd._core (installed wheels), or in a
build folder of this checkout (build/*/libgaqmdCUDA.so). Without OpenMM's CUDA platform
(pip install OpenMM-CUDA-13 or -12), a GPU, or the plugin, every test here is skipped with the reason.
"""

import ctypes
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def plugin_path() -> Path | None:
    if os.environ.get("GAQMD_CUDA_PLUGIN"):
        return Path(os.environ["GAQMD_CUDA_PLUGIN"])
    import gaqmd

    candidates = [Path(gaqmd.__file__).parent / "libgaqmdCUDA.so", *sorted(ROOT.glob("build/*/libgaqmdCUDA.so"))]
    return next((path for path in candidates if path.exists()), None)


@pytest.fixture(scope="session")
def cuda_platform():
    """OpenMM's CUDA platform with the CalcGaqForce kernel registered (skips when unavailable)."""
    import openmm

    from gaqmd.native import core

    _core = core()  # registers the Reference and CPU kernels
    try:
        platform = openmm.Platform.getPlatformByName("CUDA")
    except Exception:  # noqa: BLE001  (OpenMMException: no such platform)
        pytest.skip("OpenMM has no CUDA platform here (pip install OpenMM-CUDA-13)")
    path = plugin_path()
    if path is None:
        pytest.skip("libgaqmdCUDA.so is not built (cmake with OpenMM's CUDA platform installed; see docs/cuda.md)")
    library = ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
    library.gaqmdRegisterCudaKernels()
    assert "CUDA" in _core.available_platforms(), "the plugin loaded but the CUDA platform has no CalcGaqForce kernel"
    return platform
