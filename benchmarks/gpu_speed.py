"""OpenMM CUDA-platform speed of GaqForce (docs/cuda.md) against the FP32 PyTorch model on the same
GPU through openmm.PythonForce, side by side in one run: aspirin in vacuum (µs/step) and periodic
water boxes of 3k to 100k atoms (ns/day at 0.5 fs).

Contenders (the bundled aspirin models, species H C O):
  cuda-fp32-single / cuda-fp32-mixed: GaqForce fp32 on the CUDA platform, Precision single / mixed;
  cuda-w4a8-single / cuda-w4a8-mixed: the GAQ w4a8 model (int4 weights, int8/MDDQ activations);
  cuda-w4a32-single: the same model's int4 weights with float activations (mode w4a32);
  pytorch-fp32-cuda: the FP32 PyTorch model on the GPU in an openmm.PythonForce (CUDA platform);
  cpu-fp32: GaqForce fp32 on the CPU platform (all cores), for scale, aspirin and the smallest box.
Each figure is the best of --repeats timings of --steps VerletIntegrator steps after 2 warm-up steps.
Writes gpu_speed.{json,md} into --output (default docs/results), only when run.

    python benchmarks/gpu_speed.py                         # a few minutes on an H100
    python benchmarks/gpu_speed.py --waters 1000 --output /tmp/out
"""

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests" / "gpu"))
from engine_speed import aspirin, make_context, native_description, time_steps, water_box
from rmd17_fp32 import machine

CONTENDERS = ("cuda-fp32-single", "cuda-fp32-mixed", "cuda-w4a8-single", "cuda-w4a8-mixed", "cuda-w4a32-single",
              "pytorch-fp32-cuda", "cpu-fp32")
STEP_FS = 0.5


def cuda_platform():
    """OpenMM's CUDA platform with the GaqForce plugin registered (tests/gpu/conftest.py)."""
    import ctypes

    import openmm
    from conftest import plugin_path

    from gaqmd.native import core

    core()
    platform = openmm.Platform.getPlatformByName("CUDA")
    ctypes.CDLL(str(plugin_path()), mode=ctypes.RTLD_GLOBAL).gaqmdRegisterCudaKernels()
    return platform


def w4a32_of_gaq_model():
    """The w4a8 model's description read in mode w4a32: its int4 weights, activations unquantized."""
    attributes, arrays = native_description("w4a8")
    return {**attributes, "mode": "w4a32"}, arrays


def pytorch_cuda_force(numbers, periodic: bool):
    """PythonForce of the FP32 PyTorch model evaluated on the GPU (the neighbour list on the CPU)."""
    import openmm
    import torch

    from gaqmd.data import neighbor_list
    from gaqmd.model.io import load_model
    from gaqmd.models import bundled_model
    from gaqmd.openmm.pytorch_force import ModelComputation

    class CudaComputation(ModelComputation):
        def energy_forces(self, positions, cell=None):
            pbc = (True, True, True) if self.periodic else (False, False, False)
            edge_index, shifts = neighbor_list(positions, self.cutoff, cell=cell, pbc=pbc)
            device = torch.device("cuda")
            with torch.enable_grad():
                x = torch.tensor(positions, dtype=self.dtype, device=device, requires_grad=True)
                energy = self.model(x, self.species.to(device), torch.from_numpy(edge_index).to(device),
                                    torch.from_numpy(shifts).to(device, self.dtype), self.batch.to(device), 1)[0]
                (gradient,) = torch.autograd.grad(energy, x)
            return float(energy.detach()), -gradient.detach().cpu().numpy().astype(np.float64)

    model, _ = load_model(bundled_model("aspirin_fp32"), dtype=torch.float32)
    computation = CudaComputation(model, np.asarray(numbers), torch.float32, periodic)
    computation.model = computation.model.to("cuda")
    force = openmm.PythonForce(computation)
    force.setUsesPeriodicBoundaryConditions(periodic)
    return force


