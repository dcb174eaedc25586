"""read_frames on the real rMD17 files, npz / ASE-db round trips, and errors on broken files."""

from pathlib import Path

import ase
import ase.db
import numpy as np
import pytest
from ase.calculators.singlepoint import SinglePointCalculator

from gaqmd.data import DataError, Frame, Units, read_frames

DATA = Path(__file__).resolve().parents[1] / "data" / "rmd17"
ASPIRIN = DATA / "aspirin_1000.xyz"
ETHANOL = DATA / "train_1000.xyz"


def assert_same_frames(got, expected):
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a.numbers, b.numbers)
        np.testing.assert_array_equal(a.positions, b.positions)
        assert a.energy == b.energy
        np.testing.assert_array_equal(a.forces, b.forces)


def test_aspirin_file_contents():
    frames = read_frames(ASPIRIN, Units(energy="meV"))
    assert len(frames) == 1000
    counts = np.bincount(frames[0].numbers)
    assert (counts[1], counts[6], counts[8]) == (8, 9, 4)  # C9H8O4
    first_line = ASPIRIN.read_text().splitlines()[2].split()
    assert frames[0].positions[0].tolist() == [float(v) for v in first_line[1:4]]
    assert frames[0].forces[0, 0] == pytest.approx(float(first_line[4]) * 1e-3, rel=1e-15)
    assert frames[7].source.endswith("aspirin_1000.xyz:frame 7 (line 162)")  # 7 * (21 + 2) + 1
    assert all(f.cell is None and f.pbc == (False, False, False) for f in frames[:10])


def test_lattice_without_pbc_is_not_periodic():
    frame = read_frames(ETHANOL, index=0)[0]
    assert frame.cell is None and frame.pbc == (False, False, False)
    assert frame.energy == pytest.approx(-4209.4657843064815, rel=1e-15)


def test_periodic_extxyz_keeps_cell(tmp_path):
    atoms = ase.Atoms("H2O", positions=[[0, 0, 0], [0.96, 0, 0], [0, 0.96, 0]], cell=[[5, 0, 0], [1, 6, 0], [0, 0, 7]],
                      pbc=[True, True, False])
    atoms.calc = SinglePointCalculator(atoms, energy=-1.5, forces=np.arange(9.0).reshape(3, 3))
    atoms.write(tmp_path / "water.extxyz", format="extxyz")
    frame = read_frames(tmp_path / "water.extxyz", Units(length="nm"))[0]
    assert frame.pbc == (True, True, False)
    np.testing.assert_allclose(frame.cell, 10 * np.array([[5, 0, 0], [1, 6, 0], [0, 0, 7]]))
    np.testing.assert_allclose(frame.forces, np.arange(9.0).reshape(3, 3) / 10)


@pytest.mark.parametrize(
    "index, expected", [("10:13", [10, 11, 12]), (-1, [999]), ([5, 2], [5, 2]), (slice(0, 6, 3), [0, 3])]
)
def test_index_selects_frames_in_file_order(index, expected):
    chosen = read_frames(ETHANOL, index=index)
    assert [f.source.split(":frame ")[1].split()[0] for f in chosen] == [str(k) for k in expected]
    lines = ETHANOL.read_text().splitlines()
    for frame, k in zip(chosen, expected):
        assert frame.positions[0, 0] == float(lines[11 * k + 2].split()[1])


def test_custom_keys_and_skipped_labels(tmp_path):
    path = tmp_path / "custom.xyz"
    path.write_text("2\nProperties=species:S:1:pos:R:3:dft_f:R:3 dft_e=-3.25 pbc=\"F F F\"\n"
                    "H 0 0 0 1 2 3\nH 0 0 0.74 -1 -2 -3\n")
    frame = read_frames(path, energy_key="dft_e", forces_key="dft_f")[0]
    assert frame.energy == -3.25
    np.testing.assert_array_equal(frame.forces, [[1, 2, 3], [-1, -2, -3]])
    bare = read_frames(path, energy_key=None, forces_key=None)[0]
    assert bare.energy is None and bare.forces is None


