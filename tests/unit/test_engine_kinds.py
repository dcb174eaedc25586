"""Block kinds of the irreps quantizers (docs/format.md, "Quantizers"): the engine's quantized features
reproduced with numpy from the description alone, half-precision rounding against numpy's float16,
and the errors for missing or unknown kinds. Parity of whole models: test_engine.py (CASES)."""

import subprocess
from pathlib import Path

import numpy as np
import pytest

from gaqmd.data import read_frames, species_index
from gaqmd.export.lower import lower_model
from gaqmd.native import core
from gaqmd.testing.model import quantized_model


@pytest.fixture(scope="module")
def ethanol(data_dir):
    return read_frames(data_dir / "rmd17" / "train_1000.xyz", index="0:5")


_DESCRIPTIONS = {}


def description_for(mode, ethanol, **options):
    key = (mode, tuple(sorted(options.items())))
    if key not in _DESCRIPTIONS:
        model = quantized_model(mode, ethanol[:4], **options)
        _DESCRIPTIONS[key] = model, lower_model(model)
    return _DESCRIPTIONS[key]


def numpy_half(x):
    """PyTorch's float64 -> float16 -> float64 (Tensor.half()): through float32, each step to nearest even."""
    return np.asarray(x, dtype=np.float64).astype(np.float32).astype(np.float16).astype(np.float64)


def layer1_features(model, description, frame):
    """(x, xq, blocks) of layer 1's in_q: blocks [(b, l, slice)] from the description's irreps."""
    engine = core().Engine(*description)
    index = species_index(np.asarray(frame.numbers), model.config.species).astype(np.int32)
    tensors = engine.intermediates(frame.positions, index, None)
    blocks, offset = [], 0
    for b, (mul, l) in enumerate(description[1]["layer1.irreps_in"].tolist()):
        blocks.append((b, l, slice(offset, offset + mul * (2 * l + 1))))
        offset += mul * (2 * l + 1)
    return tensors["layer1.x"], tensors["layer1.xq"], blocks


def lsq_numpy(x, scale, qmin, qmax):
    return np.clip(np.round(x / scale), qmin, qmax) * scale


def test_naive_int8_blocks_are_per_component_lsq_with_one_scale(ethanol):
    model, description = description_for("w4a8-naive", ethanol)
    attributes, arrays = description
    assert "codebook.points" not in arrays and "direction_frame" not in attributes
    x, xq, blocks = layer1_features(model, description, ethanol[4])
    (b, l, span), = [block for block in blocks if block[1] == 1]
    assert attributes[f"layer1.in_q.b{b}.kind"] == "int8"
    scale = arrays[f"layer1.in_q.b{b}.scale"]
    assert scale.shape == (1,)
    qmin, qmax = int(attributes[f"layer1.in_q.b{b}.qmin"]), int(attributes[f"layer1.in_q.b{b}.qmax"])
    expected = lsq_numpy(x[:, span], scale[0], qmin, qmax)
    np.testing.assert_array_equal(xq[:, span], expected)
    assert np.abs(xq[:, span] - x[:, span]).max() > 0


def test_int8_shared_l2_blocks_use_their_channels_scale(ethanol):
    model, description = description_for("w4a8", ethanol, l_max=2, l2_mode="int8-shared", l2_frame="global")
    attributes, arrays = description
    x, xq, blocks = layer1_features(model, description, ethanol[4])
    (b, l, span), = [block for block in blocks if block[1] == 2]
    assert attributes[f"layer1.in_q.b{b}.kind"] == "int8"
    scale = arrays[f"layer1.in_q.b{b}.scale"]
    assert scale.shape == (model.config.channels,)
    qmin, qmax = int(attributes[f"layer1.in_q.b{b}.qmin"]), int(attributes[f"layer1.in_q.b{b}.qmax"])
    expected = lsq_numpy(x[:, span], np.repeat(scale, 2 * l + 1), qmin, qmax)
    np.testing.assert_array_equal(xq[:, span], expected)
    assert np.abs(xq[:, span] - x[:, span]).max() > 0


