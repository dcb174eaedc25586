"""gaqmd.checks.report: the markdown report and its PNGs for every kind of result, and the text tables."""

import numpy as np
import openmm
import pytest

from gaqmd.checks import (
    energy_force_parity,
    format_conservation,
    format_report,
    format_stability,
    local_equivariance_error,
    model_energy_forces,
    stability_check,
    timestep_scan,
    write_report,
)
from gaqmd.data import Units, read_frames
from gaqmd.testing.model import make_model

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def frames(data_dir):
    return read_frames(data_dir / "rmd17" / "aspirin_1000.xyz", Units(energy="meV"), index=":60")


@pytest.fixture(scope="module")
def results(frames):
    system = openmm.System()
    for _ in range(2):
        system.addParticle(12.0)
    bond = openmm.HarmonicBondForce()
    bond.addBond(0, 1, 0.15, 2.0e5)
    system.addForce(bond)
    start = (system, np.array([[0.0, 0.0, 0.0], [0.16, 0.0, 0.0]]), np.zeros((2, 3)))
    conservation = timestep_scan(start, dts_fs=(0.25, 0.5), duration_ps=0.5)
    positions, numbers = np.array([frame.positions for frame in frames]), frames[0].numbers
    stretched = positions[:30].copy()
    stretched[20:, 13] += 3.0  # the acid hydrogen leaves at frame 20
    stability = stability_check(stretched, numbers, reference=positions[30:])
    energy_forces = model_energy_forces(make_model(species=(1, 6, 8)))
    parity = energy_force_parity(energy_forces, energy_forces, positions[:3], numbers)
    equivariance = local_equivariance_error(energy_forces, frames[:1], n_rotations=1)
    return conservation, stability, parity, equivariance


def test_report_with_every_section_and_its_figures(results, tmp_path):
    conservation, stability, parity, equivariance = results
    paths = write_report(tmp_path / "checks", conservation=conservation, stability=stability, parity=parity,
                         equivariance=equivariance, title="Aspirin, FP32", notes="Toy run for the test.")
    names = sorted(path.name for path in paths)
    assert names == sorted(["report.md", "nve_energy.png", "nve_drift_vs_dt.png", "bond_stretch.png",
                            "distributions.png", "parity.png"])
    for path in paths:
        assert path.exists() and path.parent == tmp_path / "checks"
        if path.suffix == ".png":
            assert path.read_bytes()[:8] == PNG_MAGIC
    text = (tmp_path / "checks" / "report.md").read_text()
    for heading in ("# Aspirin, FP32", "## Energy conservation (NVE)", "## Structural stability",
                    "## Energy and force parity", "## Rotational equivariance"):
        assert heading in text
    assert all(f"]({name})" in text for name in names if name.endswith(".png"))
    assert "| energy conservation | pass |" in text
    assert "| stability | FAIL: dissociation at frame 20 |" in text
    assert "Toy run for the test." in text and "openmm" in text


def test_report_of_a_single_result_has_only_its_section(results):
    conservation, _, _, _ = results
    text = format_report(conservation=conservation[0])
    assert "## Energy conservation (NVE)" in text and "## Structural stability" not in text
    assert format_report().count("No checks were given.") == 1


def test_text_tables(results):
    conservation, stability, _, _ = results
    table = format_conservation(conservation)
    assert len(table.splitlines()) == 2 + len(conservation) and "conserved" in table
    text = format_stability(stability)
    assert "DISSOCIATION at frame 20" in text and "C-H" in text
