"""Forces are -dE/dx (central finite differences) and the energy is smooth at the cutoff."""

import numpy as np
import pytest
import torch

from gaqmd.data import read_frames
from gaqmd.testing.model import energy_forces_fn, make_model
from gaqmd.testing.tolerances import CUTOFF_CONTINUITY, FINITE_DIFFERENCE_FORCES


@pytest.mark.parametrize("l_max,attention", [(1, False), (2, True)])
def test_forces_equal_central_finite_differences(data_dir, l_max, attention):
    frame = read_frames(data_dir / "rmd17" / "train_1000.xyz", index="0")[0]
    fn = energy_forces_fn(make_model(l_max=l_max, attention=attention, species=(1, 6, 8)), frame.numbers)
    positions = torch.tensor(frame.positions)
    _, forces = fn(positions)
    h = 1e-5  # Å; central differences err by O(h^2) ~ 1e-10 relative
    numeric = torch.zeros_like(positions)
    for atom in range(positions.shape[0]):
        for axis in range(3):
            step = torch.zeros_like(positions)
            step[atom, axis] = h
            numeric[atom, axis] = -(fn(positions + step)[0] - fn(positions - step)[0]) / (2 * h)
    relative = float((numeric - forces).norm() / forces.norm())
    assert relative < FINITE_DIFFERENCE_FORCES


@pytest.mark.parametrize("attention", [False, True])
def test_energy_and_forces_continuous_across_the_cutoff(attention):
    """A third atom moves out through r_c: energy and forces approach their no-neighbour values."""
    model = make_model(l_max=2, attention=attention, species=(1, 8), cutoff=3.0)
    numbers = np.array([8, 1, 1])
    fn = energy_forces_fn(model, numbers)
    cutoff = model.config.cutoff

    def at(distance):
        positions = torch.tensor([[0.0, 0.0, 0.0], [0.96, 0.0, 0.0], [0.0, distance, 0.3]], dtype=torch.float64)
        return fn(positions)

    inside_e, inside_f = at(np.sqrt(cutoff**2 - 0.09) - 1e-6)
    outside_e, outside_f = at(np.sqrt(cutoff**2 - 0.09) + 1e-6)
    scale_e = abs(float(at(2.0)[0] - outside_e))
    assert scale_e > 1e-4, "the third atom must interact at 2 Å for this test to mean anything"
    assert abs(float(inside_e - outside_e)) < CUTOFF_CONTINUITY * scale_e
    assert float((inside_f - outside_f).abs().max()) < CUTOFF_CONTINUITY * scale_e


def test_energy_is_additive_for_molecules_beyond_the_cutoff(data_dir):
    frame = read_frames(data_dir / "rmd17" / "train_1000.xyz", index="0")[0]
    model = make_model(l_max=2, attention=True, species=(1, 6, 8))
    single = energy_forces_fn(model, frame.numbers)(torch.tensor(frame.positions))
    far = frame.positions + np.array([0.0, 0.0, 3 * model.config.cutoff])
    pair = energy_forces_fn(model, np.concatenate([frame.numbers, frame.numbers]))(
        torch.tensor(np.concatenate([frame.positions, far]))
    )
    assert abs(float(pair[0] - 2 * single[0])) < 1e-12 * abs(float(single[0])) + 1e-12
    assert torch.allclose(pair[1], torch.cat([single[1], single[1]]), atol=1e-12)