def test_local_l2_blocks_are_quantized_in_each_atoms_frame(ethanol):
    """x̂ = Dᵀ q(D x) per channel, D the frame's l=2 rotation from e3nn's harmonics (PyTorch,
    gaqmd.quant.frames), not the engine's closed form; frames as the engine reports them."""
    import torch

    from gaqmd.quant.frames import wigner_from_frames

    model, description = description_for("w4a8", ethanol, l_max=2, l2_mode="int8-shared", l2_frame="local")
    attributes, arrays = description
    engine = core().Engine(*description)
    index = species_index(np.asarray(ethanol[4].numbers), model.config.species).astype(np.int32)
    frames = engine.intermediates(ethanol[4].positions, index, None)["frames"]
    x, xq, blocks = layer1_features(model, description, ethanol[4])
    (b, l, span), = [block for block in blocks if block[1] == 2]
    assert attributes[f"layer1.in_q.b{b}.frame"] == "local"
    rotations = wigner_from_frames(torch.from_numpy(frames), 2).numpy()  # (n, 5, 5)
    scale = arrays[f"layer1.in_q.b{b}.scale"]
    qmin, qmax = int(attributes[f"layer1.in_q.b{b}.qmin"]), int(attributes[f"layer1.in_q.b{b}.qmax"])
    v = x[:, span].reshape(len(x), -1, 5)
    local = np.einsum("nab,ncb->nca", rotations, v)
    rounded = lsq_numpy(local, scale[None, :, None], qmin, qmax)
    expected = np.einsum("nba,ncb->nca", rotations, rounded).reshape(len(x), -1)
    np.testing.assert_allclose(xq[:, span], expected, rtol=0, atol=1e-12 * np.abs(expected).max())
    assert not np.allclose(xq[:, span], lsq_numpy(x[:, span], np.repeat(scale, 5), qmin, qmax))


def test_fp16_l2_blocks_are_rounded_to_numpy_float16(ethanol):
    model, description = description_for("w4a8", ethanol, l_max=2, l2_mode="fp16", l2_frame="global")
    x, xq, blocks = layer1_features(model, description, ethanol[4])
    (b, l, span), = [block for block in blocks if block[1] == 2]
    assert description[0][f"layer1.in_q.b{b}.kind"] == "fp16"
    np.testing.assert_array_equal(xq[:, span], numpy_half(x[:, span]))
    assert np.abs(xq[:, span] - x[:, span]).max() > 0


def test_mddq_fp16_l2_blocks_are_the_quantized_magnitude_times_half_directions(ethanol):
    model, description = description_for("w4a8", ethanol, l_max=2, l2_mode="mddq-fp16", l2_frame="global")
    attributes, arrays = description
    x, xq, blocks = layer1_features(model, description, ethanol[4])
    (b, l, span), = [block for block in blocks if block[1] == 2]
    name = f"layer1.in_q.b{b}"
    assert attributes[f"{name}.kind"] == "mddq-fp16" and attributes[f"{name}.log_domain"] == "0"
    v = x[:, span].reshape(len(x), -1, 2 * l + 1)
    squares = v * v
    m = squares[..., 0]
    for a in range(1, 2 * l + 1):
        m = m + squares[..., a]  # summed in component order, as format.md's mddq
    m = np.sqrt(m)
    assert (m >= float(attributes["zero_threshold"])).all()
    m_hat = np.clip(np.round(m / arrays[f"{name}.scale"]), 0, int(attributes[f"{name}.qmax"])) * arrays[f"{name}.scale"]
    expected = m_hat[..., None] * numpy_half(v / m[..., None])
    np.testing.assert_array_equal(xq[:, span], expected.reshape(len(x), -1))
    assert np.abs(xq[:, span] - x[:, span]).max() > 0