def contender(name, numbers, periodic, descriptions, cuda):
    """(force, platform, properties) of a contender."""
    import openmm

    from gaqmd.openmm.force import gaq_force

    if name == "pytorch-fp32-cuda":
        return pytorch_cuda_force(numbers, periodic), cuda, {"Precision": "single"}
    if name == "cpu-fp32":
        force = gaq_force(descriptions["fp32"], atomic_numbers=list(numbers), periodic=periodic)
        return force, openmm.Platform.getPlatformByName("CPU"), {"Threads": str(os.cpu_count())}
    _, mode, precision = name.split("-")
    force = gaq_force(descriptions[mode], atomic_numbers=list(numbers), periodic=periodic)
    return force, cuda, {"Precision": precision}


def measure(label, system, descriptions, cuda, args) -> dict:
    numbers, positions, edge = system
    row = {"system": label, "atoms": len(numbers), "us_per_step": {}, "errors": {}}
    for name in CONTENDERS:
        if name == "pytorch-fp32-cuda" and len(numbers) > args.skip_pytorch_above:
            continue
        if name == "cpu-fp32" and len(numbers) > args.skip_cpu_above:
            continue
        try:
            force, platform, properties = contender(name, numbers, edge is not None, descriptions, cuda)
            context, integrator = make_context(force, numbers, positions, edge, platform, properties)
            steps = args.steps if len(numbers) < 1000 else max(5, args.steps // 10)
            row["us_per_step"][name] = 1e6 * time_steps(context, integrator, steps, args.repeats, warmup=2)
            print(f"  {label:>12} {name:>18}: {row['us_per_step'][name]:12.1f} µs/step", flush=True)
        except Exception as error:  # noqa: BLE001  (report and go on: one contender must not end the run)
            row["errors"][name] = str(error).splitlines()[0]
            print(f"  {label:>12} {name:>18}: FAILED {row['errors'][name]}", flush=True)
    row["ns_per_day"] = {k: STEP_FS * 1e-6 / (v * 1e-6) * 86400 for k, v in row["us_per_step"].items()}
    return row


def markdown(rows, device) -> str:
    header = (f"Device: {device}. Command: `python benchmarks/gpu_speed.py`. VerletIntegrator, {STEP_FS} fs; "
              "best of the repeats. cuda-w4a32 is the GAQ w4a8 model's int4 weights with float activations.")
    lines = ["# GaqForce on the CUDA platform: speed", "", header, "",
             "| system | atoms | " + " | ".join(CONTENDERS) + " | fp32 single / pytorch |",
             "|---|---|" + "---|" * len(CONTENDERS) + "---|"]
    for row in rows:
        unit_key, fmt = ("us_per_step", "{:.0f} µs") if row["system"] == "aspirin" else ("ns_per_day", "{:.2f}")
        values = row[unit_key]
        cells = [fmt.format(values[n]) if n in values else "—" for n in CONTENDERS]
        speed = row["ns_per_day"]
        ratio = (f"{speed['cuda-fp32-single'] / speed['pytorch-fp32-cuda']:.1f}x"
                 if {"cuda-fp32-single", "pytorch-fp32-cuda"} <= speed.keys() else "—")
        lines.append(f"| {row['system']} | {row['atoms']} | " + " | ".join(cells) + f" | {ratio} |")
    lines += ["", "aspirin: µs/step; water boxes: ns/day."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--waters", type=int, nargs="*", default=[1000, 3334, 10000, 33334],
                        help="water box sizes in molecules (3k to 100k atoms)")
    parser.add_argument("--steps", type=int, default=200, help="steps per timing (a tenth above 1000 atoms)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-pytorch-above", type=int, default=30000, help="atoms")
    parser.add_argument("--skip-cpu-above", type=int, default=3000, help="atoms")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "results")
    args = parser.parse_args(argv)
    import torch

    cuda = cuda_platform()
    device = f"{torch.cuda.get_device_name()} ({machine()})"
    descriptions = {"fp32": native_description("fp32"), "w4a8": native_description("w4a8"),
                    "w4a32": w4a32_of_gaq_model()}
    systems = [("aspirin", aspirin())] + [(f"water {n}", water_box(n)) for n in args.waters]
    rows = [measure(label, system, descriptions, cuda, args) for label, system in systems]
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "gpu_speed.json").write_text(json.dumps({"device": device, "rows": rows}, indent=2) + "\n")
    text = markdown(rows, device)
    (args.output / "gpu_speed.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
