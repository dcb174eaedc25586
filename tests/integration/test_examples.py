"""The native-engine examples run and print what the model gives: examples/openmm_gaq_force.py (and its
XmlSerializer round trip), openmm_ml_route.py, ase_route.py and mixed_aspirin_water.py (openmm-ml's
createMixedSystem: the ML region's energy is the model's energy of aspirin alone)."""

import importlib.metadata
import importlib.util
import math
import re
from pathlib import Path

import numpy as np
import openmm
import pytest
from openmm import app, unit

from gaqmd.cli import main as gaqmd_main
from gaqmd.data import read_frames
from gaqmd.models import bundled_model
from gaqmd.native import NativeModel
from gaqmd.openmm.units import KJ_PER_MOL_PER_EV

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
KJ = 96.48533212331  # kJ/mol per eV
NUMBER = r"(-?\d+(?:\.\d+)?(?:e[-+]?\d+)?)"


def load_example(name: str):
    """examples/<name>.py as a module (the examples are scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(f"gaqmd_example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def number_after(label: str, text: str) -> float:
    """The number printed right after `label` (first occurrence)."""
    match = re.search(re.escape(label) + r"\s+" + NUMBER, text)
    assert match, f"no {label!r} in the output:\n{text}"
    return float(match.group(1))


def numbers_in(pattern: str, text: str) -> list[float]:
    """The groups of `pattern` (NUMBER placeholders written as {n}) on one line of `text`."""
    match = re.search(pattern.replace("{n}", NUMBER), text, re.MULTILINE)
    assert match, f"no {pattern!r} in the output:\n{text}"
    return [float(value) for value in match.groups()]


@pytest.fixture(scope="module")
def gaq_model(tmp_path_factory) -> Path:
    """The bundled W4A8 model as a .gaq file, written by `gaqmd export` (lowered once, then read fast)."""
    path = tmp_path_factory.mktemp("model") / "aspirin_w4a8.gaq"
    assert gaqmd_main(["export", str(bundled_model("aspirin_w4a8")), "-o", str(path)]) == 0
    return path


@pytest.fixture(scope="module")
def native(gaq_model) -> NativeModel:
    return NativeModel(gaq_model)


@pytest.fixture(scope="module")
def frame(data_dir):
    return read_frames(data_dir / "rmd17" / "aspirin_1000.xyz", energy_key=None, forces_key=None, index="0")[0]


@pytest.fixture(scope="module")
def openmm_ml():
    """openmm-ml's MLPotential, knowing "gaq".

    gaqmd declares "gaq" through the "openmmml.potentials" entry point in pyproject.toml. An editable
    install made before that entry point existed has package metadata without it, so openmm-ml does
    not know the name; register it for these tests then (and only then), and undo it afterwards.
    A fresh install (CI) has the entry point and needs nothing.
    """
    openmmml = pytest.importorskip("openmmml")
    from gaqmd.openmm.openmmml_potential import GaqPotentialImplFactory

    registered = "gaq" in {entry.name for entry in importlib.metadata.entry_points(group="openmmml.potentials")}
    if not registered:
        openmmml.MLPotential.registerImplFactory("gaq", GaqPotentialImplFactory())
    yield openmmml.MLPotential
    if not registered:
        openmmml.MLPotential._implFactories.pop("gaq", None)


def test_kj_per_ev_constant():
    assert KJ_PER_MOL_PER_EV == pytest.approx(KJ, rel=1e-12)


def test_openmm_gaq_force_example(capsys, tmp_path, gaq_model, native, frame):
    example = load_example("openmm_gaq_force")
    reference = native.compute(frame.positions, frame.numbers)[0] * KJ

    # the default: the bundled .pt model, lowered on the fly
    assert example.main(["--steps", "5"]) == 0
    output = capsys.readouterr().out
    assert "aspirin_w4a8.pt: GaqForce" in output
    assert number_after("initial potential energy", output) == pytest.approx(reference, rel=1e-9)
    energy, temperature = numbers_in(r"^potential energy {n} kJ/mol, temperature {n} K$", output)
    assert math.isfinite(energy) and 0 < temperature < 2000
    assert numbers_in(r"^{n} ns/day$", output)[0] > 0
    before, after = numbers_in(r"XmlSerializer round trip .*: energy {n} kJ/mol before, {n} after: identical$",
                               output)
    assert before == after and math.isfinite(before)

    # a .gaq file from `gaqmd export`, and the serialized System written out
    xml_path = tmp_path / "system.xml"
    assert example.main(["--steps", "3", "--model", str(gaq_model), "--system-xml", str(xml_path)]) == 0
    output = capsys.readouterr().out
    assert number_after("initial potential energy", output) == pytest.approx(reference, rel=1e-9)
    system = openmm.XmlSerializer.deserialize(xml_path.read_text(encoding="utf-8"))
    assert [force.getName() for force in system.getForces()] == ["GaqForce"]
    assert system.getNumParticles() == len(frame.numbers)


def test_openmm_ml_route_example(capsys, gaq_model, native, frame, openmm_ml):
    example = load_example("openmm_ml_route")
    assert example.main(["--steps", "5", "--report", "5", "--model", str(gaq_model)]) == 0
    output = capsys.readouterr().out
    assert "forces GaqForce, CMMotionRemover" in output
    reference = native.compute(frame.positions, frame.numbers)[0] * KJ
    assert number_after("initial potential energy", output) == pytest.approx(reference, rel=1e-9)
    assert math.isfinite(numbers_in(r"^potential energy {n} kJ/mol$", output)[0])
    assert numbers_in(r"^5,{n},{n},", output)  # the StateDataReporter's line at step 5
    assert numbers_in(r"^{n} ns/day$", output)[0] > 0


def test_ase_route_example(capsys, gaq_model, native, frame):
    example = load_example("ase_route")
    assert example.main(["--steps", "10", "--report", "5", "--model", str(gaq_model)]) == 0
    output = capsys.readouterr().out
    epot, ekin, etot = numbers_in(r"^step\s+0\s+Epot {n} eV\s+Ekin {n} eV\s+Etot {n} eV", output)
    assert epot == pytest.approx(native.compute(frame.positions, frame.numbers)[0], rel=1e-9)
    assert ekin > 0 and etot == pytest.approx(epot + ekin, abs=2e-6)
    assert re.search(r"^step\s+10\s", output, re.MULTILINE), output
    drift, excursion = numbers_in(r"^total energy drift \+?{n} meV/atom \(largest excursion {n} meV/atom\)", output)
    assert math.isfinite(drift) and abs(drift) <= excursion < 1e3
    assert 0 < numbers_in(r"^final potential energy {n} eV, temperature {n} K$", output)[1] < 2000


def test_mixed_aspirin_water_example_runs(capsys, tmp_path, gaq_model, openmm_ml):
    example = load_example("mixed_aspirin_water")
    pdb = tmp_path / "last.pdb"
    assert example.main(["--steps", "5", "--minimize", "10", "--model", str(gaq_model), "--output", str(pdb)]) == 0
    output = capsys.readouterr().out
    n_atoms = int(re.search(r"\((\d+) atoms; water", output).group(1))
    initial = [number_after(label, output.split("initial:")[1]) for label in ("total", "ML (aspirin)", "+ MM")]
    assert all(math.isfinite(value) for value in initial)
    assert initial[0] == pytest.approx(initial[1] + initial[2], abs=2e-3)
    final = [number_after(label, output.split("final:")[1]) for label in ("total", "ML", "+ MM")]
    assert all(math.isfinite(value) for value in final)
    minimized = number_after("total", output.split("minimized")[1])
    assert minimized < initial[0]
    # lambda_interpolate = 1 is the ML/MM system
    assert number_after("lambda_interpolate 1.0: potential energy", output) == pytest.approx(initial[0], rel=1e-9)
    written = app.PDBFile(str(pdb))
    assert written.topology.getNumAtoms() == n_atoms
    assert np.isfinite(written.getPositions(asNumpy=True).value_in_unit(unit.angstrom)).all()


def test_mixed_system_ml_region_is_the_model_alone(gaq_model, native, frame, openmm_ml):
    example = load_example("mixed_aspirin_water")
    edge = 24.0
    topology, positions, aspirin = example.solvate(frame.numbers, frame.positions, edge=edge, clearance=2.4, seed=3)
    n_aspirin = len(frame.numbers)
    assert aspirin == list(range(n_aspirin)) and topology.getNumAtoms() == len(positions)
    waters = positions[n_aspirin:]
    assert len(waters) > 3 * 300 and len(waters) % 3 == 0
    delta = waters[:, None] - positions[None, :n_aspirin]
    delta -= edge * np.round(delta / edge)
    assert np.linalg.norm(delta, axis=-1).min() >= 2.4  # the clearance, with periodic images

    mm_system = example.build_mm_system(topology, aspirin)
    potential = openmm_ml("gaq", model=str(gaq_model))
    mixed = potential.createMixedSystem(topology, mm_system, aspirin, forceGroup=1)
    # periodic, and gaqmd's potential is not long-range: no ML-ML PME correction force is added
    assert {force.getName(): force.getForceGroup() for force in mixed.getForces()} == {
        "HarmonicBondForce": 0, "HarmonicAngleForce": 0, "NonbondedForce": 0, "CMMotionRemover": 0, "GaqForce": 1}
    gaq = next(force for force in mixed.getForces() if force.getName() == "GaqForce")
    assert gaq.usesPeriodicBoundaryConditions()

    platform = openmm.Platform.getPlatformByName("CPU")
    context = openmm.Context(mixed, openmm.VerletIntegrator(0.0005), platform, {"Threads": "1"})
    context.setPositions(positions / 10.0)
    state = context.getState(getEnergy=True, getForces=True, groups={1})
    energy, forces = native.compute(positions[:n_aspirin], frame.numbers, np.eye(3) * edge)
    assert state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole) == pytest.approx(energy * KJ, rel=1e-9)
    ml_forces = state.getForces(asNumpy=True).value_in_unit(unit.kilojoule_per_mole / unit.nanometer)
    np.testing.assert_allclose(ml_forces[:n_aspirin], forces * KJ * 10.0, rtol=1e-7, atol=1e-6)
    assert not ml_forces[n_aspirin:].any()  # the waters get nothing from the model

    # MM group: the MM System's own energy (it has nothing inside aspirin for openmm-ml to remove)
    mm_context = openmm.Context(mm_system, openmm.VerletIntegrator(0.0005), platform, {"Threads": "1"})
    mm_context.setPositions(positions / 10.0)
    mm_energy = mm_context.getState(getEnergy=True).getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
    mixed_mm = context.getState(getEnergy=True, groups={0}).getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
    assert mixed_mm == pytest.approx(mm_energy, rel=1e-6, abs=1e-3)

    # interpolate=True: lambda_interpolate 0 is the MM System, 1 the ML/MM one
    interpolated = potential.createMixedSystem(topology, mm_system, aspirin, interpolate=True)
    probe = openmm.Context(interpolated, openmm.VerletIntegrator(0.0005), platform, {"Threads": "1"})
    probe.setPositions(positions / 10.0)
    values = {}
    for value in (0.0, 0.5, 1.0):
        probe.setParameter("lambda_interpolate", value)
        values[value] = probe.getState(getEnergy=True).getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
    assert values[0.0] == pytest.approx(mm_energy, rel=1e-6, abs=1e-3)
    assert values[1.0] == pytest.approx(mm_energy + energy * KJ, rel=1e-9)
    assert values[0.5] == pytest.approx(mm_energy + 0.5 * energy * KJ, rel=1e-9)
