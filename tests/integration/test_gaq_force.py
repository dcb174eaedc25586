"""GaqForce in an OpenMM Context (Reference and CPU) equals the engine and the PyTorch model.

Oracles: gaqmd._core's Engine called directly (same arithmetic, units converted by hand), the
float64 PyTorch model it was lowered from, central differences of the Context's own energy,
and invariances (XML round trip, deepcopy, ML subset, periodic images, CustomCVForce).
"""

import copy

import numpy as np
import pytest

openmm = pytest.importorskip("openmm")
_core = pytest.importorskip("gaqmd._core", reason="the native module gaqmd._core is not built")

from openmm import app, unit

from gaqmd.export.lower import lower_model
from gaqmd.native import NativeModel
from gaqmd.openmm import units
from gaqmd.openmm.force import gaq_force
from gaqmd.testing.model import make_model

KJ = units.KJ_PER_MOL_PER_EV  # eV -> kJ/mol
KJ_NM = units.KJ_PER_MOL_NM_PER_EV_ANGSTROM  # eV/Å -> kJ/mol/nm
PLATFORMS = ["Reference", "CPU"]
# The Context path only converts units (one float64 multiply each) around the same engine call.
SAME_ENGINE_RTOL = 1e-13
# Engine (float64 C++) vs PyTorch float64 on an 8-channel model: different summation orders of
# O(100) edge terms, ~1e-15 each; 1e-9 relative leaves orders of magnitude of headroom while a
# wrong coefficient or unit would be O(1).
PYTORCH_RTOL = 1e-9
# Central differences with h = 1e-5 Å on a float64 energy: truncation and round-off ~1e-9.
FD_RTOL = 1e-6

# Methanol, Å (slightly distorted so that no force vanishes by symmetry).
METHANOL = np.array([[0.0, 0.0, 0.0], [1.43, 0.02, -0.01], [1.76, 0.89, 0.05], [-0.37, 1.02, 0.03],
                     [-0.33, -0.53, 0.88], [-0.38, -0.49, -0.9]])
METHANOL_Z = [6, 8, 1, 1, 1, 1]


@pytest.fixture(scope="module")
def model():
    return make_model(l_max=1, species=(1, 6, 8), seed=3)


@pytest.fixture(scope="module")
def description(model):
    return lower_model(model)


@pytest.fixture(scope="module")
def native(description):
    return NativeModel(description)


def make_system(numbers, forces, box_nm=None):
    system = openmm.System()
    for z in numbers:
        system.addParticle(app.Element.getByAtomicNumber(int(z)).mass if z else 40.0)
    if box_nm is not None:
        system.setDefaultPeriodicBoxVectors(*(openmm.Vec3(*row) for row in np.asarray(box_nm)))
    for force in forces:
        system.addForce(force)
    return system


def evaluate(system, positions_angstrom, platform="Reference", properties=None, box_nm=None):
    """-> (energy kJ/mol, forces (n, 3) kJ/mol/nm) of a fresh Context."""
    context = openmm.Context(system, openmm.VerletIntegrator(0.0005), openmm.Platform.getPlatformByName(platform),
                             properties or {})
    if box_nm is not None:
        context.setPeriodicBoxVectors(*(openmm.Vec3(*row) for row in np.asarray(box_nm)))
    context.setPositions(units.angstrom_to_nm(positions_angstrom))
    state = context.getState(getEnergy=True, getForces=True)
    return (state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole),
            state.getForces(asNumpy=True).value_in_unit(unit.kilojoule_per_mole / unit.nanometer))


def water_box(n_side=2, spacing=5.5, seed=0):
    """n_side^3 randomly oriented waters on a cubic grid -> (positions Å, numbers, box Å (3, 3))."""
    rng = np.random.default_rng(seed)
    water = np.array([[0.0, 0.0, 0.0], [0.9572, 0.0, 0.0], [-0.24, 0.927, 0.0]])
    positions, numbers = [], []
    for cell in np.ndindex(n_side, n_side, n_side):
        rotation, _ = np.linalg.qr(rng.normal(size=(3, 3)))
        positions.extend(water @ rotation.T + spacing * np.array(cell) + rng.uniform(0, 1, 3))
        numbers.extend([8, 1, 1])
    return np.array(positions), numbers, np.eye(3) * spacing * n_side


