"""`gaqmd vmc`: files written, the labelled geometry read back by gaqmd.data, bad input exits with 2."""

import json

import pytest
from ase.units import Bohr, Hartree

from gaqmd.cli import main
from gaqmd.data import read_frames

TINY = ["--steps", "15", "--walkers", "32", "--eval-steps", "20", "--hidden", "6", "--layers", "1",
        "--determinants", "1", "--no-progress"]


def test_h2_run_writes_summary_plot_and_a_readable_geometry(tmp_path, capsys):
    assert main(["vmc", "--system", "H2", "--bond", "1.6", "--seed", "3", "--output", str(tmp_path), *TINY]) == 0
    printed = capsys.readouterr().out
    assert "E = -" in printed and " ± " in printed and "Ha" in printed
    summary = json.loads((tmp_path / "vmc_summary.json").read_text())
    assert summary["system"]["n_up"] == summary["system"]["n_down"] == 1
    assert len(summary["trace_hartree"]) == 15 and len(summary["evaluation_hartree"]) == 20
    assert summary["settings"]["train"]["seed"] == 3 and summary["stderr_hartree"] > 0
    assert (tmp_path / "energy_trace.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (frame,) = read_frames(tmp_path / "vmc_geometry.xyz", forces_key=None)  # VMC gives no forces
    assert frame.energy == pytest.approx(summary["energy_hartree"] * Hartree, rel=1e-12)
    assert list(frame.numbers) == [1, 1]
    assert frame.positions[:, 2] == pytest.approx([-0.8 * Bohr, 0.8 * Bohr], rel=1e-8)


def test_xyz_input_with_charge_and_spin(tmp_path, capsys):
    xyz = tmp_path / "h3.xyz"
    xyz.write_text("3\nH3+ triangle, Å\nH 0 0 0\nH 0.87 0 0\nH 0.435 0.753 0\n")
    output = tmp_path / "out"
    assert main(["vmc", "--xyz", str(xyz), "--charge", "1", "--spin", "0", "--output", str(output), *TINY]) == 0
    assert "1 up, 1 down electrons, charge 1" in capsys.readouterr().out
    (frame,) = read_frames(output / "vmc_geometry.xyz", forces_key=None)
    assert frame.positions[1, 0] == pytest.approx(0.87, rel=1e-10)  # Å in, Å out


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--system", "Xx"], "unknown element 'Xx'"),
        (["--system", "H", "--spin", "0"], "1 electrons cannot have spin 2S = 0"),
        (["--system", "H2", "--spin", "1"], "2 electrons cannot have spin 2S = 1"),
        (["--system", "He", "--bond", "1.0"], "--bond applies to H2 and LiH only"),
        (["--xyz", "missing.xyz"], "no such file"),
    ],
)
def test_bad_input_exits_with_code_2_and_says_why(tmp_path, capsys, monkeypatch, arguments, message):
    monkeypatch.chdir(tmp_path)
    assert main(["vmc", *arguments, "--output", str(tmp_path / "out"), *TINY]) == 2
    error = capsys.readouterr().err
    assert error.startswith("gaqmd vmc: error:") and message in error
    assert not (tmp_path / "out").exists()


def test_odd_electron_xyz_with_impossible_spin(tmp_path, capsys):
    xyz = tmp_path / "h3.xyz"
    xyz.write_text("3\n\nH 0 0 0\nH 1 0 0\nH 0 1 0\n")
    assert main(["vmc", "--xyz", str(xyz), "--spin", "2", *TINY]) == 2
    assert "3 electrons cannot have spin 2S = 2" in capsys.readouterr().err


def test_system_or_xyz_is_required(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["vmc", *TINY])
    assert exit_info.value.code == 2
    assert "--system" in capsys.readouterr().err


def test_pretrain_and_minsr_options(tmp_path, capsys):
    pytest.importorskip("pyscf")
    output = tmp_path / "out"
    assert main(["vmc", "--system", "LiH", "--pretrain", "5", "--pretrain-basis", "sto-3g", "--optimizer", "minsr",
                 "--output", str(output), *TINY]) == 0
    assert "2 up, 2 down electrons" in capsys.readouterr().out
    settings = json.loads((output / "vmc_summary.json").read_text())["settings"]["train"]
    assert settings["optimizer"] == "minsr" and settings["learning_rate"] == 0.05 and settings["pretrain_steps"] == 5


def test_pretrain_without_pyscf_exits_with_an_install_hint(tmp_path, capsys, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_pyscf(name, *args, **kwargs):
        if name == "pyscf" or name.startswith("pyscf."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyscf)
    assert main(["vmc", "--system", "He", "--pretrain", "10", "--output", str(tmp_path / "out"), *TINY]) == 2
    assert "pip install pyscf" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
