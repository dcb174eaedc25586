"""Model files and geometries for the CUDA emulation test (cuda/tests/test_cuda_emulation.cpp).

Writes into the directory given as the only argument:
  fp32_l1.gaq, fp32_l2.gaq, w4a32_l2_grouped.gaq, w4a8_l1.gaq (local frames),
  w4a8_l2_mddqfp16_global_log.gaq, w4a8_l2_int8.gaq, w4a8_l2_fp16.gaq, w4a8_naive.gaq,
  w4a8_l2_int8_local.gaq, w4a8_l2_mddqfp16_local_global_dirs.gaq (l = 2 blocks in local frames),
  fp32_l2_attention.gaq, w4a8_attention_log.gaq, w4a8_attention_float_basis.gaq (edge_basis float),
  w4a8_attention_unclipped.gaq, w4a8_l2_int8_local_float_basis_unclipped.gaq (int8_ste unclipped,
      ranges max |x| of the 4 ethanol frames: aspirin's and the cells' activations exceed them)
      small random models (make_model: 8 channels, radial width 16, 6 basis functions, 2 layers,
      r_c = 5 Å, species H C O; quantized ones calibrated on 4 ethanol frames)
  aspirin.txt                 one rMD17 aspirin frame, vacuum
  cell_small.txt              125 atoms on a jittered grid in a triclinic cell 2.2 r_c high (2 cells per axis)
  cell_large.txt              343 atoms in a triclinic cell 3.4 r_c high (3 cells per axis)
Geometry files: line 1 "n periodic", line 2 the box rows (9 numbers, Å; zeros in vacuum), then
n lines "Z x y z" (Å).
"""

import sys
from pathlib import Path

import numpy as np
import openmm  # noqa: F401  (gaqmd._core links against the libOpenMM.so it loads)

from gaqmd import _core
from gaqmd.data import read_frames
from gaqmd.export.lower import lower_model
from gaqmd.testing.model import make_model, quantized_model

ROOT = Path(__file__).resolve().parents[2]


def write_model(path: Path, model) -> None:
    attributes, arrays = lower_model(model)
    path.write_text(_core.force_xml(attributes, arrays, [], None, False, True))


def write_geometry(path: Path, numbers, positions, box=None) -> None:
    lines = [f"{len(numbers)} {int(box is not None)}"]
    lines.append(" ".join(repr(float(v)) for v in (np.zeros(9) if box is None else np.asarray(box).ravel())))
    lines += [f"{int(z)} {x!r} {y!r} {w!r}" for z, (x, y, w) in zip(numbers, positions.tolist())]
    path.write_text("\n".join(lines) + "\n")


def jittered_cell(per_axis: int, spacing: float, seed: int):
    """per_axis³ atoms on a grid of the cell's fractional coordinates, jittered, then shifted by random
    lattice vectors (positions not wrapped, as OpenMM hands them over)."""
    rng = np.random.default_rng(seed)
    length = per_axis * spacing
    box = np.array([[length, 0, 0], [0.3 * length, length, 0], [-0.2 * length, 0.25 * length, length]])  # OpenMM reduced form
    grid = np.stack(np.meshgrid(*[np.arange(per_axis)] * 3, indexing="ij"), -1).reshape(-1, 3)
    fractional = (grid + 0.5 + rng.uniform(-0.12, 0.12, grid.shape)) / per_axis
    positions = fractional @ box + rng.integers(-1, 2, (len(grid), 3)) @ box
    return rng.choice([1, 6, 8], len(grid)), positions, box


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    frames = read_frames(ROOT / "tests" / "data" / "rmd17" / "train_1000.xyz", index="0:4")
    write_model(out / "fp32_l1.gaq", make_model(l_max=1))
    write_model(out / "fp32_l2.gaq", make_model(l_max=2, seed=1))
    write_model(out / "w4a32_l2_grouped.gaq", quantized_model("w4a32", frames, l_max=2, group_size=4, weight_scale="mse"))
    write_model(out / "w4a8_l1.gaq", quantized_model("w4a8", frames))
    write_model(out / "w4a8_l2_mddqfp16_global_log.gaq",
                quantized_model("w4a8", frames, l_max=2, l2_mode="mddq-fp16", direction_frame="global",
                                magnitude_log_domain=True, l2_frame="global"))
    write_model(out / "w4a8_l2_int8.gaq", quantized_model("w4a8", frames, l_max=2, l2_mode="int8-shared",
                                                          l2_frame="global"))
    write_model(out / "w4a8_l2_fp16.gaq", quantized_model("w4a8", frames, l_max=2, l2_mode="fp16", l2_frame="global"))
    write_model(out / "w4a8_l2_int8_local.gaq",
                quantized_model("w4a8", frames, l_max=2, l2_mode="int8-shared", l2_frame="local"))
    write_model(out / "w4a8_l2_mddqfp16_local_global_dirs.gaq",
                quantized_model("w4a8", frames, l_max=2, l2_mode="mddq-fp16", l2_frame="local", direction_frame="global"))
    write_model(out / "w4a8_naive.gaq", quantized_model("w4a8-naive", frames))
    write_model(out / "fp32_l2_attention.gaq", make_model(l_max=2, attention=True, seed=2))
    write_model(out / "w4a8_attention_log.gaq",
                quantized_model("w4a8", frames, attention=True, magnitude_log_domain=True))
    write_model(out / "w4a8_attention_float_basis.gaq",
                quantized_model("w4a8", frames, attention=True, edge_basis="float"))
    write_model(out / "w4a8_attention_unclipped.gaq",
                quantized_model("w4a8", frames, attention=True, int8_ste="unclipped", scale_init="max"))
    write_model(out / "w4a8_l2_int8_local_float_basis_unclipped.gaq",
                quantized_model("w4a8", frames, l_max=2, l2_mode="int8-shared", l2_frame="local", edge_basis="float",
                                int8_ste="unclipped", scale_init="max"))
    aspirin = read_frames(ROOT / "tests" / "data" / "rmd17" / "aspirin_1000.xyz", index="0:1")[0]
    write_geometry(out / "aspirin.txt", aspirin.numbers, aspirin.positions)
    write_geometry(out / "cell_small.txt", *jittered_cell(5, 2.2, seed=0))
    write_geometry(out / "cell_large.txt", *jittered_cell(7, 2.43, seed=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