def half_reference_values(rng):
    """float64 values covering float16's normal and subnormal ranges, its ties and overflow."""
    halves = np.arange(0x10000, dtype=np.uint16).view(np.float16).astype(np.float64)
    halves = halves[np.isfinite(halves)]
    ordered = np.unique(halves)
    mids = 0.5 * (ordered[:-1] + ordered[1:])  # ties
    nudged = np.concatenate([np.nextafter(mids, -np.inf), np.nextafter(mids, np.inf),  # float32 rounds onto the tie
                             np.nextafter(mids.astype(np.float32), np.float32(-np.inf)).astype(np.float64),
                             np.nextafter(mids.astype(np.float32), np.float32(np.inf)).astype(np.float64)])
    random = np.concatenate([rng.standard_normal(200_000),
                             rng.uniform(-1, 1, 200_000),
                             np.exp(rng.uniform(np.log(1e-9), np.log(1e6), 200_000)) * rng.choice([-1, 1], 200_000),
                             rng.uniform(-2**-14, 2**-14, 100_000)])  # subnormal halves
    special = np.array([0.0, -0.0, 65504.0, 65519.999, 65520.0, -65520.0, 1e300, -1e300, np.inf, -np.inf,
                        2.0**-25, 2.0**-24, 1.5 * 2.0**-25, 1 + 2.0**-11 + 2.0**-40])
    return np.concatenate([halves, mids, nudged, random, special])


