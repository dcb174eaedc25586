"""gaqmd.openmm.pytorch_force: the model as an openmm.PythonForce equals the model evaluated directly."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

openmm = pytest.importorskip("openmm")
if not hasattr(getattr(openmm, "PythonForce", None), "setParticles"):
    pytest.skip("needs OpenMM >= 8.6 (openmm.PythonForce)", allow_module_level=True)

from openmm import app, unit

from gaqmd.checks import model_energy_forces
from gaqmd.data import DataError, Units, read_frames
from gaqmd.model.io import load_model
from gaqmd.models import bundled_model
from gaqmd.openmm import pytorch_force, pytorch_force_from_file, units

ROOT = Path(__file__).resolve().parents[2]
ASPIRIN = "rmd17/aspirin_1000.xyz"
KJ = units.KJ_PER_MOL_PER_EV  # eV -> kJ/mol
KJ_NM = units.KJ_PER_MOL_NM_PER_EV_ANGSTROM  # eV/Å -> kJ/mol/nm


@pytest.fixture(scope="module")
def model():
    return load_model(bundled_model("aspirin_fp32"), dtype=torch.float64)[0]


@pytest.fixture(scope="module")
def frame(data_dir):
    return read_frames(data_dir / ASPIRIN, Units(energy="meV"), index="0")[0]


def make_system(numbers, force=None, box_nm=None):
    system = openmm.System()
    for z in numbers:
        system.addParticle(app.Element.getByAtomicNumber(int(z)).mass)
    if box_nm is not None:
        system.setDefaultPeriodicBoxVectors(*(openmm.Vec3(*row) for row in np.diag([box_nm] * 3)))
    if force is not None:
        system.addForce(force)
    return system


def make_context(system, positions_angstrom, integrator=None):
    context = openmm.Context(system, integrator or openmm.VerletIntegrator(0.0005),
                             openmm.Platform.getPlatformByName("Reference"))
    context.setPositions(units.angstrom_to_nm(positions_angstrom))
    return context


def energy_forces(context):
    """-> (energy kJ/mol, forces (N, 3) kJ/mol/nm) from the Context."""
    state = context.getState(getEnergy=True, getForces=True)
    return (state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole),
            state.getForces(asNumpy=True).value_in_unit(unit.kilojoule_per_mole / unit.nanometer))


def test_units_are_the_openmm_codata_2018_values():
    assert units.KJ_PER_MOL_PER_EV == pytest.approx(96.48533212331, rel=1e-14)
    assert units.ANGSTROM_PER_NM == 10.0
    assert units.forces_from_openmm(units.forces_to_openmm([1.5]))[0] == pytest.approx(1.5, rel=1e-15)


def test_context_energy_and_forces_equal_the_model_in_float64(model, frame):
    context = make_context(make_system(frame.numbers, pytorch_force(model, frame.numbers)), frame.positions)
    energy, forces = energy_forces(context)
    energy_ev, forces_ev = model_energy_forces(model)(frame.positions, frame.numbers)
    assert energy == pytest.approx(energy_ev * KJ, rel=1e-10)
    np.testing.assert_allclose(forces, forces_ev * KJ_NM, rtol=1e-10, atol=1e-10 * np.abs(forces_ev * KJ_NM).max())
    # and the model agrees with the reference labels (sanity: the bundled model's force MAE bar is 50 meV/Å)
    assert np.abs(forces / KJ_NM - frame.forces).mean() < 0.05


def test_float32_path_from_file_is_close_to_float64(model, frame):
    force = pytorch_force_from_file(bundled_model("aspirin_fp32"), list(frame.numbers))  # float32 by default
    energy, forces = energy_forces(make_context(make_system(frame.numbers, force), frame.positions))
    energy_ev, forces_ev = model_energy_forces(model)(frame.positions, frame.numbers)
    assert energy == pytest.approx(energy_ev * KJ, rel=1e-6)
    assert np.abs(forces / KJ_NM - forces_ev).max() < 1e-4  # eV/Å
    assert next(model.parameters()).dtype == torch.float64  # the caller's model is not converted


def test_forces_equal_central_differences_of_the_context_energy(model, frame):
    context = make_context(make_system(frame.numbers, pytorch_force(model, frame.numbers)), frame.positions)
    _, forces = energy_forces(context)
    step = 1e-5  # nm
    base = units.angstrom_to_nm(frame.positions)
    for atom in (0, 7, 13, 20):
        for axis in range(3):
            energies = []
            for sign in (1, -1):
                moved = base.copy()
                moved[atom, axis] += sign * step
                context.setPositions(moved)
                energies.append(context.getState(getEnergy=True).getPotentialEnergy().value_in_unit(
                    unit.kilojoule_per_mole))
            numerical = -(energies[0] - energies[1]) / (2 * step)
            assert numerical == pytest.approx(forces[atom, axis], rel=1e-6, abs=3e-3), (atom, axis)


def test_ml_subset_leaves_other_particles_without_force(model, frame):
    # System: 2 argon atoms, then aspirin; the ML subset is aspirin's first 10 atoms, in shuffled order.
    ml = [2 + i for i in (3, 0, 9, 1, 2, 8, 4, 6, 5, 7)]
    numbers = np.concatenate([[18, 18], frame.numbers])
    positions = np.concatenate([[[30.0, 0, 0], [0, 30.0, 0]], frame.positions])
    force = pytorch_force(model, numbers[ml], particles=ml, num_particles=len(numbers))
    assert list(force.getParticles()) == ml
    energy, forces = energy_forces(make_context(make_system(numbers, force), positions))
    energy_ev, forces_ev = model_energy_forces(model)(positions[ml], numbers[ml])
    assert energy == pytest.approx(energy_ev * KJ, rel=1e-10)
    others = np.setdiff1d(np.arange(len(numbers)), ml)
    assert (forces[others] == 0).all()
    np.testing.assert_allclose(forces[ml], forces_ev * KJ_NM, rtol=1e-10, atol=1e-8)

    # The same force from a Topology of the whole System (elements of `particles` taken from it).
    topology = app.Topology()
    residue = topology.addResidue("MOL", topology.addChain())
    for z in numbers:
        topology.addAtom("X", app.Element.getByAtomicNumber(int(z)), residue)
    from_topology = pytorch_force(model, topology, particles=ml)
    energy_t, forces_t = energy_forces(make_context(make_system(numbers, from_topology), positions))
    assert energy_t == energy
    np.testing.assert_array_equal(forces_t, forces)


def test_short_verlet_run_moves_atoms_and_stays_finite(model, frame):
    integrator = openmm.VerletIntegrator(0.5 * unit.femtosecond)
    context = make_context(make_system(frame.numbers, pytorch_force(model, frame.numbers)), frame.positions,
                           integrator)
    context.setVelocitiesToTemperature(300 * unit.kelvin, 1)
    start = context.getState(getEnergy=True)
    integrator.step(20)
    end = context.getState(getEnergy=True, getPositions=True)
    positions = end.getPositions(asNumpy=True).value_in_unit(unit.nanometer)
    assert np.isfinite(positions).all()
    assert np.abs(positions - units.angstrom_to_nm(frame.positions)).max() > 1e-5
    total = [s.getPotentialEnergy() + s.getKineticEnergy() for s in (start, end)]
    assert abs((total[1] - total[0]).value_in_unit(unit.kilojoule_per_mole)) < 1.0  # NVE: ~conserved


def test_periodic_force_uses_the_minimum_image(model, frame):
    box = 3.0  # nm, far wider than 2 x cutoff = 1 nm and the molecule
    # Put the molecule across a box corner: the periodic energy must not notice.
    shifted = frame.positions - frame.positions.mean(axis=0)
    force = pytorch_force(model, frame.numbers, periodic=True)
    assert force.usesPeriodicBoundaryConditions()
    energy, forces = energy_forces(make_context(make_system(frame.numbers, force, box_nm=box), shifted))
    energy_ev, forces_ev = model_energy_forces(model)(shifted, frame.numbers)
    assert energy == pytest.approx(energy_ev * KJ, rel=1e-10)
    np.testing.assert_allclose(forces, forces_ev * KJ_NM, rtol=1e-9, atol=1e-7)

    thin = make_context(make_system(frame.numbers, pytorch_force(model, frame.numbers, periodic=True), box_nm=0.9),
                        shifted)
    with pytest.raises(openmm.OpenMMException, match="periodic box too small"):
        thin.getState(getEnergy=True)


def test_xml_serialization_round_trips(model, frame):
    # XmlSerializer pickles PythonForce's computation; gaqmd's pickles as config + weights.
    system = make_system(frame.numbers, pytorch_force(model, frame.numbers, particles=range(21), dtype="float32"))
    copy = openmm.XmlSerializer.deserialize(openmm.XmlSerializer.serialize(system))
    assert list(copy.getForce(0).getParticles()) == list(range(21))
    original = energy_forces(make_context(system, frame.positions))
    restored = energy_forces(make_context(copy, frame.positions))
    assert restored[0] == original[0]
    np.testing.assert_array_equal(restored[1], original[1])


def test_xml_serialization_round_trips_a_quantized_model(frame):
    from gaqmd.quant import QuantConfig, prepare_qat
    from gaqmd.testing.model import make_model

    quantized = prepare_qat(make_model(), QuantConfig("w4a8")).eval()
    system = make_system(frame.numbers, pytorch_force(quantized, frame.numbers))
    copy = openmm.XmlSerializer.deserialize(openmm.XmlSerializer.serialize(system))
    original = energy_forces(make_context(system, frame.positions))
    restored = energy_forces(make_context(copy, frame.positions))
    assert restored[0] == original[0]
    np.testing.assert_array_equal(restored[1], original[1])


def test_xml_serialization_of_an_unpicklable_python_force_fails_clearly():
    system = make_system([1])
    system.addForce(openmm.PythonForce(lambda state: (0.0, np.zeros((1, 3)))))
    with pytest.raises(openmm.OpenMMException, match="could not be pickled"):
        openmm.XmlSerializer.serialize(system)


def test_bad_construction_arguments_raise(model, frame):
    with pytest.raises(DataError, match=r"Ar.*not in the model's species list \[H, C, O\]"):
        pytorch_force(model, [6, 1, 18])
    with pytest.raises(ValueError, match=r"out of range for a system of 21 particles"):
        pytorch_force(model, [6, 1], particles=[0, 21], num_particles=21)
    with pytest.raises(ValueError, match=">= 0"):
        pytorch_force(model, [6, 1], particles=[-1, 0])
    with pytest.raises(ValueError, match="repeat"):
        pytorch_force(model, [6, 1], particles=[3, 3])
    with pytest.raises(ValueError, match="3 atomic numbers for 2 particles"):
        pytorch_force(model, [6, 1, 1], particles=[0, 1])
    with pytest.raises(ValueError, match="dtype"):
        pytorch_force(model, [6, 1], dtype=torch.float16)
    topology = app.Topology()
    residue = topology.addResidue("MOL", topology.addChain())
    topology.addAtom("C1", app.element.carbon, residue)
    topology.addAtom("EP", None, residue)
    with pytest.raises(ValueError, match="without an element.*EP"):
        pytorch_force(model, topology)
    with pytest.raises(ValueError, match="out of range for a system of 2 particles"):
        pytorch_force(model, topology, particles=[0, 2])
    assert list(pytorch_force(model, topology, particles=[0]).getParticles()) == [0]  # EP is not an ML atom


def test_bad_positions_at_evaluation_time_raise(model, frame):
    context = make_context(make_system(frame.numbers, pytorch_force(model, frame.numbers)), frame.positions)
    nan_positions = units.angstrom_to_nm(frame.positions)
    nan_positions[4, 1] = np.nan
    context.setPositions(nan_positions)
    with pytest.raises(openmm.OpenMMException, match=r"non-finite positions for ML atoms \[4\]"):
        context.getState(getForces=True)

    # atomic numbers for 21 atoms, but the System has 22 particles and no `particles` subset
    bigger = make_context(make_system([*frame.numbers, 1], pytorch_force(model, frame.numbers)),
                          np.concatenate([frame.positions, [[20.0, 0, 0]]]))
    with pytest.raises(openmm.OpenMMException, match="22 particles but the force was built for 21 atoms"):
        bigger.getState(getEnergy=True)


def test_example_script_runs(tmp_path):
    script = ROOT / "examples" / "openmm_pytorch_force.py"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "python"), "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, str(script), "--steps", "5"], check=False, capture_output=True,
                            text=True, env=env, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "ns/day" in result.stdout
    usage = subprocess.run([sys.executable, str(script), "--help"], check=False, capture_output=True, text=True,
                           env=env, cwd=tmp_path, timeout=60)
    assert usage.returncode == 0 and "--steps" in usage.stdout
