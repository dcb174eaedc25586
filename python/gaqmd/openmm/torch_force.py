"""The FP32 PyTorch model as openmm-torch's TorchForce, where an ABI-compatible openmm-torch exists.

TorchForce runs a TorchScript module inside OpenMM's C++ (no Python per step). The module here maps
positions (n, 3) nm to the energy in kJ/mol of one molecule in vacuum, with an all-pairs neighbour
list inside the script; openmm-torch takes forces by autograd. The PyPI openmmtorch wheels are
built against a CUDA torch of another C++ ABI and fail to import next to the CPU torch gaqmd pins;
then `torch_force` raises an ImportError that says so and names the alternatives.
"""

import torch
from torch import nn

from gaqmd.data import species_index
from gaqmd.model.potential import EquivariantPotential
from gaqmd.openmm.units import ANGSTROM_PER_NM, KJ_PER_MOL_PER_EV


class VacuumPotential(nn.Module):
    """positions (n, 3) nm -> energy () kJ/mol of the molecule `atomic_numbers`, float64 out."""

    def __init__(self, model: EquivariantPotential, atomic_numbers):
        super().__init__()
        self.model = model
        self.register_buffer("species", torch.from_numpy(species_index(atomic_numbers, model.config.species)))
        self.cutoff = float(model.config.cutoff)
        self.angstrom_per_nm = ANGSTROM_PER_NM
        self.kj_per_mol_per_ev = KJ_PER_MOL_PER_EV

    def forward(self, positions: torch.Tensor) -> torch.Tensor:
        x = positions.to(self.model.embedding.weight.dtype) * self.angstrom_per_nm
        distance = torch.cdist(x, x)
        inside = (distance < self.cutoff) & ~torch.eye(x.shape[0], dtype=torch.bool, device=x.device)
        edge_index = inside.nonzero().t()
        shift = torch.zeros(edge_index.shape[1], 3, dtype=x.dtype, device=x.device)
        energy = self.model.atomic_energies(x, self.species, edge_index, shift).sum()
        return energy.to(torch.float64) * self.kj_per_mol_per_ev


def scripted_potential(model: EquivariantPotential, atomic_numbers) -> torch.jit.ScriptModule:
    """TorchScript of VacuumPotential (e3nn's scripting, which compiles its generated code)."""
    from e3nn.util.jit import script

    if getattr(model, "quant_config", None) is not None:
        raise ValueError("TorchForce runs FP32 models only; quantized models run on the native GaqForce")
    return script(VacuumPotential(model.eval(), atomic_numbers))


def torch_force(model: EquivariantPotential, atomic_numbers):
    """An openmmtorch.TorchForce of the model for one molecule in vacuum (all particles of the System)."""
    try:
        import openmmtorch
    except (ImportError, OSError) as error:
        raise ImportError(
            f"openmm-torch is not usable here ({type(error).__name__}: {error}). The PyPI openmmtorch wheels are "
            "built against a CUDA torch of another C++ ABI than the CPU torch gaqmd pins. Use "
            "gaqmd.openmm.pytorch_force (openmm.PythonForce) for the PyTorch model, or the native GaqForce "
            "(gaqmd.openmm.gaq_force)."
        ) from error
    return openmmtorch.TorchForce(scripted_potential(model, atomic_numbers))
