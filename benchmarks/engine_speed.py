"""OpenMM CPU-platform speed: the native GaqForce (fp32, w4a32, w4a8 with a float and an int8 radial basis)
through openmm.PythonForce, side by side in one run, on aspirin in vacuum and periodic water boxes.

All contenders use the same model hyperparameters (the bundled aspirin models: species H, C, O) and
the same threads (CPU platform "Threads" = torch threads = --threads). Each measurement is the
best of --repeats timings of --steps VerletIntegrator steps (0.5 fs) after a warm-up step; the
water boxes are lattices of rigid-geometry water at 1 g/cm^3 (their dynamics are irrelevant here:
a few steps from the lattice). Writes docs/results/engine_speed.{md,json}.

    python benchmarks/engine_speed.py                    # ~10 min on 2 cores
    python benchmarks/engine_speed.py --waters 216 --skip-pytorch-above 3000
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from rmd17_fp32 import machine

DOCS = ROOT / "docs" / "results"
WATER_PER_A3 = 0.0334  # molecules per Å^3 at 1 g/cm^3
BAR_SPEEDUP = 10.0  # engine vs PyTorch path on aspirin (issue 4)
LINEAR_EXPONENT = 1.1  # cost ∝ atoms^k counts as linear up to this k (caches make small boxes cheaper per atom)
ENGINE_MODES = ("fp32", "fp32-table", "w4a32", "w4a8", "w4a8-int8-basis")
CONTENDERS = ("pytorch-fp32", *(f"engine-{mode}" for mode in ENGINE_MODES))


def water_box(n_waters: int, seed: int = 0):
    """(numbers (3n,), positions (3n, 3) Å, box edge Å): waters on a cubic lattice, random orientations."""
    from scipy.spatial.transform import Rotation

    per_side = int(np.ceil(n_waters ** (1 / 3)))
    edge = (n_waters / WATER_PER_A3) ** (1 / 3)
    spacing = edge / per_side
    molecule = np.array([[0.0, 0.0, 0.0], [0.9572, 0.0, 0.0], [-0.2400, 0.9266, 0.0]])
    rotations = Rotation.random(n_waters, random_state=seed).as_matrix()
    grid = np.stack(np.meshgrid(*[np.arange(per_side)] * 3, indexing="ij"), -1).reshape(-1, 3)[:n_waters]
    centres = (grid + 0.5) * spacing
    positions = (centres[:, None, :] + molecule @ rotations.transpose(0, 2, 1)).reshape(-1, 3)
    return np.tile([8, 1, 1], n_waters), positions, edge


def aspirin():
    import ase.io

    frame = ase.io.read(ROOT / "tests" / "data" / "rmd17" / "aspirin_1000.xyz", index=0)
    return frame.numbers, frame.positions, None


TABLE_POINTS = 2048  # tabulated radial mode (docs/format.md): forces within 2.3e-7 relative RMS of exact


def native_description(mode: str):
    """Model descriptions of the bundled aspirin models in each engine mode ("fp32-table": fp32 with
    the tabulated radial MLP; "w4a8-int8-basis": the FP32 model quantized as W4A8 with an int8 radial
    basis, calibrated on 40 training frames, a speed contender only)."""
    from gaqmd.export import lower_model
    from gaqmd.model.io import load_model
    from gaqmd.models import bundled_model
    from gaqmd.quant import QuantConfig, prepare_qat

    if mode == "w4a8":
        return lower_model(load_model(bundled_model("aspirin_w4a8"))[0])
    model, metadata = load_model(bundled_model("aspirin_fp32"))
    if mode == "w4a32":
        prepare_qat(model, QuantConfig(mode="w4a32"))
    if mode == "w4a8-int8-basis":
        calibrated_int8_basis(model, metadata)
    attributes, arrays = lower_model(model)
    if mode == "fp32-table":
        attributes["radial_table_points"] = str(TABLE_POINTS)
    return attributes, arrays


def calibrated_int8_basis(model, metadata) -> None:
    import itertools

    import torch

    from gaqmd.quant import QuantConfig, calibrate, prepare_qat
    from gaqmd.train.config import DataConfig
    from gaqmd.train.setup import prepare_data

    data = prepare_data(DataConfig(**metadata["run_config"]["data"]), model.config.cutoff, model.config.species)
    prepare_qat(model, QuantConfig(mode="w4a8", edge_basis="int8", scale_init="max"))
    calibrate(model, itertools.islice(data.train.batches(5), 8), torch.float64)
    model.eval()


def make_context(force, numbers, positions, edge, platform, properties: dict):
    """Context of a System holding only `force`: positions (n, 3) Å, edge the cubic box (Å) or None,
    VerletIntegrator at 0.5 fs on `platform` (an openmm.Platform) with its properties."""
    import openmm
    from openmm import app, unit

    system = openmm.System()
    for z in numbers:
        system.addParticle(app.Element.getByAtomicNumber(int(z)).mass)
    if edge is not None:
        system.setDefaultPeriodicBoxVectors(*(openmm.Vec3(*row) for row in np.eye(3) * edge / 10.0))
    system.addForce(force)
    integrator = openmm.VerletIntegrator(0.5 * unit.femtosecond)
    context = openmm.Context(system, integrator, platform, properties)
    context.setPositions(positions / 10.0)
    return context, integrator


def time_steps(context, integrator, steps: int, repeats: int, warmup: int = 1) -> float:
    """Best seconds per step over repeats, after `warmup` steps; getState(getEnergy) waits for an
    asynchronous (GPU) platform to finish before the clock starts and stops."""
    integrator.step(warmup)
    context.getState(getEnergy=True)
    best = float("inf")
    for _ in range(repeats):
        begin = time.perf_counter()
        integrator.step(steps)
        context.getState(getEnergy=True)
        best = min(best, (time.perf_counter() - begin) / steps)
    return best


def contender_force(name: str, numbers, periodic: bool, descriptions):
    from gaqmd.openmm.force import gaq_force

    if name == "pytorch-fp32":
        from gaqmd.models import bundled_model
        from gaqmd.openmm.pytorch_force import pytorch_force_from_file

        return pytorch_force_from_file(bundled_model("aspirin_fp32"), numbers, periodic=periodic)
    return gaq_force(descriptions[name.removeprefix("engine-")], atomic_numbers=list(numbers), periodic=periodic)


def measure_system(label: str, system, descriptions, args) -> dict:
    import openmm

    numbers, positions, edge = system
    row = {"system": label, "atoms": len(numbers), "ms_per_step": {}}
    for name in CONTENDERS:
        if name == "pytorch-fp32" and len(numbers) > args.skip_pytorch_above:
            continue
        force = contender_force(name, numbers, edge is not None, descriptions)
        context, integrator = make_context(force, numbers, positions, edge, openmm.Platform.getPlatformByName("CPU"),
                                           {"Threads": str(args.threads)})
        steps = max(1, args.steps if len(numbers) < 1000 else args.steps // 10)
        row["ms_per_step"][name] = 1e3 * time_steps(context, integrator, steps, args.repeats)
        print(f"  {label:>14} {name:>13}: {row['ms_per_step'][name]:9.3f} ms/step", flush=True)
    row["ns_per_day"] = {k: 0.5e-6 / (v * 1e-3) * 86400 for k, v in row["ms_per_step"].items()}
    return row


def markdown(rows: list[dict], run: dict) -> str:
    names = list(CONTENDERS)
    lines = ["# Native engine speed in OpenMM (CPU platform)", "",
             f"Machine: {run['machine']}; threads: {run['threads']}. Command: `{run['command']}`. ns/day at 0.5 fs "
             f"(VerletIntegrator), best of {run['repeats']}.", "",
             f"engine-fp32-table: the tabulated radial MLP ({TABLE_POINTS} knots; forces within 2.3e-7 relative RMS "
             "of the exact mode, docs/format.md).", "",
             "engine-w4a8: the bundled GAQ model (radial basis float); engine-w4a8-int8-basis: the FP32 model "
             "quantized as W4A8 with an int8 radial basis (calibrated on 40 training frames; a speed contender "
             "only), whose radial MLP the engine tabulates per basis code vector (docs/openmm.md).", "",
             "| system | atoms | " + " | ".join(names) + " | engine-fp32 / pytorch | table / pytorch | "
             "w4a8 / fp32 engine | w4a8-int8-basis / fp32 engine |",
             "|---|---|" + "---|" * len(names) + "---|---|---|---|"]
    for row in rows:
        speed = row["ns_per_day"]
        cells = [f"{speed[n]:.3f}" if n in speed else "—" for n in names]
        ratio, table = (f"{speed[n] / speed['pytorch-fp32']:.1f}x" if "pytorch-fp32" in speed else "—"
                        for n in ("engine-fp32", "engine-fp32-table"))
        w4a8 = [f"{speed[n] / speed['engine-fp32']:.2f}x" if n in speed else "—"
                for n in ("engine-w4a8", "engine-w4a8-int8-basis")]
        lines.append(f"| {row['system']} | {row['atoms']} | " + " | ".join(cells)
                     + f" | {ratio} | {table} | {' | '.join(w4a8)} |")
    aspirin_row = next((row for row in rows if row["system"] == "aspirin"), None)
    if aspirin_row is not None and "pytorch-fp32" in aspirin_row["ns_per_day"]:
        speed = aspirin_row["ns_per_day"]
        best = max(speed["engine-fp32"], speed["engine-fp32-table"]) / speed["pytorch-fp32"]
        exact = speed["engine-fp32"] / speed["pytorch-fp32"]
        lines += ["", f"Bar (issue 4): engine ≥ {BAR_SPEEDUP:g}x the PyTorch path on aspirin: exact mode {exact:.1f}x "
                  f"({'met' if exact >= BAR_SPEEDUP else 'missed'}), tabulated radial mode {best:.1f}x "
                  f"({'met' if best >= BAR_SPEEDUP else 'missed'})."]
    for name, basis in (("engine-w4a8", "float"), ("engine-w4a8-int8-basis", "int8")):
        if all(name in row["ns_per_day"] for row in rows):
            slowest = min(row["ns_per_day"][name] / row["ns_per_day"]["engine-fp32"] for row in rows)
            lines += ["", f"Bar (issue 4): w4a8 ({basis} radial basis) not slower than the fp32 engine: at least "
                      f"{slowest:.2f}x its speed on every system ({'met' if slowest >= 1.0 else 'missed'})."]
    waters = [row for row in rows if row["system"].startswith("water")]
    if len(waters) > 1:
        lines += ["", "Cost per atom (µs/atom/step, engine fp32): "
                  + ", ".join(f"{r['atoms']} atoms {1e3 * r['ms_per_step']['engine-fp32'] / r['atoms']:.2f}"
                              for r in waters),
                  "", "Scaling, time ∝ atoms^k between successive water boxes (engine fp32): "
                  + ", ".join(f"k = {scaling_exponent(a, b):.2f} ({a['atoms']} → {b['atoms']} atoms)"
                              for a, b in zip(waters, waters[1:]))
                  + f"; linear (k ≤ {LINEAR_EXPONENT:g}) between the two largest boxes: "
                  + ("met" if scaling_exponent(*waters[-2:]) <= LINEAR_EXPONENT else "missed") + "."]
    return "\n".join(lines) + "\n"


def scaling_exponent(small: dict, large: dict) -> float:
    ratio = large["ms_per_step"]["engine-fp32"] / small["ms_per_step"]["engine-fp32"]
    return float(np.log(ratio) / np.log(large["atoms"] / small["atoms"]))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--waters", type=int, nargs="*", default=[216, 1000, 4000], help="water box sizes (molecules)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=50, help="steps per timing (a tenth above 1000 atoms)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-pytorch-above", type=int, default=100000, help="atoms")
    parser.add_argument("--output", type=Path, default=DOCS)
    parser.add_argument("--reuse", action="store_true", help="rewrite the report from OUTPUT/engine_speed.json")
    args = parser.parse_args(argv)
    if args.reuse:
        saved = json.loads((args.output / "engine_speed.json").read_text())
        text = markdown(saved["rows"], saved)
        (args.output / "engine_speed.md").write_text(text)
        print(text)
        return 0
    import torch

    torch.set_num_threads(args.threads)
    descriptions = {mode: native_description(mode) for mode in ENGINE_MODES}
    systems = [("aspirin", aspirin())] + [(f"water {n}", water_box(n)) for n in args.waters]
    rows = [measure_system(label, system, descriptions, args) for label, system in systems]
    command = " ".join(["python benchmarks/engine_speed.py", *(argv if argv is not None else sys.argv[1:])])
    run = {"machine": machine(), "threads": args.threads, "repeats": args.repeats, "command": command}
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "engine_speed.json").write_text(json.dumps({**run, "rows": rows}, indent=2) + "\n")
    text = markdown(rows, run)
    (args.output / "engine_speed.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
