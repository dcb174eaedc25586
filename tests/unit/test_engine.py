"""The native engine (gaqmd._core.Engine) against the float64 PyTorch model it was lowered from.

Every mode (fp32, w4a32, w4a8 with local and global direction frames, w4a8-naive), l_max 1 and 2
(in w4a8 with each l = 2 quantizer: mddq-fp16, int8-shared, fp16), attention on and off, molecules in vacuum and a triclinic periodic cell; thread-count independence; forces
equal to central differences of the engine's own energy.
"""

import copy

import numpy as np
import pytest
import torch

from gaqmd.data import neighbor_list, read_frames, species_index
from gaqmd.export.lower import lower_model
from gaqmd.native import core
from gaqmd.quant.activations import set_int8_ste
from gaqmd.testing.model import make_model, quantized_model
from gaqmd.testing.tolerances import ENGINE_ENERGY_RTOL, ENGINE_FORCE_RMS_RTOL, FINITE_DIFFERENCE_FORCES

# (mode, model options, quantization options)
CASES = {
    "fp32-l1": ("fp32", {}, {}),
    "fp32-l2": ("fp32", {"l_max": 2}, {}),
    "fp32-attention": ("fp32", {"attention": True}, {}),
    "fp32-l2-attention": ("fp32", {"l_max": 2, "attention": True}, {}),
    "w4a32-l2-attention": ("w4a32", {"l_max": 2, "attention": True}, {}),
    "w4a32-grouped": ("w4a32", {}, {"group_size": 4, "weight_scale": "mse"}),  # last group shorter (K = 6)
    "w4a8-local": ("w4a8", {}, {}),
    "w4a8-global": ("w4a8", {}, {"direction_frame": "global"}),
    "w4a8-local-attention-log": ("w4a8", {"attention": True}, {"magnitude_log_domain": True}),
    "w4a8-12-bit-activations": ("w4a8", {}, {"activation_bits": 12}),  # the energy-conserving width
    # the radial basis in float (no radial0.in_q, no key_radial.in_q): the per-pair MLP, no cache
    "w4a8-float-edge-basis-attention": ("w4a8", {"attention": True}, {"edge_basis": "float"}),
    # forces through int8 activations beyond their range (max |x| of ethanol frames; aspirin's and
    # the cell's exceed it): the radial cache and the key's basis (int8 basis), the per-pair radial
    # MLP and int8 l = 2 blocks (float basis)
    "w4a8-unclipped-ste-attention": ("w4a8", {"attention": True}, {"int8_ste": "unclipped", "scale_init": "max"}),
    "w4a8-unclipped-ste-l2-int8-float-basis": ("w4a8", {"l_max": 2}, {"int8_ste": "unclipped", "scale_init": "max",
                                                                       "edge_basis": "float",
                                                                       "l2_mode": "int8-shared"}),
    # the per-component int8 baseline: l = 1 blocks of kind int8, one scale per block
    "w4a8-naive": ("w4a8-naive", {}, {}),
    "w4a8-naive-attention": ("w4a8-naive", {"attention": True}, {}),
    # l = 2 blocks of kind mddq-fp16 / int8 (a scale per channel) / fp16 next to mddq l = 1 blocks
    "w4a8-l2-mddq-fp16": ("w4a8", {"l_max": 2}, {"l2_mode": "mddq-fp16", "l2_frame": "global"}),
    "w4a8-l2-mddq-fp16-attention-global": ("w4a8", {"l_max": 2, "attention": True},
                                           {"l2_mode": "mddq-fp16", "direction_frame": "global", "l2_frame": "global"}),
    "w4a8-l2-int8-shared": ("w4a8", {"l_max": 2}, {"l2_mode": "int8-shared", "l2_frame": "global"}),
    "w4a8-l2-fp16": ("w4a8", {"l_max": 2}, {"l2_mode": "fp16", "l2_frame": "global"}),
    # l = 2 blocks quantized in the atoms' local frames (the documented l = 2 choice); with global
    # MDDQ directions the frames serve the l = 2 blocks alone
    "w4a8-l2-int8-shared-local": ("w4a8", {"l_max": 2}, {"l2_mode": "int8-shared", "l2_frame": "local"}),
    "w4a8-l2-mddq-fp16-local-global-directions": ("w4a8", {"l_max": 2}, {"l2_mode": "mddq-fp16", "l2_frame": "local",
                                                                       "direction_frame": "global"}),
}


@pytest.fixture(scope="module")
def ethanol(data_dir):
    return read_frames(data_dir / "rmd17" / "train_1000.xyz", index="0:6")


