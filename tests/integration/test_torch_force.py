"""The TorchScript module behind openmm-torch's TorchForce, and the message when openmm-torch is unusable."""

import importlib.util

import pytest
import torch

from gaqmd.checks import model_energy_forces
from gaqmd.data import read_frames
from gaqmd.openmm.torch_force import scripted_potential, torch_force
from gaqmd.openmm.units import KJ_PER_MOL_NM_PER_EV_ANGSTROM, KJ_PER_MOL_PER_EV
from gaqmd.testing.model import make_model


@pytest.mark.parametrize("attention", [False, True])
def test_scripted_potential_equals_the_model_in_openmm_units(data_dir, attention):
    frame = read_frames(data_dir / "rmd17" / "train_1000.xyz", index="0:1")[0]
    model = make_model(attention=attention)
    scripted = scripted_potential(model, frame.numbers)
    positions = torch.tensor(frame.positions / 10.0, requires_grad=True)
    energy = scripted(positions)
    (gradient,) = torch.autograd.grad(energy, positions)
    expected_energy, expected_forces = model_energy_forces(model)(frame.positions, frame.numbers)
    assert energy.item() == pytest.approx(expected_energy * KJ_PER_MOL_PER_EV, rel=1e-12)
    torch.testing.assert_close(-gradient, torch.from_numpy(expected_forces) * KJ_PER_MOL_NM_PER_EV_ANGSTROM,
                               rtol=1e-10, atol=1e-10)


@pytest.mark.skipif(importlib.util.find_spec("openmmtorch") is not None, reason="openmm-torch is installed")
def test_missing_openmm_torch_gives_a_message_with_the_alternatives():
    with pytest.raises(ImportError, match="PythonForce"):
        torch_force(make_model(), [1, 6, 8])
