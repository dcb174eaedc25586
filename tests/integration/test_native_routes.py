"""Every route to the native engine agrees with the PyTorch model: `gaqmd export` files, the ASE
calculator, the openmm-ml "gaq" potential (createSystem, createMixedSystem with and without
interpolation) and `gaqmd md`."""

import importlib.metadata

import ase
import numpy as np
import openmm
import pytest
from openmm import app, unit

from gaqmd.ase import GaqCalculator
from gaqmd.checks import model_energy_forces
from gaqmd.cli import main
from gaqmd.data import read_frames
from gaqmd.export import lower_model
from gaqmd.model.io import save_model
from gaqmd.native import NativeModel
from gaqmd.openmm.force import load_model_description
from gaqmd.openmm.units import KJ_PER_MOL_PER_EV
from gaqmd.testing.model import make_model

openmmml = pytest.importorskip("openmmml")


@pytest.fixture(scope="module")
def model():
    return make_model(attention=True)


@pytest.fixture(scope="module")
def ethanol(data_dir):
    return read_frames(data_dir / "rmd17" / "train_1000.xyz", index="0:2")


def water_topology(n_side: int = 4, spacing: float = 3.1, seed: int = 0):
    """n_side^3 waters on a cubic lattice in a periodic box: (Topology, positions (n, 3) Å, edge Å)."""
    rng = np.random.default_rng(seed)
    topology = app.Topology()
    chain = topology.addChain()
    molecule = np.array([[0.0, 0.0, 0.0], [0.9572, 0.0, 0.0], [-0.24, 0.9266, 0.0]])
    positions = []
    for index in np.ndindex(n_side, n_side, n_side):
        residue = topology.addResidue("HOH", chain)
        oxygen = topology.addAtom("O", app.element.oxygen, residue)
        for name in ("H1", "H2"):
            topology.addBond(oxygen, topology.addAtom(name, app.element.hydrogen, residue))
        positions.append((np.array(index) + 0.5) * spacing + molecule + rng.normal(0, 0.05, (3, 3)))
    edge = n_side * spacing
    topology.setPeriodicBoxVectors(np.eye(3) * edge / 10.0 * unit.nanometer)
    return topology, np.concatenate(positions), edge


def test_export_cli_writes_a_model_file_the_engine_reads_back(model, tmp_path):
    save_model(model, tmp_path / "model.pt")
    assert main(["export", str(tmp_path / "model.pt"), "-o", str(tmp_path / "model.gaq")]) == 0
    attributes, arrays = load_model_description(tmp_path / "model.gaq")
    expected_attributes, expected_arrays = lower_model(model)
    assert attributes == expected_attributes and arrays.keys() == expected_arrays.keys()
    for name, values in expected_arrays.items():
        assert arrays[name].dtype == values.dtype and np.array_equal(arrays[name], values), name


def test_ase_calculator_equals_the_model(model, ethanol):
    frame = ethanol[0]
    atoms = ase.Atoms(frame.numbers, frame.positions, calculator=GaqCalculator(model))
    energy, forces = model_energy_forces(model)(frame.positions, frame.numbers)
    assert atoms.get_potential_energy() == pytest.approx(energy, rel=1e-12)
    np.testing.assert_allclose(atoms.get_forces(), forces, rtol=1e-10, atol=1e-10)


def test_ase_calculator_handles_a_rotated_skewed_cell(model):
    _, positions, edge = water_topology()
    cell = np.array([[edge, 0, 0], [3.0, edge, 0], [-2.0, 4.0, edge]])
    reference = ase.Atoms(np.tile([8, 1, 1], len(positions) // 3), positions, cell=cell, pbc=True)
    reference.calc = GaqCalculator(model)
    rotation = np.linalg.qr(np.random.default_rng(1).normal(size=(3, 3)))[0]
    rotation *= np.linalg.det(rotation)  # proper rotation
    rotated = reference.copy()
    rotated.set_cell(cell @ rotation.T)
    rotated.positions = positions @ rotation.T
    rotated.calc = GaqCalculator(model)
    assert rotated.get_potential_energy() == pytest.approx(reference.get_potential_energy(), rel=1e-12)
    np.testing.assert_allclose(rotated.get_forces(), reference.get_forces() @ rotation.T, atol=1e-10)
    with pytest.raises(ValueError, match="pbc"):
        ase.Atoms("H2", [[0, 0, 0], [0.7, 0, 0]], cell=cell, pbc=[True, True, False],
                  calculator=GaqCalculator(model)).get_potential_energy()


def test_openmm_ml_entry_point_is_registered():
    names = {entry.name for entry in importlib.metadata.entry_points(group="openmmml.potentials")}
    assert "gaq" in names


def _energy(system: openmm.System, positions_angstrom: np.ndarray, groups=-1, **parameters) -> float:
    context = openmm.Context(system, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName("Reference"))
    context.setPositions(positions_angstrom / 10.0)
    for name, value in parameters.items():
        context.setParameter(name, value)
    return context.getState(getEnergy=True, groups=groups).getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)


def test_openmm_ml_create_system_and_mixed_systems(model):
    from openmmml import MLPotential

    topology, positions, edge = water_topology()
    description = lower_model(model)
    potential = MLPotential("gaq", model=description)
    native = NativeModel(description)
    numbers = np.tile([8, 1, 1], len(positions) // 3)
    box = np.eye(3) * edge

    full = potential.createSystem(topology)
    assert _energy(full, positions) == pytest.approx(native.compute(positions, numbers, box)[0] * KJ_PER_MOL_PER_EV,
                                                     rel=1e-10)

    # Mixed systems in vacuum (a water cluster): with a periodic cutoff method, openmm-ml's
    # interpolation at lambda = 0 differs from the MM system by design (reaction-field exceptions).
    topology.setPeriodicBoxVectors(None)
    mm_system = app.ForceField("tip3p.xml").createSystem(topology, nonbondedMethod=app.NoCutoff, rigidWater=False,
                                                          constraints=None)
    ml_atoms = [0, 1, 2, 3, 4, 5]  # two waters
    mixed = potential.createMixedSystem(topology, mm_system, ml_atoms, forceGroup=1)
    ml_energy = native.compute(positions[ml_atoms], numbers[ml_atoms])[0] * KJ_PER_MOL_PER_EV
    assert _energy(mixed, positions, groups={1}) == pytest.approx(ml_energy, rel=1e-10)

    interpolated = potential.createMixedSystem(topology, mm_system, ml_atoms, interpolate=True)
    assert _energy(interpolated, positions, lambda_interpolate=1.0) == pytest.approx(_energy(mixed, positions),
                                                                                     rel=1e-9)
    assert _energy(interpolated, positions, lambda_interpolate=0.0) == pytest.approx(_energy(mm_system, positions),
                                                                                     rel=1e-9)


def test_md_on_the_native_engine(model, ethanol, tmp_path):
    save_model(model, tmp_path / "model.pt")
    structure = tmp_path / "ethanol.xyz"
    ase.io.write(structure, ase.Atoms(ethanol[0].numbers, ethanol[0].positions))
    assert main(["md", str(tmp_path / "model.pt"), str(structure), "--steps", "10", "--report", "5",
                 "--platform", "Reference", "-o", str(tmp_path / "md"), "--no-progress"]) == 0
    assert (tmp_path / "md" / "trajectory.dcd").stat().st_size > 0
