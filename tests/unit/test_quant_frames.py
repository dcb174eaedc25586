"""Local frames: orthonormal, rotate with the molecule, defined in degenerate environments."""

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from gaqmd.data import neighbor_list
from gaqmd.quant.frames import local_frames


def frames_of(positions: np.ndarray, cutoff: float = 4.0) -> torch.Tensor:
    edge_index, shifts = neighbor_list(positions, cutoff)
    return local_frames(torch.tensor(positions), torch.from_numpy(edge_index), torch.from_numpy(shifts))


def random_molecule(n=12, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).normal(scale=1.5, size=(n, 3))


def test_frames_are_orthonormal_and_right_handed():
    frames = frames_of(random_molecule())
    identity = torch.eye(3, dtype=frames.dtype).expand_as(frames)
    torch.testing.assert_close(frames @ frames.transpose(1, 2), identity, atol=1e-12, rtol=0)
    torch.testing.assert_close(torch.linalg.det(frames), torch.ones(len(frames), dtype=frames.dtype))


def test_frames_rotate_with_the_molecule():
    positions = random_molecule()
    rotation = Rotation.random(random_state=3).as_matrix()
    frames, rotated = frames_of(positions), frames_of(positions @ rotation.T)
    torch.testing.assert_close(rotated, frames @ torch.tensor(rotation.T), atol=1e-12, rtol=0)


def test_first_axis_points_to_the_nearest_neighbour():
    positions = np.array([[0.0, 0.0, 0.0], [0.0, 2.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 3.0]])
    frame = frames_of(positions)[0]
    torch.testing.assert_close(frame[0], torch.tensor([1.0, 0.0, 0.0], dtype=frame.dtype))
    torch.testing.assert_close(frame[1], torch.tensor([0.0, 1.0, 0.0], dtype=frame.dtype))


def test_degenerate_environments_still_give_orthonormal_frames():
    lone = frames_of(np.array([[0.0, 0.0, 0.0], [10.0, 0.0, 0.0]]))
    torch.testing.assert_close(lone, torch.eye(3, dtype=lone.dtype).expand(2, 3, 3))
    linear = frames_of(np.array([[0.0, 0.0, 0.0], [1.2, 0.0, 0.0], [-1.2, 0.0, 0.0]]))
    torch.testing.assert_close(linear @ linear.transpose(1, 2), torch.eye(3, dtype=linear.dtype).expand(3, 3, 3))


@pytest.mark.parametrize("degree", [1, 2, 3])
def test_wigner_from_frames_is_the_representation_of_e3nn_harmonics(degree):
    from e3nn import o3

    from gaqmd.quant.frames import wigner_from_frames

    rotations = torch.tensor(Rotation.random(6, random_state=degree).as_matrix())
    directions = torch.tensor(np.random.default_rng(degree).normal(size=(20, 3)))
    wigner = wigner_from_frames(rotations, degree)
    rotated = o3.spherical_harmonics(degree, torch.einsum("nab,kb->nka", rotations, directions), normalize=True)
    expected = torch.einsum("nab,kb->nka", wigner, o3.spherical_harmonics(degree, directions, normalize=True))
    np.testing.assert_allclose(rotated, expected, atol=1e-13)
    np.testing.assert_allclose(wigner @ wigner.transpose(1, 2), torch.eye(2 * degree + 1).expand_as(wigner), atol=1e-13)
    # e3nn's own matrices agree to its float32-derived precision
    np.testing.assert_allclose(wigner, o3.Irrep(degree, 1).D_from_matrix(rotations), atol=1e-5)
