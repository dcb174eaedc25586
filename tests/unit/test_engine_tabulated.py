"""The engine's tabulated radial mode (DESIGN §5; docs/format.md `radial_table_points`): the radial
MLP w(d) interpolated by cubic Hermite segments with exact knot derivatives. Its energies and
forces against the exact (default) mode within a measured bound, its forces against central
differences of its own energy, the w4a8 refusal, and the ways to ask for it."""

import numpy as np
import pytest

from gaqmd.data import read_frames, species_index
from gaqmd.export.lower import lower_model
from gaqmd.native import core
from gaqmd.testing.model import make_model, quantized_model
from gaqmd.testing.tolerances import (
    FINITE_DIFFERENCE_FORCES,
    TABULATED_RADIAL_ENERGY_RTOL,
    TABULATED_RADIAL_FORCE_RMS_RTOL,
)

KNOTS = 2048

CASES = {
    "fp32-l1": ("fp32", {}),
    "fp32-l2-attention": ("fp32", {"l_max": 2, "attention": True}),
    "w4a32-l2-attention": ("w4a32", {"l_max": 2, "attention": True}),
}


@pytest.fixture(scope="module")
def ethanol(data_dir):
    return read_frames(data_dir / "rmd17" / "train_1000.xyz", index="0:6")


@pytest.fixture(scope="module")
def aspirin(data_dir):
    return read_frames(data_dir / "rmd17" / "aspirin_1000.xyz", index="0:1")[0]


_DESCRIPTIONS = {}


def description_for(case, ethanol):
    if case not in _DESCRIPTIONS:
        mode, options = CASES[case]
        model = make_model(**options) if mode == "fp32" else quantized_model(mode, ethanol[:4], **options)
        _DESCRIPTIONS[case] = model.config.species, lower_model(model)
    return _DESCRIPTIONS[case]


def evaluate(engine, species, positions, numbers, cell=None, threads=1):
    index = species_index(np.asarray(numbers), species).astype(np.int32)
    return engine.compute(np.asarray(positions, dtype=np.float64), index, cell, threads)


def water_box(per_side=4, seed=0):
    """per_side³ rigid waters on a cubic lattice at ~1 g/cm³, random orientations (O, H, H)."""
    rng = np.random.default_rng(seed)
    spacing = (1.0 / 0.0334) ** (1 / 3)
    molecule = np.array([[0.0, 0.0, 0.0], [0.9572, 0.0, 0.0], [-0.2400, 0.9266, 0.0]])
    positions = []
    for cell in np.ndindex(per_side, per_side, per_side):
        q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
        positions.extend((np.array(cell) + 0.5) * spacing + molecule @ q.T)
    return np.array(positions), np.tile([8, 1, 1], per_side**3), np.eye(3) * per_side * spacing


def assert_close_to_exact(tabulated, exact):
    (energy, forces), (reference_energy, reference_forces) = tabulated, exact
    assert abs(energy - reference_energy) <= TABULATED_RADIAL_ENERGY_RTOL * abs(reference_energy)
    rms = np.sqrt(np.mean((forces - reference_forces) ** 2) / np.mean(reference_forces**2))
    assert rms <= TABULATED_RADIAL_FORCE_RMS_RTOL, f"forces differ: relative RMS {rms:.3e}"
    return rms


@pytest.mark.parametrize("case", list(CASES))
def test_tabulated_mode_is_close_to_the_exact_mode(case, ethanol, aspirin):
    species, (attributes, arrays) = description_for(case, ethanol)
    exact = core().Engine(attributes, arrays)
    tabulated = core().Engine(attributes, arrays, radial_table=KNOTS)
    assert exact.radial_table_points == 0 and tabulated.radial_table_points == KNOTS
    for frame in (ethanol[5], aspirin):
        args = (species, frame.positions, frame.numbers)
        tab = evaluate(tabulated, *args)
        assert_close_to_exact(tab, evaluate(exact, *args))
        assert tab[0] != evaluate(exact, *args)[0]  # it does interpolate
    positions, numbers, cell = water_box()
    assert_close_to_exact(evaluate(tabulated, species, positions, numbers, cell),
                          evaluate(exact, species, positions, numbers, cell))


