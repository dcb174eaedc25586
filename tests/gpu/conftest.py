"""GaqForce on OpenMM's CUDA platform (marker `gpu`): fixtures that load the plugin libgaqmdCUDA.so.

The plugin is found through GAQMD_CUDA_PLUGIN, next to gaqmd._core (installed wheels), or in a
build folder of this checkout (build/*/libgaqmdCUDA.so). Without OpenMM's CUDA platform
(pip install OpenMM-CUDA-13 or -12), a GPU, or the plugin, every test here is skipped with the reason.
"""

import ctypes
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def plugin_path() -> Path | None:
    from gaqmd.native import cuda_plugin_path

    return cuda_plugin_path() or next(iter(sorted(ROOT.glob("build/*/libgaqmdCUDA.so"))), None)


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
    if "CUDA" not in _core.available_platforms():  # a build-folder plugin gaqmd.native does not look for
        ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL).gaqmdRegisterCudaKernels()
    assert "CUDA" in _core.available_platforms(), "the plugin loaded but the CUDA platform has no CalcGaqForce kernel"
    return platform