@pytest.mark.parametrize("platform", PLATFORMS)
def test_context_equals_the_engine(description, native, platform):
    system = make_system(METHANOL_Z, [gaq_force(description, atomic_numbers=METHANOL_Z)])
    energy, forces = evaluate(system, METHANOL, platform)
    energy_ev, forces_ev = native.compute(METHANOL, METHANOL_Z)
    assert energy == pytest.approx(energy_ev * KJ, rel=SAME_ENGINE_RTOL)
    np.testing.assert_allclose(forces, forces_ev * KJ_NM, rtol=SAME_ENGINE_RTOL, atol=1e-12 * np.abs(forces).max())
    assert np.abs(forces).max() > 1.0  # a real force field, not zeros


def test_context_equals_the_pytorch_model(model, description):
    import torch

    from gaqmd.openmm.pytorch_force import ModelComputation

    system = make_system(METHANOL_Z, [gaq_force(description, atomic_numbers=METHANOL_Z)])
    energy, forces = evaluate(system, METHANOL)
    energy_ev, forces_ev = ModelComputation(model, np.array(METHANOL_Z), torch.float64, False).energy_forces(METHANOL)
    assert energy == pytest.approx(energy_ev * KJ, rel=PYTORCH_RTOL)
    np.testing.assert_allclose(forces, forces_ev * KJ_NM, rtol=PYTORCH_RTOL, atol=PYTORCH_RTOL * np.abs(forces).max())


def test_forces_are_minus_the_gradient_of_the_context_energy(description):
    force = gaq_force(description, atomic_numbers=METHANOL_Z)
    context = openmm.Context(make_system(METHANOL_Z, [force]), openmm.VerletIntegrator(0.0005),
                             openmm.Platform.getPlatformByName("Reference"))
    h = 1e-5  # Å

    def energy(positions):
        context.setPositions(units.angstrom_to_nm(positions))
        return context.getState(getEnergy=True).getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)

    context.setPositions(units.angstrom_to_nm(METHANOL))
    forces = context.getState(getForces=True).getForces(asNumpy=True).value_in_unit(unit.kilojoule_per_mole / unit.nanometer)
    numeric = np.zeros_like(METHANOL)
    for index in np.ndindex(*METHANOL.shape):
        plus, minus = METHANOL.copy(), METHANOL.copy()
        plus[index] += h
        minus[index] -= h
        numeric[index] = -(energy(plus) - energy(minus)) / (2 * h) * units.ANGSTROM_PER_NM  # kJ/mol/nm
    np.testing.assert_allclose(forces, numeric, rtol=FD_RTOL, atol=FD_RTOL * np.abs(forces).max())


def test_reference_equals_cpu_and_cpu_threads_agree(description):
    positions, numbers, _ = water_box()
    system = make_system(numbers, [gaq_force(description, atomic_numbers=numbers)])
    reference = evaluate(system, positions, "Reference")
    one = evaluate(system, positions, "CPU", {"Threads": "1"})
    two = evaluate(system, positions, "CPU", {"Threads": "2"})
    assert one[0] == pytest.approx(reference[0], rel=SAME_ENGINE_RTOL)
    np.testing.assert_allclose(one[1], reference[1], rtol=SAME_ENGINE_RTOL, atol=1e-12 * np.abs(one[1]).max())
    assert two[0] == one[0]
    np.testing.assert_array_equal(two[1], one[1])