def test_bundled_aspirin_model_error_and_its_convergence(aspirin):
    """The bound's source (docs/format.md): the bundled fp32 aspirin model, errors falling ~h³."""
    from gaqmd.model.io import load_model
    from gaqmd.models import bundled_model

    model = load_model(bundled_model("aspirin_fp32"))[0]
    attributes, arrays = lower_model(model)
    args = (model.config.species, aspirin.positions, aspirin.numbers)
    exact = evaluate(core().Engine(attributes, arrays), *args)
    fine = assert_close_to_exact(evaluate(core().Engine(attributes, arrays, radial_table=KNOTS), *args), exact)
    coarse = evaluate(core().Engine(attributes, arrays, radial_table=KNOTS // 8), *args)
    coarse_rms = np.sqrt(np.mean((coarse[1] - exact[1]) ** 2) / np.mean(exact[1] ** 2))
    assert coarse_rms > 50 * fine  # 8x coarser: ~512x for h³ (measured 63x..640x), at least 50x


@pytest.mark.parametrize("case", ["fp32-l2-attention", "w4a32-l2-attention"])
def test_tabulated_forces_equal_central_differences_of_the_tabulated_energy(case, ethanol):
    species, (attributes, arrays) = description_for(case, ethanol)
    engine = core().Engine(attributes, arrays, radial_table=KNOTS)
    frame, h = ethanol[5], 1e-5
    _, forces = evaluate(engine, species, frame.positions, frame.numbers)
    numeric = np.zeros_like(forces)
    for atom in range(len(frame.numbers)):
        for axis in range(3):
            step = np.zeros_like(frame.positions)
            step[atom, axis] = h
            plus = evaluate(engine, species, frame.positions + step, frame.numbers)[0]
            minus = evaluate(engine, species, frame.positions - step, frame.numbers)[0]
            numeric[atom, axis] = -(plus - minus) / (2 * h)
    error = np.abs(numeric - forces).max() / np.abs(forces).max()
    assert error <= FINITE_DIFFERENCE_FORCES, f"finite differences differ by {error:.2e} of the largest force"


def test_tabulated_results_do_not_depend_on_the_thread_count(ethanol):
    species, (attributes, arrays) = description_for("fp32-l2-attention", ethanol)
    engine = core().Engine(attributes, arrays, radial_table=KNOTS)
    positions, numbers, cell = water_box(per_side=4, seed=2)
    energy, forces = evaluate(engine, species, positions, numbers, cell, threads=1)
    for threads in (2, 3):
        other_energy, other_forces = evaluate(engine, species, positions, numbers, cell, threads=threads)
        assert other_energy == energy
        assert np.array_equal(other_forces, forces)


def test_the_description_attribute_selects_the_mode(ethanol, aspirin):
    species, (attributes, arrays) = description_for("fp32-l1", ethanol)
    args = (species, aspirin.positions, aspirin.numbers)
    by_keyword = evaluate(core().Engine(attributes, arrays, radial_table=512), *args)
    by_attribute_engine = core().Engine(dict(attributes, radial_table_points="512"), arrays)
    assert by_attribute_engine.radial_table_points == 512
    by_attribute = evaluate(by_attribute_engine, *args)
    assert by_attribute[0] == by_keyword[0] and np.array_equal(by_attribute[1], by_keyword[1])
    # the keyword wins over the attribute; "0" is the exact mode
    assert core().Engine(dict(attributes, radial_table_points="512"), arrays, radial_table=64).radial_table_points == 64
    exact = evaluate(core().Engine(attributes, arrays), *args)
    zero = evaluate(core().Engine(dict(attributes, radial_table_points="0"), arrays), *args)
    assert zero[0] == exact[0] and np.array_equal(zero[1], exact[1])
    for bad in ("-1", "many", "2.5", "1"):
        with pytest.raises(core().ModelError, match="radial_table_points"):
            core().Engine(dict(attributes, radial_table_points=bad), arrays)


def test_pairs_shorter_than_the_first_knot_use_the_exact_mlp(ethanol):
    """Knots start at h = r_c / N: a pair closer than h (here N = 4, h = r_c / 4) is evaluated exactly."""
    species, (attributes, arrays) = description_for("fp32-l1", ethanol)
    coarse = core().Engine(attributes, arrays, radial_table=4)
    exact = core().Engine(attributes, arrays)
    cutoff = exact.cutoff
    pair = np.array([[0.0, 0.0, 0.0], [0.2 * cutoff, 0.1, 0.0]])
    a, b = evaluate(coarse, species, pair, [6, 8]), evaluate(exact, species, pair, [6, 8])
    assert a[0] == b[0] and np.array_equal(a[1], b[1])


def test_w4a8_refuses_the_tabulated_mode(ethanol):
    attributes, arrays = lower_model(quantized_model("w4a8", ethanol[:4]))
    with pytest.raises(core().ModelError, match="w4a8.*quantized"):
        core().Engine(attributes, arrays, radial_table=KNOTS)
    with pytest.raises(core().ModelError, match="w4a8.*quantized"):
        core().Engine(dict(attributes, radial_table_points=str(KNOTS)), arrays)
    assert core().Engine(dict(attributes, radial_table_points="0"), arrays).radial_table_points == 0
