"""model.gaq files and GaqForce arguments: round trips keep every byte, bad input gets a clear error.

A model file is the XML of a GaqForce (docs/format.md); it is untrusted input, so every way of
breaking one must raise an exception naming the problem, never crash the process.
"""

import copy

import numpy as np
import pytest

openmm = pytest.importorskip("openmm")
_core = pytest.importorskip("gaqmd._core", reason="the native module gaqmd._core is not built")

from openmm import app, unit

from gaqmd.export.lower import lower_model
from gaqmd.openmm import GaqFileError, gaq_force, load_model_description, save_model
from gaqmd.testing.model import make_model

WATER = np.array([[0.0, 0.0, 0.0], [0.96, 0.0, 0.0], [-0.24, 0.93, 0.0]])  # Å


@pytest.fixture(scope="module")
def description():
    return lower_model(make_model(l_max=1, species=(1, 6, 8), seed=5))


@pytest.fixture(scope="module")
def model_file(description, tmp_path_factory):
    return save_model(tmp_path_factory.mktemp("models") / "model.gaq", *description)


def energy(force, n_particles, positions):
    """Reference-platform energy (kJ/mol) of one force on n_particles (positions Å of the first ones)."""
    system = openmm.System()
    for _ in range(n_particles):
        system.addParticle(1.0)
    system.addForce(force)
    context = openmm.Context(system, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName("Reference"))
    padded = np.vstack([positions, 5.0 + np.arange(3 * (n_particles - len(positions))).reshape(-1, 3)])
    context.setPositions(padded / 10)
    return context.getState(getEnergy=True).getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)


def broken_copy(model_file, tmp_path, edit):
    path = tmp_path / "broken.gaq"
    path.write_text(edit(model_file.read_text()))
    return path


def test_kernels_are_registered_on_the_host_platforms():
    assert {"Reference", "CPU"} <= set(_core.available_platforms())


def test_a_model_file_round_trip_keeps_every_array_byte_for_byte(description, model_file):
    attributes, arrays = load_model_description(model_file)
    assert attributes == description[0]
    assert arrays.keys() == description[1].keys()
    for name, array in description[1].items():
        assert arrays[name].dtype == array.dtype and arrays[name].shape == array.shape, name
        assert arrays[name].tobytes() == np.ascontiguousarray(array).tobytes(), name


def test_a_force_from_the_file_equals_one_from_the_description(description, model_file):
    from_file = energy(gaq_force(model_file, atomic_numbers=[8, 1, 1]), 3, WATER)
    assert from_file == energy(gaq_force(description, atomic_numbers=[8, 1, 1]), 3, WATER)
    assert from_file != 0.0


def test_a_deep_copy_of_the_force_is_the_same_force(description):
    force = gaq_force(description, atomic_numbers=[8, 1, 1])
    clone = copy.deepcopy(force)
    assert energy(clone, 3, WATER) == energy(force, 3, WATER)