def test_engine_half_rounding_equals_numpy_float16(tmp_path):
    """cpp/tests/test_engine_math (built next to gaqmd._core, or by `make test` in build/ctest) checks
    math::roundToHalf against numpy."""
    candidates = [Path(core().__file__).resolve().parent / "test_engine_math",
                  Path(__file__).resolve().parents[2] / "build" / "ctest" / "test_engine_math"]
    binary = next((path for path in candidates if path.exists()), None)
    if binary is None:
        pytest.skip("C++ tests not built (next to gaqmd._core or in build/ctest)")
    x = half_reference_values(np.random.default_rng(11))
    with np.errstate(over="ignore"):
        reference = x.astype(np.float32).astype(np.float16)
        # PyTorch rounds through float32 (the engine follows it): a direct float64 -> float16
        # rounding differs on float64 values just past a tie.
        assert (reference != x.astype(np.float16)).any()
    records = np.empty(len(x), dtype=[("x", "<f8"), ("half", "<u2")])
    records["x"], records["half"] = x, reference.view(np.uint16)
    path = tmp_path / "half_reference.bin"
    records.tofile(path)
    result = subprocess.run([str(binary), str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(x)} reference values agree" in result.stdout


@pytest.mark.parametrize("kind", ["int9", "MDDQ", ""])
def test_an_unknown_kind_is_named(ethanol, kind):
    _, (attributes, arrays) = description_for("w4a8", ethanol, l_max=2, l2_mode="fp16", l2_frame="global")
    broken = dict(attributes, **{"layer1.up_q.b2.kind": kind})
    with pytest.raises(core().ModelError, match=rf"model attribute 'layer1\.up_q\.b2\.kind' = '{kind}' is not a quantizer kind"):
        core().Engine(broken, arrays)


def test_mddq_on_an_l2_block_is_refused(ethanol):
    _, (attributes, arrays) = description_for("w4a8", ethanol, l_max=2, l2_mode="mddq-fp16", l2_frame="global")
    broken = dict(attributes, **{"layer1.in_q.b2.kind": "mddq"})
    with pytest.raises(core().ModelError, match=r"'layer1\.in_q\.b2\.kind' = 'mddq' is for l = 1 blocks only"):
        core().Engine(broken, arrays)


@pytest.mark.parametrize("mode,options,block", [
    ("w4a8", {"l_max": 2, "l2_mode": "fp16"}, "layer1.in_q.b2"),  # l = 2: no default
    ("w4a8-naive", {}, "layer1.up_q.b1"),  # naive: no default either
])
def test_a_missing_kind_is_named(ethanol, mode, options, block):
    _, (attributes, arrays) = description_for(mode, ethanol, **options)
    broken = {k: v for k, v in attributes.items() if k != f"{block}.kind"}
    with pytest.raises(core().ModelError, match=rf"model attribute '{block}\.kind' is missing"):
        core().Engine(broken, arrays)


def test_w4a8_l1_blocks_without_a_kind_are_mddq(ethanol):
    """Descriptions written before kinds existed: l = 1 blocks of w4a8 are mddq."""
    model, (attributes, arrays) = description_for("w4a8", ethanol)
    legacy = {k: v for k, v in attributes.items() if not k.endswith(".kind")}
    assert len(legacy) < len(attributes)
    frame = ethanol[4]
    index = species_index(np.asarray(frame.numbers), model.config.species).astype(np.int32)
    energy, forces = core().Engine(legacy, arrays).compute(frame.positions, index)
    reference_energy, reference_forces = core().Engine(attributes, arrays).compute(frame.positions, index)
    assert energy == reference_energy
    np.testing.assert_array_equal(forces, reference_forces)


def test_int8_scale_shapes_and_quantizer_arrays_are_checked(ethanol):
    _, (attributes, arrays) = description_for("w4a8-naive", ethanol)
    broken = dict(arrays, **{"layer1.up_q.b1.scale": np.ones(3)})
    with pytest.raises(core().ModelError, match=r"'layer1\.up_q\.b1\.scale' has shape \(3,\), expected \(1,\) or \(8,\)"):
        core().Engine(attributes, broken)
    # a kind switched to mddq-fp16 needs the magnitude's arrays and the zero threshold
    switched = dict(attributes, **{"layer1.up_q.b1.kind": "mddq-fp16", "layer1.up_q.b1.log_domain": "0"})
    with pytest.raises(core().ModelError, match=r"'zero_threshold' is missing"):
        core().Engine(switched, dict(arrays, **{"layer1.up_q.b1.scale": np.ones(8)}))
    # and mddq, the codebook
    switched = dict(attributes, **{"layer1.up_q.b1.kind": "mddq", "layer1.up_q.b1.log_domain": "0",
                                   "zero_threshold": "1e-6", "direction_frame": "global"})
    with pytest.raises(core().ModelError, match=r"'codebook\.points' is missing"):
        core().Engine(switched, dict(arrays, **{"layer1.up_q.b1.scale": np.ones(8)}))


def test_the_edge_basis_and_int8_ste_attributes_are_checked(ethanol):
    """`edge_basis` int8 and `int8_ste` clipped (also when absent: descriptions written before they
    existed) need the basis quantizers, resp. mask the straight-through derivative; other values are named."""
    model, (attributes, arrays) = description_for("w4a8", ethanol)
    assert attributes["edge_basis"] == "int8" and attributes["int8_ste"] == "clipped"
    frame = ethanol[4]
    index = species_index(np.asarray(frame.numbers), model.config.species).astype(np.int32)
    legacy = {k: v for k, v in attributes.items() if k not in ("edge_basis", "int8_ste")}
    energy, forces = core().Engine(attributes, arrays).compute(frame.positions, index)
    legacy_energy, legacy_forces = core().Engine(legacy, arrays).compute(frame.positions, index)
    assert legacy_energy == energy and np.array_equal(legacy_forces, forces)
    with pytest.raises(core().ModelError, match=r"model attribute 'edge_basis' = 'int4' \(expected int8 or float\)"):
        core().Engine(dict(attributes, edge_basis="int4"), arrays)
    with pytest.raises(core().ModelError,
                       match=r"model attribute 'int8_ste' = 'none' \(expected clipped or unclipped\)"):
        core().Engine(dict(attributes, int8_ste="none"), arrays)
    missing = {k: v for k, v in arrays.items() if k != "layer1.radial0.in_q.scale"}
    with pytest.raises(core().ModelError, match=r"model array 'layer1\.radial0\.in_q\.scale' is missing"):
        core().Engine(attributes, missing)