@pytest.fixture(scope="module")
def aspirin(data_dir):
    return read_frames(data_dir / "rmd17" / "aspirin_1000.xyz", index="0:2")


_MODELS = {}


def model_for(case, ethanol):
    """(PyTorch model, engine) of a CASES entry, built once per test session."""
    if case not in _MODELS:
        mode, options, quant = CASES[case]
        model = make_model(**options) if mode == "fp32" else quantized_model(mode, ethanol[:4], **options, **quant)
        _MODELS[case] = model, core().Engine(*lower_model(model))
    return _MODELS[case]


def torch_energy_forces(model, positions, numbers, cell=None):
    """float64 PyTorch energy (eV) and forces (n, 3) eV/Å, gaqmd.data's neighbour list (with shifts)."""
    pbc = (True, True, True) if cell is not None else (False, False, False)
    edge_index, shifts = neighbor_list(positions, model.config.cutoff, cell, pbc)
    x = torch.tensor(positions, dtype=torch.float64, requires_grad=True)
    species = torch.from_numpy(species_index(np.asarray(numbers), model.config.species))
    energy = model(x, species, torch.from_numpy(edge_index), torch.from_numpy(shifts),
                   torch.zeros(len(numbers), dtype=torch.long), 1)[0]
    (gradient,) = torch.autograd.grad(energy, x)
    return energy.item(), -gradient.numpy()


def engine_energy_forces(model, engine, positions, numbers, cell=None, threads=1):
    index = species_index(np.asarray(numbers), model.config.species).astype(np.int32)
    return engine.compute(np.asarray(positions, dtype=np.float64), index, cell, threads)


def assert_matches(engine_result, torch_result):
    (energy, forces), (reference_energy, reference_forces) = engine_result, torch_result
    assert abs(energy - reference_energy) <= ENGINE_ENERGY_RTOL * abs(reference_energy)
    rms = np.sqrt(np.mean((forces - reference_forces) ** 2) / np.mean(reference_forces**2))
    assert rms <= ENGINE_FORCE_RMS_RTOL, f"forces differ: relative RMS {rms:.3e}"


def periodic_system(seed=3, count=40):
    """count H/C/O atoms >= 1 Å apart in a triclinic cell (OpenMM reduced form, heights > 10 Å),
    some placed outside the cell to exercise wrapping. -> (positions, numbers, cell)."""
    cell = np.array([[11.0, 0.0, 0.0], [2.5, 11.5, 0.0], [-2.0, 3.0, 12.0]])
    rng = np.random.default_rng(seed)
    positions = []
    while len(positions) < count:
        candidate = rng.uniform(-0.3, 1.3, size=3) @ cell
        vectors = [candidate - p for p in positions]
        if all(np.linalg.norm(v - np.round(v @ np.linalg.inv(cell)) @ cell) > 1.0 for v in vectors):
            positions.append(candidate)
    return np.array(positions), rng.choice([1, 6, 8], size=count), cell


@pytest.mark.parametrize("case", list(CASES))
def test_engine_equals_pytorch_on_molecules(case, ethanol, aspirin):
    model, engine = model_for(case, ethanol)
    for frame in (ethanol[4], ethanol[5], aspirin[0]):
        assert_matches(engine_energy_forces(model, engine, frame.positions, frame.numbers),
                       torch_energy_forces(model, frame.positions, frame.numbers))


@pytest.mark.parametrize("case", ["fp32-l2-attention", "w4a8-local", "w4a8-local-attention-log",
                                  "w4a8-naive-attention", "w4a8-l2-mddq-fp16", "w4a8-float-edge-basis-attention",
                                  "w4a8-unclipped-ste-attention", "w4a8-unclipped-ste-l2-int8-float-basis"])
def test_engine_equals_pytorch_in_a_triclinic_periodic_cell(case, ethanol):
    model, engine = model_for(case, ethanol)
    positions, numbers, cell = periodic_system()
    engine_result = engine_energy_forces(model, engine, positions, numbers, cell)
    assert_matches(engine_result, torch_energy_forces(model, positions, numbers, cell))
    # The same atoms shifted by lattice vectors are the same periodic system.
    shifted = positions + np.array([[1, -2, 0]]) @ cell
    energy, forces = engine_energy_forces(model, engine, shifted, numbers, cell)
    assert abs(energy - engine_result[0]) <= ENGINE_ENERGY_RTOL * abs(energy)
    np.testing.assert_allclose(forces, engine_result[1], rtol=0, atol=1e-9 * np.abs(forces).max())


