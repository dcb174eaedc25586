"""Prints CUDA-vs-Reference errors of GaqForce for every model of test_cuda_platform.MODELS and every
precision, on aspirin in vacuum and the 125-atom triclinic cell: the figures behind the GPU tests'
pass/fail, for docs/cuda.md. Run on a machine with OpenMM's CUDA platform (cuda/gpu_session.sh).

    python tests/gpu/report_errors.py [--output errors.json]
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import openmm

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import test_cuda_platform as cases
from conftest import plugin_path


def cuda_platform():
    import ctypes

    from gaqmd.native import core

    core()
    platform = openmm.Platform.getPlatformByName("CUDA")
    ctypes.CDLL(str(plugin_path()), mode=ctypes.RTLD_GLOBAL).gaqmdRegisterCudaKernels()
    return platform


def errors(cuda, reference):
    (e, f), (e_ref, f_ref) = cuda, reference
    return abs(e - e_ref) / abs(e_ref), float(np.sqrt(np.mean((f - f_ref) ** 2) / np.mean(f_ref**2)))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)
    from gaqmd.data import read_frames

    data = HERE.parent / "data" / "rmd17"
    ethanol = read_frames(data / "train_1000.xyz", index="0:4")
    aspirin = read_frames(data / "aspirin_1000.xyz", index="0:1")[0]
    systems = {"aspirin": (aspirin.numbers, aspirin.positions, None), "cell125": cases.dense_cell(5, 2.2)}
    cuda, reference_platform = cuda_platform(), openmm.Platform.getPlatformByName("Reference")
    rows = []
    print(f"{'model':32s} {'system':8s} {'precision':9s} {'energy rel':>11s} {'force rel RMS':>14s}")
    for name in cases.MODELS:
        model = cases.description(name, ethanol)
        for label, (numbers, positions, box) in systems.items():
            reference = cases.energy_forces(cases.make_context(model, numbers, positions, reference_platform, box=box))
            for precision in ("single", "mixed", "double"):
                context = cases.make_context(model, numbers, positions, cuda, {"Precision": precision}, box=box)
                energy_error, force_error = errors(cases.energy_forces(context), reference)
                rows.append({"model": name, "system": label, "precision": precision,
                             "energy_rel": energy_error, "force_rel_rms": force_error})
                print(f"{name:32s} {label:8s} {precision:9s} {energy_error:11.2e} {force_error:14.2e}", flush=True)
    if args.output:
        args.output.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