@pytest.mark.parametrize("layout", ["MD17", "rMD17"])
def test_npz_round_trip(tmp_path, layout):
    frames = read_frames(DATA / "ethanol_100_kcalmol.xyz", Units(energy="kcal/mol"), index=":4")
    positions = np.stack([f.positions for f in frames])
    kcal = 4184.0 / (6.02214076e23 * 1.602176634e-19)  # eV per kcal/mol, oracle independent of ase.units
    energies = np.array([f.energy for f in frames]) / kcal
    forces = np.stack([f.forces for f in frames]) / kcal
    if layout == "MD17":
        arrays = {"z": frames[0].numbers, "R": positions, "E": energies[:, None], "F": forces}
    else:
        arrays = {"nuclear_charges": frames[0].numbers, "coords": positions, "energies": energies, "forces": forces,
                  "old_indices": np.arange(4)}
    np.savez(tmp_path / "md.npz", **arrays)
    got = read_frames(tmp_path / "md.npz", Units(energy="kcal/mol"))
    assert len(got) == 4
    for a, b in zip(got, frames):
        np.testing.assert_array_equal(a.numbers, b.numbers)
        np.testing.assert_array_equal(a.positions, b.positions)
        assert a.energy == pytest.approx(b.energy, rel=1e-7)
        np.testing.assert_allclose(a.forces, b.forces, rtol=1e-7)
    assert got[1].source.endswith("md.npz:frame 1")


def test_ase_db_round_trip(tmp_path):
    frames = read_frames(ASPIRIN, index=":3")
    with ase.db.connect(tmp_path / "frames.db") as db:
        for f in frames:
            atoms = ase.Atoms(numbers=f.numbers, positions=f.positions)
            atoms.calc = SinglePointCalculator(atoms, energy=f.energy, forces=f.forces)
            db.write(atoms, ref_energy=f.energy + 1.0, data={"ref_forces": 2 * f.forces})
    assert_same_frames(read_frames(tmp_path / "frames.db"), frames)
    custom = read_frames(tmp_path / "frames.db", energy_key="ref_energy", forces_key="ref_forces", index="1:")
    assert [c.energy for c in custom] == [f.energy + 1.0 for f in frames[1:]]
    np.testing.assert_array_equal(custom[1].forces, 2 * frames[2].forces)


# --- broken inputs: each must raise DataError naming the file and where ---

GOOD_FRAME = ['3', 'Properties=species:S:1:pos:R:3:forces:R:3 energy=-1.0 pbc="F F F"',
              'O 0 0 0 0 0 0', 'H 0.96 0 0 0 0 0', 'H 0 0.96 0 0 0 0']


