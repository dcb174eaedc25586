"""Compiles the generated CUDA kernel source with NVRTC, as CudaContext::createModule will at run time.

No GPU is needed: NVRTC only translates to PTX. The source gets the preamble OpenMM 8.6 puts in front
of a module (its #defines, then the real/mixed typedefs) and OpenMM's compiler options (the arch and
--use_fast_math; NVRTC's default C++17), for single, mixed and double precision and compute
capabilities 8.0 and 9.0.

Usage: python nvrtc_check.py KERNELS.cu LIBNVRTC.so
(KERNELS.cu: build/.../gaqmd_cuda/gaqKernelsAll.cu; libnvrtc: e.g. from the nvidia-cuda-nvrtc wheel.)
"""

import ctypes
import sys
from pathlib import Path

PRECISIONS = {  # name: (real, mixed, posq)
    "single": ("float", "float", "float4"),
    "mixed": ("float", "double", "float4"),
    "double": ("double", "double", "double4"),
}
MODEL_SIZES = {"GAQ_MAX_HIDDEN": "64", "GAQ_MAX_BASIS": "8"}


def preamble(real: str, mixed: str, posq: str) -> str:
    defines = {"GAQ_REAL": real, "GAQ_MIXED": mixed, "GAQ_POSQ": posq, **MODEL_SIZES}
    lines = ["// Compilation Options: "] + [f"#define {name} {value}" for name, value in defines.items()]
    for kind, base in (("real", real), ("mixed", mixed)):
        lines += [f"typedef {base} {kind};"] + [f"typedef {base}{n} {kind}{n};" for n in (2, 3, 4)]
    return "\n".join(lines) + "\n"


def compile_ptx(nvrtc, source: str, arch: str) -> tuple[bool, str]:
    program = ctypes.c_void_p()
    status = nvrtc.nvrtcCreateProgram(ctypes.byref(program), source.encode(), b"gaqKernels.cu", 0, None, None)
    if status != 0:
        return False, f"nvrtcCreateProgram failed ({status})"
    options = [f"-arch=compute_{arch}".encode(), b"--use_fast_math"]  # OpenMM 8.6's options
    array = (ctypes.c_char_p * len(options))(*options)
    status = nvrtc.nvrtcCompileProgram(program, len(options), array)
    size = ctypes.c_size_t()
    nvrtc.nvrtcGetProgramLogSize(program, ctypes.byref(size))
    log = ctypes.create_string_buffer(size.value)
    nvrtc.nvrtcGetProgramLog(program, log)
    nvrtc.nvrtcDestroyProgram(ctypes.byref(program))
    return status == 0, log.value.decode(errors="replace")


def main(kernels: Path, library: Path) -> int:
    nvrtc = ctypes.CDLL(str(library))
    source = kernels.read_text()
    failures = 0
    for name, types in PRECISIONS.items():
        for arch in ("80", "90"):
            ok, log = compile_ptx(nvrtc, preamble(*types) + source, arch)
            print(f"nvrtc {name:6s} compute_{arch}: {'ok' if ok else 'FAILED'}")
            if log.strip():
                print(log)
            failures += not ok
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