def test_xml_round_trip_and_deepcopy_give_identical_energies(description):
    positions, numbers, box = water_box()
    system = make_system(numbers, [gaq_force(description, atomic_numbers=numbers, periodic=True)], box / 10)
    expected = evaluate(system, positions)
    restored = openmm.XmlSerializer.deserialize(openmm.XmlSerializer.serialize(system))
    for clone in (restored, copy.deepcopy(system)):
        energy, forces = evaluate(clone, positions)
        assert energy == expected[0]
        np.testing.assert_array_equal(forces, expected[1])
    assert restored.getForce(0).usesPeriodicBoundaryConditions()


def test_particles_outside_the_subset_feel_nothing(description):
    # methanol (particles 1..6) between two argon atoms (0 and 7, element unknown to the model)
    numbers = [18] + METHANOL_Z + [18]
    positions = np.vstack([[[2.0, 0.5, 0.3]], METHANOL, [[0.5, -1.5, 0.2]]])
    subset = [3, 1, 2, 4, 5, 6]  # any order
    system = make_system(numbers, [gaq_force(description, atomic_numbers=numbers, subset=subset)])
    energy, forces = evaluate(system, positions, "CPU")
    alone_energy, alone_forces = evaluate(make_system(METHANOL_Z, [gaq_force(description, atomic_numbers=METHANOL_Z)]),
                                          METHANOL, "CPU")
    assert energy == pytest.approx(alone_energy, rel=SAME_ENGINE_RTOL)
    np.testing.assert_allclose(forces[1:7], alone_forces, rtol=SAME_ENGINE_RTOL, atol=1e-12 * np.abs(forces).max())
    assert np.all(forces[[0, 7]] == 0.0)


def water_topology(numbers, box):
    topology = app.Topology()
    chain = topology.addChain()
    for k in range(0, len(numbers), 3):
        residue = topology.addResidue("HOH", chain)
        for name, element in (("O", app.element.oxygen), ("H1", app.element.hydrogen), ("H2", app.element.hydrogen)):
            topology.addAtom(name, element, residue)
    topology.setPeriodicBoxVectors(box / 10 * unit.nanometer)
    return topology


@pytest.mark.parametrize("platform", PLATFORMS)
def test_periodic_water_box_equals_the_engine(description, native, platform):
    positions, numbers, box = water_box()
    force = gaq_force(description, topology=water_topology(numbers, box))  # periodic: the topology has a box
    assert force.usesPeriodicBoundaryConditions()
    system = make_system(numbers, [force], box / 10)
    energy, forces = evaluate(system, positions, platform)
    energy_ev, forces_ev = native.compute(positions, numbers, box)
    assert energy == pytest.approx(energy_ev * KJ, rel=SAME_ENGINE_RTOL)
    np.testing.assert_allclose(forces, forces_ev * KJ_NM, rtol=SAME_ENGINE_RTOL, atol=1e-12 * np.abs(forces).max())
    assert energy != pytest.approx(native.compute(positions, numbers)[0] * KJ, rel=1e-6)  # images matter
    shifted = positions.copy()
    shifted[3:6] += box[0] - 2 * box[2]  # a molecule moved by lattice vectors: the same configuration
    assert evaluate(system, shifted, platform)[0] == pytest.approx(energy, rel=1e-12)


def test_periodic_water_box_equals_the_pytorch_model(model, description):
    import torch

    from gaqmd.openmm.pytorch_force import ModelComputation

    positions, numbers, box = water_box()
    force = gaq_force(description, atomic_numbers=numbers, periodic=True)
    energy, forces = evaluate(make_system(numbers, [force], box / 10), positions)
    torch_energy, torch_forces = ModelComputation(model, np.array(numbers), torch.float64, True).energy_forces(positions, box)
    assert energy == pytest.approx(torch_energy * KJ, rel=PYTORCH_RTOL)
    np.testing.assert_allclose(forces, torch_forces * KJ_NM, rtol=PYTORCH_RTOL, atol=PYTORCH_RTOL * np.abs(forces).max())