@pytest.mark.parametrize("case", ["fp32-l2-attention", "w4a8-local-attention-log", "w4a8-l2-int8-shared"])
def test_results_do_not_depend_on_the_thread_count(case, ethanol):
    model, engine = model_for(case, ethanol)
    positions, numbers, cell = periodic_system(seed=5)
    energy, forces = engine_energy_forces(model, engine, positions, numbers, cell, threads=1)
    for threads in (2, 3):
        other_energy, other_forces = engine_energy_forces(model, engine, positions, numbers, cell, threads=threads)
        assert other_energy == energy
        assert np.array_equal(other_forces, forces)


def test_w4a8_results_do_not_depend_on_what_the_radial_cache_holds(ethanol, aspirin):
    """The w4a8 engine keeps the radial MLP per input code vector between evaluations: a fresh
    engine (every entry computed now, in parallel) and one that has seen other systems agree
    bitwise."""
    model, _ = model_for("w4a8-local", ethanol)
    positions, numbers, cell = periodic_system(seed=7)
    fresh = core().Engine(*lower_model(model))
    energy, forces = engine_energy_forces(model, fresh, positions, numbers, cell, threads=2)
    seasoned = core().Engine(*lower_model(model))
    for frame in (aspirin[0], ethanol[0]):
        engine_energy_forces(model, seasoned, frame.positions, frame.numbers)
    other_energy, other_forces = engine_energy_forces(model, seasoned, positions, numbers, cell, threads=1)
    assert other_energy == energy
    assert np.array_equal(other_forces, forces)


@pytest.mark.parametrize("case", ["fp32-l2-attention", "w4a32-l2-attention"])
def test_forces_equal_central_differences_of_the_engine_energy(case, ethanol):
    model, engine = model_for(case, ethanol)
    frame, h = ethanol[5], 1e-5
    _, forces = engine_energy_forces(model, engine, frame.positions, frame.numbers)
    numeric = np.zeros_like(forces)
    for atom in range(len(frame.numbers)):
        for axis in range(3):
            step = np.zeros_like(frame.positions)
            step[atom, axis] = h
            plus = engine_energy_forces(model, engine, frame.positions + step, frame.numbers)[0]
            minus = engine_energy_forces(model, engine, frame.positions - step, frame.numbers)[0]
            numeric[atom, axis] = -(plus - minus) / (2 * h)
    error = np.abs(numeric - forces).max() / np.abs(forces).max()
    assert error <= FINITE_DIFFERENCE_FORCES, f"finite differences differ by {error:.2e} of the largest force"


@pytest.mark.parametrize("case", ["w4a8-unclipped-ste-attention", "w4a8-unclipped-ste-l2-int8-float-basis"])
def test_the_unclipped_int8_ste_changes_forces_not_energies(case, ethanol, aspirin):
    """The parity of the unclipped cases would be vacuous if no activation left its range (aspirin's
    do, the ranges being calibrated on ethanol): the same model with the clipped derivative gives
    the same energy and other forces, in both codes."""
    model, engine = model_for(case, ethanol)
    clipped = copy.deepcopy(model)
    set_int8_ste(clipped, clipped=True)
    clipped_engine = core().Engine(*lower_model(clipped))
    frame = aspirin[0]
    energy, forces = engine_energy_forces(model, engine, frame.positions, frame.numbers)
    clipped_result = engine_energy_forces(clipped, clipped_engine, frame.positions, frame.numbers)
    assert clipped_result[0] == energy
    assert np.abs(clipped_result[1] - forces).max() > 1e-2 * np.abs(forces).max()
    assert_matches(clipped_result, torch_energy_forces(clipped, frame.positions, frame.numbers))


def test_w4a8_engine_quantizes_what_the_model_quantizes(ethanol):
    """The parity above would be vacuous if no quantizer acted: check the engine's own features."""
    model, engine = model_for("w4a8-local", ethanol)
    frame = ethanol[4]
    index = species_index(np.asarray(frame.numbers), model.config.species).astype(np.int32)
    tensors = engine.intermediates(frame.positions, index, None)
    x, xq = tensors["layer1.x"], tensors["layer1.xq"]
    scale = lower_model(model)[1]["layer1.in_q.b0.scale"]
    codes = xq[:, :8] / scale
    np.testing.assert_array_equal(codes, np.round(codes))  # int8 scalars on their grid
    assert np.abs(xq - x).max() > 0
    vectors = xq[:, 8:].reshape(-1, 8, 3)
    directions = vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)
    raw = x[:, 8:].reshape(-1, 8, 3)
    raw = raw / np.linalg.norm(raw, axis=-1, keepdims=True)
    angle = np.arccos(np.clip((directions * raw).sum(-1), -1, 1))
    assert 0 < angle.max() < 0.02  # snapped to a 2^16-point codebook: a few mrad
