"""Bad model descriptions and bad inputs raise ModelError / InputError (ValueError subclasses) whose
message names the problem; none of them crashes the process."""

import numpy as np
import pytest

from gaqmd.export.lower import lower_model
from gaqmd.native import core
from gaqmd.testing.model import make_model

WATER = np.array([[0.0, 0.0, 0.0], [0.96, 0.0, 0.0], [-0.24, 0.93, 0.0]])
WATER_SPECIES = np.array([2, 0, 0], dtype=np.int32)  # O, H, H in the model's (1, 6, 8) order


@pytest.fixture(scope="module")
def description():
    return lower_model(make_model())


def build(attributes, arrays):
    return core().Engine(attributes, arrays)


def test_error_classes_are_value_errors():
    assert issubclass(core().ModelError, ValueError)
    assert issubclass(core().InputError, ValueError)


def test_a_missing_array_is_named(description):
    attributes, arrays = description
    assert "layer1.tp.cg3" in arrays
    broken = {k: v for k, v in arrays.items() if k != "layer1.tp.cg3"}
    with pytest.raises(core().ModelError, match=r"model array 'layer1\.tp\.cg3' is missing"):
        build(attributes, broken)


def test_a_misshaped_array_names_both_shapes(description):
    attributes, arrays = description
    broken = dict(arrays, **{"layer0.radial1.w": np.zeros((16, 15), dtype=np.float32)})
    with pytest.raises(core().ModelError, match=r"'layer0\.radial1\.w' has shape \(16, 15\), expected \(16, 16\)"):
        build(attributes, broken)
    broken = dict(arrays, **{"basis.frequencies": arrays["basis.frequencies"].astype(np.float32)})
    with pytest.raises(core().ModelError, match=r"'basis\.frequencies' has dtype float32, expected float64"):
        build(attributes, broken)


@pytest.mark.parametrize("name,value,message", [
    ("format_version", "2", r"unsupported model format_version '2'"),
    ("mode", "w2a2", r"unsupported model mode 'w2a2'"),
    ("l_max", "3", r"'l_max' = 3 is outside 1\.\.2"),
    ("cutoff", "five", r"'cutoff' = 'five' is not a finite number"),
])
def test_bad_attributes_are_named(description, name, value, message):
    attributes, arrays = description
    with pytest.raises(core().ModelError, match=message):
        build(dict(attributes, **{name: value}), arrays)
    with pytest.raises(core().ModelError, match=rf"model attribute '{name}' is missing"):
        build({k: v for k, v in attributes.items() if k != name}, arrays)


def test_a_quantized_model_without_its_quantizers_is_refused(description):
    attributes, arrays = description
    with pytest.raises(core().ModelError, match=r"'embedding\.group' is missing"):
        build(dict(attributes, mode="w4a32"), arrays)


def test_good_inputs_give_finite_results(description):
    engine = build(*description)
    assert engine.species == [1, 6, 8] and engine.cutoff == 5.0
    energy, forces = engine.compute(WATER, WATER_SPECIES)
    assert np.isfinite(energy) and forces.shape == (3, 3) and np.isfinite(forces).all()
    np.testing.assert_allclose(forces.sum(0), 0.0, atol=1e-12)  # no external force on an isolated molecule


def test_non_finite_positions_name_the_atom(description):
    engine = build(*description)
    for bad in (np.nan, np.inf):
        positions = WATER.copy()
        positions[2, 1] = bad
        with pytest.raises(core().InputError, match=r"position of atom 2 is not finite"):
            engine.compute(positions, WATER_SPECIES)


def test_unknown_species_index_is_refused(description):
    engine = build(*description)
    for bad in (3, -1):
        with pytest.raises(core().InputError, match=rf"species index {bad} of atom 1 is outside 0\.\.2"):
            engine.compute(WATER, np.array([2, bad, 0], dtype=np.int32))


def test_a_box_thinner_than_twice_the_cutoff_is_refused(description):
    engine = build(*description)
    box = np.diag([12.0, 12.0, 12.0])
    engine.compute(WATER, WATER_SPECIES, box)
    box[2] = [3.0, 0.0, 9.9]  # height along c: 9.9 Å < 2 x 5 Å
    with pytest.raises(core().InputError, match=r"periodic box .* has height 9\.9 Å along c, less than 2 x cutoff = 10 Å"):
        engine.compute(WATER, WATER_SPECIES, box)
    with pytest.raises(core().InputError, match=r"box must be None or a \(3, 3\) array"):
        engine.compute(WATER, WATER_SPECIES, np.eye(2))


def test_mismatched_argument_shapes_are_refused(description):
    engine = build(*description)
    with pytest.raises(core().InputError, match=r"positions must have shape \(n, 3\)"):
        engine.compute(WATER[:, :2], WATER_SPECIES)
    with pytest.raises(core().InputError, match=r"species_index must have shape \(3,\)"):
        engine.compute(WATER, WATER_SPECIES[:2])


def test_coincident_atoms_are_refused_and_empty_or_single_atoms_work(description):
    engine = build(*description)
    positions = WATER.copy()
    positions[2] = positions[0]
    with pytest.raises(core().InputError, match=r"atoms 0 and 2 are at the same position"):
        engine.compute(positions, WATER_SPECIES)
    box = np.diag([12.0, 12.0, 12.0])
    positions[2] = positions[0] + box[1]  # a periodic image of atom 0
    with pytest.raises(core().InputError, match=r"atoms 0 and 2 are at the same position"):
        engine.compute(positions, WATER_SPECIES, box)
    energy, forces = engine.compute(np.zeros((0, 3)), np.zeros(0, dtype=np.int32))
    assert energy == 0.0 and forces.shape == (0, 3)
    energy, forces = engine.compute(np.zeros((1, 3)), np.array([1], dtype=np.int32))
    assert np.isfinite(energy) and np.array_equal(forces, np.zeros((1, 3)))