def test_a_box_shorter_than_twice_the_cutoff_raises_naming_the_box(description):
    positions, numbers, _ = water_box(n_side=1, spacing=3.0)
    system = make_system(numbers, [gaq_force(description, atomic_numbers=numbers, periodic=True)], np.eye(3) * 0.8)
    with pytest.raises(openmm.OpenMMException, match="(?i)box"):
        evaluate(system, positions)


def test_an_element_the_model_does_not_know_is_named_with_its_particle(description):
    with pytest.raises(ValueError, match="particle 2 is Cl .*it knows H, C, O"):
        gaq_force(description, atomic_numbers=[8, 1, 17])


@pytest.mark.parametrize("platform", PLATFORMS)
def test_nan_positions_raise_naming_the_particle(description, platform):
    positions = METHANOL.copy()
    positions[4, 1] = np.nan
    system = make_system(METHANOL_Z, [gaq_force(description, atomic_numbers=METHANOL_Z)])
    # the CPU platform checks coordinates itself before any force runs
    with pytest.raises(openmm.OpenMMException, match="particle 4 has a non-finite position|coordinate is NaN"):
        evaluate(system, positions, platform)


def test_custom_cv_force_wrapping_the_force_gives_the_same_energy(description):
    direct = evaluate(make_system(METHANOL_Z, [gaq_force(description, atomic_numbers=METHANOL_Z)]), METHANOL)
    cv = openmm.CustomCVForce("2*ml")
    cv.addCollectiveVariable("ml", gaq_force(description, atomic_numbers=METHANOL_Z))
    energy, forces = evaluate(make_system(METHANOL_Z, [cv]), METHANOL)
    assert energy == pytest.approx(2 * direct[0], rel=SAME_ENGINE_RTOL)
    np.testing.assert_allclose(forces, 2 * direct[1], rtol=SAME_ENGINE_RTOL, atol=1e-12 * np.abs(forces).max())


def test_force_group_selects_the_force(description):
    force = gaq_force(description, atomic_numbers=METHANOL_Z)
    force.setForceGroup(3)
    context = openmm.Context(make_system(METHANOL_Z, [force]), openmm.VerletIntegrator(0.0005),
                             openmm.Platform.getPlatformByName("Reference"))
    context.setPositions(units.angstrom_to_nm(METHANOL))
    group3 = context.getState(getEnergy=True, groups={3}).getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
    others = context.getState(getEnergy=True, groups={0, 1, 2}).getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
    assert group3 != 0.0 and others == 0.0


@pytest.mark.parametrize(("mode", "attention", "learned"), [("w4a32", True, False), ("w4a8", False, False),
                                                          ("w4a8", False, True)])
def test_quantized_models_in_a_context_equal_pytorch(data_dir, mode, attention, learned):
    import torch

    from gaqmd.data import read_frames
    from gaqmd.openmm.pytorch_force import ModelComputation
    from gaqmd.testing.model import quantized_model

    frames = read_frames(data_dir / "rmd17" / "train_1000.xyz", index="0:8")
    model = quantized_model(mode, frames, attention=attention, learn_weight_scales=learned)
    if learned:  # scales as training leaves them: no longer what any rule computes from the weights
        with torch.no_grad():
            for name, scales in model.named_parameters():
                if "learned_scales" in name:
                    scales.mul_(1.0 + 0.3 * torch.rand(scales.shape, generator=torch.Generator().manual_seed(0)))
    frame = frames[-1]
    system = make_system(frame.numbers, [gaq_force(lower_model(model), atomic_numbers=frame.numbers)])
    energy, forces = evaluate(system, frame.positions, "CPU")
    torch_energy, torch_forces = ModelComputation(model, frame.numbers, torch.float64, False).energy_forces(frame.positions)
    assert energy == pytest.approx(torch_energy * KJ, rel=PYTORCH_RTOL)
    np.testing.assert_allclose(forces, torch_forces * KJ_NM, rtol=PYTORCH_RTOL, atol=PYTORCH_RTOL * np.abs(forces).max())