def write_lines(tmp_path, lines, name="bad.xyz"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(
    "lines, message",
    [
        (GOOD_FRAME + GOOD_FRAME[:4], r"bad\.xyz line 10: expected 3 atom lines for frame 1 .*file ended"),
        (GOOD_FRAME + ["three"] + GOOD_FRAME[1:], r"bad\.xyz line 6: expected the atom count .*'three'"),
        (GOOD_FRAME[:4] + GOOD_FRAME, r"bad\.xyz line 5: expected 7 columns .* found 1; frame 0 seems to have fewer"),
        (GOOD_FRAME[:3] + ["H 0.96 0 0 0 0"] + GOOD_FRAME[4:], r"bad\.xyz line 4: expected 7 columns .*found 6"),
        (GOOD_FRAME[:4] + ["H 0 0.96 0 0 0 0 1.5"], r"bad\.xyz line 5: expected 7 columns .*found 8"),
        (GOOD_FRAME + [""] + GOOD_FRAME, r"bad\.xyz line 6: blank line inside the file"),
        (GOOD_FRAME + [GOOD_FRAME[0], GOOD_FRAME[1].replace("energy=-1.0 ", "")] + GOOD_FRAME[2:],
         r"bad\.xyz line 7 \(frame 1\): no energy under key 'energy'; available keys: \['forces'\]"),
        (GOOD_FRAME + GOOD_FRAME[:3] + ["H nan 0 0 0 0 0"] + GOOD_FRAME[4:],
         r"bad\.xyz line 9: position of atom 1 \(frame 1\) not finite"),
        (GOOD_FRAME[:4] + ["H 0 0.96 0 0 inf 0"], r"bad\.xyz line 5: forces of atom 2 \(frame 0\) not finite"),
        ([GOOD_FRAME[0], GOOD_FRAME[1].replace("-1.0", "nan")] + GOOD_FRAME[2:],
         r"bad\.xyz line 2 \(frame 0\): energy is nan"),
    ],
    ids=["truncated", "non-integer-count", "short-frame", "missing-column", "extra-column", "blank-line",
         "missing-energy", "nan-position", "inf-force", "nan-energy"],
)
def test_broken_extxyz_names_file_and_line(tmp_path, lines, message):
    path = write_lines(tmp_path, lines)
    with pytest.raises(DataError, match=message):
        read_frames(path)


def test_missing_file_and_unknown_suffix(tmp_path):
    with pytest.raises(DataError, match=r"nothere\.xyz: no such file"):
        read_frames(tmp_path / "nothere.xyz")
    (tmp_path / "frames.csv").write_text("1,2,3\n")
    with pytest.raises(DataError, match=r"frames\.csv: unknown file type '\.csv'"):
        read_frames(tmp_path / "frames.csv")


def test_npz_missing_key_lists_present_keys(tmp_path):
    np.savez(tmp_path / "md.npz", z=[8, 1, 1], R=np.zeros((2, 3, 3)), F=np.zeros((2, 3, 3)))
    expected = r"md\.npz: missing key 'E' \(energy, MD17 layout\); keys present: \['F', 'R', 'z'\]"
    with pytest.raises(DataError, match=expected):
        read_frames(tmp_path / "md.npz")
    np.savez(tmp_path / "other.npz", numbers=[8, 1, 1])
    with pytest.raises(DataError, match=r"other\.npz: no atomic-number key.*\['numbers'\]"):
        read_frames(tmp_path / "other.npz")


def test_npz_non_finite_and_bad_shape_name_the_key(tmp_path):
    positions = np.tile(np.eye(3), (4, 1, 1))
    positions[2, 1, 0] = np.nan
    np.savez(tmp_path / "md.npz", nuclear_charges=[8, 1, 1], coords=positions, energies=np.zeros(4),
             forces=np.zeros((4, 3, 3)))
    with pytest.raises(DataError, match=r"md\.npz: key 'coords', frame 2: non-finite"):
        read_frames(tmp_path / "md.npz")
    assert len(read_frames(tmp_path / "md.npz", index=[0, 1, 3])) == 3
    np.savez(tmp_path / "shape.npz", z=[8, 1, 1], R=np.zeros((4, 3, 3)), E=np.zeros((4, 2)), F=np.zeros((4, 3, 3)))
    with pytest.raises(DataError, match=r"shape\.npz: key 'E' has shape \(4, 2\)"):
        read_frames(tmp_path / "shape.npz")


def test_db_missing_key_names_row_and_key(tmp_path):
    with ase.db.connect(tmp_path / "frames.db") as db:
        db.write(ase.Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.74]]), tag=1)
    with pytest.raises(DataError, match=r"frames\.db:row 1: no energy under key 'energy'; available keys: \['tag'\]"):
        read_frames(tmp_path / "frames.db")
    (tmp_path / "junk.db").write_text("not a database\n" * 100)
    with pytest.raises(DataError, match=r"junk\.db: cannot read as an ASE database"):
        read_frames(tmp_path / "junk.db")


def test_frame_validates_itself():
    with pytest.raises(DataError, match=r"here: positions has shape \(2, 2\), expected \(2, 3\)"):
        Frame(numbers=[1, 1], positions=np.zeros((2, 2)), source="here")
    with pytest.raises(DataError, match="here: periodic along"):
        Frame(numbers=[1], positions=np.zeros((1, 3)), pbc=(True, False, False), source="here")
    frame = Frame(numbers=[1], positions=np.zeros((1, 3)))
    with pytest.raises(ValueError, match="read-only"):
        frame.positions[0, 0] = 1.0
