"""`gaqmd md`: OpenMM MD from a structure file, with outputs mdtraj and pandas-free CSV readers can use."""

import csv
import json

import ase.io
import mdtraj
import numpy as np
import pytest
from ase import Atoms

from gaqmd.cli import main
from gaqmd.md import read_structure
from gaqmd.models import bundled_model


@pytest.fixture(scope="module")
def aspirin_xyz(tmp_path_factory, data_dir):
    frame = ase.io.read(data_dir / "rmd17" / "aspirin_1000.xyz", index=0)
    path = tmp_path_factory.mktemp("structures") / "aspirin.xyz"
    ase.io.write(path, Atoms(frame.numbers, frame.positions))
    return path


def test_md_writes_energies_trajectory_and_speed(aspirin_xyz, tmp_path):
    output = tmp_path / "md"
    code = main(["md", str(bundled_model("aspirin_fp32")), str(aspirin_xyz), "--engine", "pytorch", "--steps", "20",
                 "--report", "5", "--integrator", "verlet", "-o", str(output), "--no-progress"])
    assert code == 0
    with open(output / "energies.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(row["step"]) for row in rows] == [0, 5, 10, 15, 20]
    totals = np.array([float(row["total_kj_mol"]) for row in rows[1:]])
    assert np.ptp(totals) < 1.0  # NVE at 0.5 fs: kJ/mol-level conservation over 10 fs
    trajectory = mdtraj.load(output / "trajectory.dcd", top=output / "topology.pdb")
    assert trajectory.n_frames == 4 and trajectory.n_atoms == 21
    assert json.loads((output / "summary.json").read_text())["ns_per_day"] > 0


def test_structure_errors_name_the_problem(tmp_path, capsys):
    assert main(["md", str(bundled_model("aspirin_fp32")), str(tmp_path / "missing.xyz")]) == 2
    assert "no such structure file" in capsys.readouterr().err
    sodium = tmp_path / "sodium.xyz"
    ase.io.write(sodium, Atoms("NaCl", positions=[[0, 0, 0], [2.5, 0, 0]]))
    assert main(["md", str(bundled_model("aspirin_fp32")), str(sodium), "--engine", "pytorch", "-o",
                 str(tmp_path / "out"), "--no-progress"]) == 2
    assert "Na" in capsys.readouterr().err


def test_periodic_xyz_gives_a_periodic_topology(tmp_path):
    path = tmp_path / "box.xyz"
    ase.io.write(path, Atoms("H2O", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]], cell=[12, 12, 12], pbc=True))
    structure = read_structure(path)
    assert structure.box is not None and np.allclose(np.diag(structure.box), 1.2)
    assert structure.topology.getPeriodicBoxVectors() is not None
