"""examples/h2_dissociation.py with tiny settings: VMC per bond, PySCF FCI, table, JSON and PNG."""

import importlib.util
import json
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "h2_dissociation.py"


def _example():
    spec = importlib.util.spec_from_file_location("h2_dissociation", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tiny_dissociation_curve_against_fci(tmp_path, capsys):
    pytest.importorskip("pyscf")
    example = _example()
    argv = ["--bonds", "1.4", "4.0", "--steps", "20", "--walkers", "32", "--eval-steps", "20", "--pretrain", "20",
            "--hidden", "6", "--layers", "1", "--determinants", "1", "--basis", "cc-pvdz", "--no-progress",
            "--output", str(tmp_path)]
    assert example.main(argv) == 0
    printed = capsys.readouterr().out
    assert "VMC−FCI (mHa)" in printed
    rows = json.loads((tmp_path / "h2_dissociation.json").read_text())["rows"]
    assert [row["bond_bohr"] for row in rows] == [1.4, 4.0]
    # FCI/cc-pVDZ: bound at 1.4 bohr (≈ −1.1634 Ha), near two H atoms (−0.9993 Ha in this basis) at 4 bohr
    assert rows[0]["fci_hartree"] == pytest.approx(-1.16340, abs=5e-4)
    assert -1.02 < rows[1]["fci_hartree"] < -0.99
    for row in rows:
        assert row["steps"] == 20 and row["stderr_hartree"] > 0
        # variational: 20 steps of a tiny network stay above the FCI energy (within a few error bars)
        assert row["vmc_hartree"] > row["fci_hartree"] - 5 * row["stderr_hartree"]
    assert (tmp_path / "h2_dissociation.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_without_pyscf_the_fci_column_is_skipped_with_a_message(monkeypatch, capsys):
    example = _example()
    monkeypatch.setattr(example, "have_pyscf", lambda: False)
    assert example.main(["--bonds", "1.4", "--steps", "5", "--walkers", "16", "--eval-steps", "8", "--hidden", "4",
                         "--layers", "1", "--determinants", "1", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "PySCF is not installed: no Hartree–Fock pretraining" in printed
    assert "skipping the FCI comparison" in printed and "VMC−FCI" not in printed
