"""Layer by layer: the engine's intermediates (Engine.intermediates) against the PyTorch model's own
tensors and autograd gradients, so a disagreement names the layer and the stage (DESIGN §5)."""

import numpy as np
import pytest
import torch

from gaqmd.data import neighbor_list, read_frames, species_index
from gaqmd.export.lower import lower_model
from gaqmd.native import core
from gaqmd.testing.model import make_model, quantized_model
from gaqmd.testing.tolerances import ENGINE_TENSOR_RTOL


@pytest.fixture(scope="module")
def ethanol(data_dir):
    return read_frames(data_dir / "rmd17" / "train_1000.xyz", index="0:5")


def capture(model, positions, numbers):
    """Run the float64 PyTorch model with hooks -> dict of the tensors the engine names."""
    edge_index, shifts = neighbor_list(positions, model.config.cutoff)
    x = torch.tensor(positions, dtype=torch.float64, requires_grad=True)
    species = torch.from_numpy(species_index(np.asarray(numbers), model.config.species))
    seen, handles, grads = {}, [], {}

    def keep(name, value):
        seen[name] = value.detach().clone()

    for t, layer in enumerate(model.layers):
        p = f"layer{t}."

        def layer_hook(module, args, output, p=p):
            keep(p + "xq", args[0])
            keep(p + "out", output)
            output.register_hook(lambda grad, p=p: grads.__setitem__(p + "grad_out", grad.detach().clone()))

        handles.append(layer.register_forward_hook(layer_hook))
        handles.append(layer.register_forward_pre_hook(lambda module, args, p=p: keep(p + "x", args[0]), prepend=True))
        handles.append(layer.linear_up.register_forward_hook(lambda m, a, o, p=p: keep(p + "x_up", o)))
        handles.append(layer.radial_mlp.register_forward_hook(lambda m, a, o, p=p: keep(p + "radial", o)))
        handles.append(layer.linear_down.register_forward_pre_hook(lambda m, a, p=p: keep(p + "messages", a[0])))
        handles.append(layer.gate.register_forward_pre_hook(lambda m, a, p=p: keep(p + "gate_in", a[0])))
    try:
        energy = model(x, species, torch.from_numpy(edge_index), torch.from_numpy(shifts),
                       torch.zeros(len(numbers), dtype=torch.long), 1)[0]
        (gradient,) = torch.autograd.grad(energy, x)
    finally:
        for handle in handles:
            handle.remove()
    vectors = x.detach()[edge_index[1]] - x.detach()[edge_index[0]]
    distance = vectors.norm(dim=-1)
    seen.update(grads)
    seen.update(edge_index=torch.from_numpy(edge_index), basis=model.basis(distance),
                envelope=model.envelope(distance), sh=model.spherical_harmonics(vectors),
                energy=energy.detach(), forces=-gradient)
    return {name: value.detach().numpy() for name, value in seen.items()}


def stages(num_layers):
    """Engine names in evaluation order (forward, then the backward from the last layer down)."""
    names = ["edge_index", "basis", "envelope", "sh"]
    for t in range(num_layers):
        names += [f"layer{t}.{s}" for s in ("x", "xq", "x_up", "radial", "messages", "gate_in", "out")]
    names += [f"layer{t}.grad_out" for t in reversed(range(num_layers))]
    return names + ["energy", "forces"]


@pytest.mark.parametrize("mode,options,quant", [
    ("fp32", {"l_max": 2, "attention": True}, {}),
    ("w4a8", {"attention": True}, {"magnitude_log_domain": True}),
    ("w4a8", {}, {"direction_frame": "global"}),
    ("w4a8", {"l_max": 2}, {"l2_mode": "mddq-fp16"}),
    ("w4a8", {"l_max": 2}, {"l2_mode": "fp16"}),
    ("w4a8-naive", {"attention": True}, {}),
])
def test_every_intermediate_matches_pytorch(ethanol, mode, options, quant):
    model = make_model(**options) if mode == "fp32" else quantized_model(mode, ethanol[:4], **options, **quant)
    engine = core().Engine(*lower_model(model))
    frame = ethanol[4]
    index = species_index(np.asarray(frame.numbers), model.config.species).astype(np.int32)
    ours = engine.intermediates(frame.positions, index, None)
    theirs = capture(model, frame.positions, frame.numbers)
    for name in stages(len(model.layers)):
        a, b = ours[name], theirs[name]
        assert a.shape == b.shape, f"{name}: engine shape {a.shape}, PyTorch {b.shape}"
        error = np.abs(a - b).max(initial=0.0)
        assert error <= ENGINE_TENSOR_RTOL * max(np.abs(b).max(initial=0.0), 1e-300), (
            f"first disagreement at {name}: max |engine - PyTorch| = {error:.3e}, max |PyTorch| = {np.abs(b).max():.3e}")
    np.testing.assert_array_equal(ours["layer0.grad_x"].shape, ours["layer0.x"].shape)
    np.testing.assert_array_equal(ours["layer1.grad_x"], ours["layer0.grad_out"])
    assert ("layer0.alpha" in ours) == bool(options.get("attention"))
    if mode == "w4a8" and quant.get("direction_frame", "local") == "local":
        frames = ours["frames"]
        np.testing.assert_allclose(np.einsum("nab,ncb->nac", frames, frames), np.broadcast_to(np.eye(3), frames.shape),
                                   atol=1e-12)
