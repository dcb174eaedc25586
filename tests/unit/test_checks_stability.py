"""gaqmd.checks.stability: histogram distances, bonds and angles, dissociation and blow-up detection."""

import mdtraj as md
import numpy as np
import pytest
from openmm import app

from gaqmd.checks import as_trajectory, geometry_samples, histogram_distances, molecule_topology, stability_check
from gaqmd.data import Units, read_frames

C_H_COVALENT = 0.76 + 0.31  # Å, Cordero et al. (2008) radii of C and H


@pytest.fixture(scope="module")
def aspirin(data_dir):
    """(200, 21, 3) Å thermal aspirin configurations and the atomic numbers (21,)."""
    frames = read_frames(data_dir / "rmd17" / "aspirin_1000.xyz", Units(energy="meV"), index=":200")
    return np.array([frame.positions for frame in frames]), frames[0].numbers


def test_identical_distributions_are_at_distance_zero():
    samples = np.random.default_rng(0).normal(1.1, 0.03, 5000)
    assert histogram_distances(samples, samples.copy()) == (0.0, 0.0)


def test_distance_of_shifted_distributions_is_positive_and_grows_with_the_shift():
    samples = np.random.default_rng(1).normal(1.1, 0.03, 5000)
    shifts = [0.005, 0.01, 0.02, 0.04, 0.08]
    w1, js = np.array([histogram_distances(samples + shift, samples) for shift in shifts]).T
    np.testing.assert_allclose(w1, shifts, rtol=1e-6)  # W1 of a pure translation is the translation
    assert (js > 0).all() and (np.diff(js) > 0).all()
    assert js[-1] <= 1.0


def test_water_bonds_and_angle_are_found():
    angle = np.radians(104.5)
    water = np.array([[0.0, 0.0, 0.0], [0.9572, 0.0, 0.0], [0.9572 * np.cos(angle), 0.9572 * np.sin(angle), 0.0]])
    samples = geometry_samples(as_trajectory(water[None], [8, 1, 1]))
    assert set(samples) == {("bond", "H-O"), ("angle", "H-O-H")}
    np.testing.assert_allclose(samples[("bond", "H-O")], [0.9572, 0.9572], rtol=1e-6)
    np.testing.assert_allclose(samples[("angle", "H-O-H")], [104.5], rtol=1e-5)


def pull(positions, numbers, step):
    """Frame 0 repeated, with one hydrogen pulled away from its carbon along the bond, `step` Å per frame.
    -> (trajectory (f, n, 3), the first frame where C-H > 1.5 x its covalent length worked out by hand,
    the bond's name)."""
    pairs = np.linalg.norm(positions[0][:, None] - positions[0][None], axis=2) + 100 * np.eye(len(numbers))
    hydrogen = next(h for h in np.flatnonzero(numbers == 1) if numbers[np.argmin(pairs[h])] == 6)
    distances, carbon = pairs[hydrogen], int(np.argmin(pairs[hydrogen]))
    direction = (positions[0, hydrogen] - positions[0, carbon]) / distances[carbon]
    trajectory = np.repeat(positions[:1], 60, axis=0)
    trajectory[:, hydrogen] += step * np.arange(60)[:, None] * direction
    first = int(np.floor((1.5 * C_H_COVALENT - distances[carbon]) / step)) + 1
    return trajectory, first, f"C{carbon}-H{hydrogen}"


def test_dissociating_hydrogen_is_flagged_at_the_right_frame(aspirin):
    positions, numbers = aspirin
    trajectory, expected, bond = pull(positions, numbers, step=0.017)
    result = stability_check(trajectory, numbers)
    assert not result.stable and result.failure == "dissociation"
    assert result.first_failed_frame == expected
    assert 10 < expected < 60 and f"bond {bond} " in result.reason
    assert result.max_bond_ratio[expected - 1] <= 1.5 < result.max_bond_ratio[expected]


def test_unperturbed_thermal_trajectory_is_stable_and_matches_its_own_ensemble(aspirin):
    positions, numbers = aspirin
    result = stability_check(positions[:100], numbers, reference=positions[100:])
    assert result.stable and result.failure is None and result.first_failed_frame is None
    assert len(result.bonds) == 21  # aspirin C9H8O4: 13 heavy-atom bonds + 8 X-H bonds
    bonds = {c.label: c for c in result.comparisons if c.kind == "bond"}
    assert set(bonds) == {"C-C", "C-H", "C-O", "H-O"}
    assert all(c.wasserstein < 0.01 for c in bonds.values())  # Å
    shifted = stability_check(positions[:100], numbers, reference=positions[100:] * 1.05)
    for c in shifted.comparisons:
        if c.kind == "bond":
            assert c.wasserstein > 4 * bonds[c.label].wasserstein
            assert c.reference_mean == pytest.approx(1.05 * bonds[c.label].reference_mean, rel=1e-5)


def test_blow_up_is_flagged_at_the_first_bad_frame(aspirin):
    positions, numbers = aspirin
    broken = positions[:50].copy()
    broken[30, 4] = np.nan
    result = stability_check(broken, numbers, reference=positions[100:])
    assert result.failure == "blow-up" and result.first_failed_frame == 30 and "non-finite positions" in result.reason
    assert all(c.n_samples % 30 == 0 for c in result.comparisons)  # only the 30 frames before the failure

    energies = np.full(50, -17617.7)
    energies[12:] += 21 * 2.0  # +2 eV/atom
    result = stability_check(positions[:50], numbers, energies=energies)
    assert result.failure == "blow-up" and result.first_failed_frame == 12 and "energy" in result.reason


def test_topologies_from_openmm_and_mdtraj_give_the_same_bonds(aspirin):
    positions, numbers = aspirin
    inferred = as_trajectory(positions[:5], numbers)
    openmm_topology = inferred.topology.to_openmm()
    assert isinstance(openmm_topology, app.Topology)
    from_openmm = as_trajectory(positions[:5], topology=openmm_topology)
    from_mdtraj = as_trajectory(md.Trajectory(positions[:5] / 10.0, inferred.topology))
    for trajectory in (from_openmm, from_mdtraj):
        assert geometry_samples(trajectory).keys() == geometry_samples(inferred).keys()
    with pytest.raises(ValueError, match="atomic numbers or a topology"):
        as_trajectory(positions[:5])



def test_periodic_trajectory_uses_the_minimum_image():
    # water split across the boundary of a 10 Å box: H1 wrapped to the far side, 0.9572 Å away through it
    angle = np.radians(104.5)
    water = np.array([[0.3, 5.0, 5.0], [10.0 - 0.6572, 5.0, 5.0],
                      [0.3 - 0.9572 * np.cos(angle), 5.0 + 0.9572 * np.sin(angle), 5.0]])
    wrapped = md.Trajectory(water[None] / 10.0, molecule_topology([8, 1, 1]), unitcell_lengths=[[1.0, 1.0, 1.0]],
                            unitcell_angles=[[90.0, 90.0, 90.0]])
    samples = geometry_samples(as_trajectory(wrapped))
    np.testing.assert_allclose(samples[("bond", "H-O")], [0.9572, 0.9572], rtol=1e-5)
    np.testing.assert_allclose(samples[("angle", "H-O-H")], [104.5], rtol=1e-4)
    assert stability_check(wrapped).stable
