"""Systems: atoms by symbol with ground-state spins, H2, XYZ files in Å or bohr, and bad input."""

import pytest
import torch
from ase.units import Bohr

from gaqmd.vmc.systems import atom, hydrogen_molecule, make_system, named_system, read_xyz


@pytest.mark.parametrize("symbol, up, down", [("H", 1, 0), ("he", 1, 1), ("C", 4, 2), ("N", 5, 2), ("Ne", 5, 5)])
def test_atoms_take_their_ground_state_spin(symbol, up, down):
    system = atom(symbol)
    assert (system.n_up, system.n_down) == (up, down)
    assert system.charge == 0 and system.nuclei().shape == (1, 3)


def test_h2_charge_and_spin():
    h2 = named_system("H2", bond=2.0)
    assert h2.positions == ((0.0, 0.0, -1.0), (0.0, 0.0, 1.0)) and (h2.n_up, h2.n_down) == (1, 1)
    assert named_system("h2").positions[1][2] == pytest.approx(0.7)
    triplet = hydrogen_molecule(1.4, spin=2)
    assert (triplet.n_up, triplet.n_down, triplet.spin) == (2, 0, 2)
    cation = hydrogen_molecule(2.0, charge=1)
    assert (cation.n_up, cation.n_down, cation.charge) == (1, 0, 1)
    torch.testing.assert_close(cation.nuclear_charges(), torch.tensor([1.0, 1.0], dtype=torch.float64))


@pytest.mark.parametrize("unit, factor", [("A", 1.0 / Bohr), ("bohr", 1.0)])
def test_xyz_positions_are_converted_to_bohr(tmp_path, unit, factor):
    path = tmp_path / "lih.xyz"
    path.write_text("2\nlithium hydride\nLi 0.0 0.0 0.0\nH 0.0 0.0 1.6 extra columns ignored\n")
    system = read_xyz(path, unit, charge=0)
    assert system.symbols == ("Li", "H") and system.charges == (3.0, 1.0)
    assert system.positions[1][2] == pytest.approx(1.6 * factor)
    assert (system.n_up, system.n_down) == (2, 2)


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: atom("Xx"), "unknown element 'Xx'"),
        (lambda: atom("H", spin=0), "1 electrons cannot have spin 2S = 0"),
        (lambda: hydrogen_molecule(1.4, spin=1), "2 electrons cannot have spin"),
        (lambda: hydrogen_molecule(1.4, spin=4), "2 electrons cannot have spin"),
        (lambda: hydrogen_molecule(1.4, charge=2), "leaves 0 electrons"),
        (lambda: hydrogen_molecule(-1.0), "positive"),
        (lambda: named_system("He", bond=1.0), "H2 and LiH only"),
        (lambda: make_system("x", ["H"], [(0.0, 0.0)]), "position"),
    ],
)
def test_bad_systems_are_refused_with_a_clear_message(build, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        build()


def test_bad_xyz_files_name_the_problem(tmp_path):
    path = tmp_path / "bad.xyz"
    path.write_text("2\n\nH 0 0 0\nQq 0 0 1\n")
    with pytest.raises(ValueError, match="bad.xyz.*unknown element 'Qq'"):
        read_xyz(path)
    path.write_text("2\n\nH 0 0 0\nH 0 zero 1\n")
    with pytest.raises(ValueError, match="line 4"):
        read_xyz(path)
    path.write_text("3\n\nH 0 0 0\n")
    with pytest.raises(ValueError, match="expected 3 atom lines"):
        read_xyz(path)
    with pytest.raises(FileNotFoundError):
        read_xyz(tmp_path / "missing.xyz")
    with pytest.raises(ValueError, match="length unit"):
        read_xyz(path, "nm")


def test_lithium_hydride():
    lih = named_system("LiH")
    assert lih.symbols == ("Li", "H") and (lih.n_up, lih.n_down) == (2, 2)
    assert lih.positions == ((0.0, 0.0, 0.0), (0.0, 0.0, 3.015))
    assert named_system("lih", bond=3.2).positions[1][2] == pytest.approx(3.2)
    with pytest.raises(ValueError, match="positive"):
        named_system("LiH", bond=-1.0)