@pytest.mark.parametrize(("edit", "message"), [
    (lambda xml: xml.replace('version="1"', 'version="2"'), "unsupported version 2"),
    (lambda xml: xml[: len(xml) // 2], "truncated"),
    (lambda xml: xml.replace('data="', 'data="!', 1), "data does not decode"),
    (lambda xml: xml.replace('=="', '"', 1), "not a multiple of 4"),
    (lambda xml: xml.replace('shape="3"', 'shape="4"', 1), r"\(truncated or corrupted\)"),
    (lambda xml: xml.replace("<Arrays>", "<Arrays2>").replace("</Arrays>", "</Arrays2>"), "missing element <Arrays>"),
    (lambda xml: '<?xml version="1.0" ?>\n<System type="System" version="1"/>', "root element is <System>"),
    (lambda xml: xml.replace('type="GaqForce"', 'type="HarmonicBondForce"'), "holds a HarmonicBondForce"),
    (lambda xml: "gaqmd model, honest", "does not start with an XML element"),
])
def test_a_broken_model_file_raises_naming_the_problem(model_file, tmp_path, edit, message):
    path = broken_copy(model_file, tmp_path, edit)
    with pytest.raises(GaqFileError, match=message) as error:
        load_model_description(path)
    assert str(path) in str(error.value)


def test_a_missing_or_binary_model_file_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such model file"):
        load_model_description(tmp_path / "absent.gaq")
    (tmp_path / "binary.gaq").write_bytes(bytes(range(256)))
    with pytest.raises(GaqFileError, match="not UTF-8"):
        load_model_description(tmp_path / "binary.gaq")


def test_an_invalid_model_is_refused_when_saved(description, tmp_path):
    attributes, arrays = description
    incomplete = {name: array for name, array in arrays.items() if name != "species"}
    with pytest.raises(ValueError, match="invalid gaqmd model.*species"):
        save_model(tmp_path / "bad.gaq", attributes, incomplete)
    assert not (tmp_path / "bad.gaq").exists()


def test_arrays_must_have_a_format_dtype_and_attributes_must_be_strings(description):
    attributes, arrays = description
    with pytest.raises(ValueError, match="array 'species' has dtype int64"):
        gaq_force((attributes, {**arrays, "species": arrays["species"].astype(np.int64)}), atomic_numbers=[1])
    with pytest.raises(ValueError, match="must be strings.*cutoff"):
        gaq_force(({**attributes, "cutoff": 5.0}, arrays), atomic_numbers=[1])
    big_endian = {name: array.astype(array.dtype.newbyteorder(">")) for name, array in arrays.items()}
    assert energy(gaq_force((attributes, big_endian), atomic_numbers=[8, 1, 1]), 3, WATER) == \
        energy(gaq_force(description, atomic_numbers=[8, 1, 1]), 3, WATER)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"atomic_numbers": [8, 1, 1], "subset": [0, 3]}, "subset entry 1 is particle 3, out of range"),
    ({"atomic_numbers": [8, 1, 1], "subset": [0, 1, 0]}, "particle 0 appears more than once"),
    ({"atomic_numbers": [8, 1, 1], "subset": []}, "subset is empty"),
    ({"atomic_numbers": [8, 1, 1], "subset": [0.5]}, "subset must be a 1-d sequence"),
    ({"atomic_numbers": [8, 1, 1], "topology": app.Topology()}, "exactly one of topology= and atomic_numbers="),
    ({}, "exactly one of topology= and atomic_numbers="),
    ({"atomic_numbers": [[8, 1]]}, "atomic_numbers must be a 1-d sequence"),
    ({"atomic_numbers": [8, 92]}, r"particle 1 is U \(atomic number 92\)"),
])
def test_bad_particle_arguments_raise_value_error(description, kwargs, message):
    with pytest.raises(ValueError, match=message):
        gaq_force(description, **kwargs)


def test_topology_atoms_without_an_element_may_only_stay_outside_the_subset(description):
    topology = app.Topology()
    residue = topology.addResidue("HOH", topology.addChain())
    for name, element in (("O", app.element.oxygen), ("H1", app.element.hydrogen), ("H2", app.element.hydrogen),
                          ("M", None)):
        topology.addAtom(name, element, residue)
    force = gaq_force(description, topology=topology, subset=[0, 1, 2])
    assert not force.usesPeriodicBoundaryConditions()  # the topology has no box
    assert energy(force, 4, WATER) == energy(gaq_force(description, atomic_numbers=[8, 1, 1]), 3, WATER)
    with pytest.raises(ValueError, match=r"without an element.*3 \(M in HOH"):
        gaq_force(description, topology=topology)


def test_a_system_with_another_particle_count_fails_when_the_context_is_made(description):
    with pytest.raises(openmm.OpenMMException, match="3 atomic numbers for a System of 4 particles"):
        energy(gaq_force(description, atomic_numbers=[8, 1, 1]), 4, WATER)
