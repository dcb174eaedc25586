"""QAT on the potential: what each mode quantizes, symmetry, integer form, fine-tuning end to end."""

import dataclasses

import numpy as np
import pytest
import torch
from e3nn.util.test import assert_equivariant

from gaqmd.cli import main
from gaqmd.checks import local_equivariance_error, model_energy_forces
from gaqmd.data import GraphDataset, Split, read_frames
from gaqmd.model import energy_and_forces
from gaqmd.model.io import load_model
from gaqmd.native import NativeModel
from gaqmd.quant import QuantConfig, calibrate, prepare_qat, unpack_int4
from gaqmd.quant.activations import IrrepsQuantizer, set_vector_quantization
from gaqmd.quant.convert import convert_weights
from gaqmd.quant.footprint import weight_bytes
from gaqmd.testing.model import energy_forces_fn, make_model, quantized_model
from gaqmd.testing.runs import tiny_run_config
from gaqmd.testing.tolerances import FLOAT64_EQUIVARIANCE
from gaqmd.train import Trainer
from gaqmd.train.metrics import predict


@pytest.fixture(scope="module")
def ethanol(data_dir):
    return read_frames(data_dir / "rmd17" / "train_1000.xyz", index="0:12")


@pytest.mark.parametrize("l_max,attention", [(1, False), (2, True)])
def test_w4a32_is_equivariant_to_float64_precision(ethanol, l_max, attention, float64_default):
    model = quantized_model("w4a32", ethanol, l_max=l_max, attention=attention)
    energy_forces = energy_forces_fn(model, ethanol[0].numbers)

    def fn(positions):
        energy, forces = energy_forces(positions)
        return energy.reshape(1), forces

    assert_equivariant(fn, args_in=[torch.tensor(ethanol[0].positions)], irreps_in=["cartesian_points"],
                       irreps_out=["0e", "1o"], tolerance=FLOAT64_EQUIVARIANCE)


def test_fp32_mode_changes_nothing_and_w4a32_changes_the_energy(ethanol):
    reference = make_model(species=(1, 6, 8), channels=8)
    graph = GraphDataset(ethanol[:1], (1, 6, 8), reference.config.cutoff)[0]
    energy = energy_and_forces(reference, graph)[0]
    assert torch.equal(energy, energy_and_forces(prepare_qat(make_model(species=(1, 6, 8), channels=8), QuantConfig(mode="fp32")), graph)[0])
    w4 = prepare_qat(make_model(species=(1, 6, 8), channels=8), QuantConfig(mode="w4a32"))
    assert not torch.allclose(energy, energy_and_forces(w4, graph)[0], rtol=0, atol=1e-9)


@pytest.mark.parametrize("learned", [False, True])
def test_every_weight_matrix_is_int4_and_the_integer_form_equals_the_fake_quant(ethanol, learned):
    model = quantized_model("w4a8", ethanol, learn_weight_scales=learned)
    if learned:  # moved away from their initial rule, as training moves them
        with torch.no_grad():
            for name, scales in model.named_parameters():
                if "learned_scales" in name:
                    scales.mul_(1.0 + 0.3 * torch.rand(scales.shape, generator=torch.Generator().manual_seed(0)))
    packed = convert_weights(model)
    expected = {"embedding", "readout.hidden", "readout.out"}
    assert expected <= set(packed)
    assert sum(name.endswith("radial_mlp.layers.0") for name in packed) == len(model.layers)
    for name, module in model.named_modules():
        if name not in packed:
            continue
        entry = packed[name]
        codes = unpack_int4(entry.packed, sum(o * i for o, i in entry.shapes))
        assert int(codes.abs().max()) <= 7
        dequantized, start = [], 0
        for (out, inp), scale in zip(entry.shapes, entry.scales):
            block = codes[start : start + out * inp].reshape(out, inp).to(torch.float64)
            dequantized.append(block * scale.to(torch.float64))
            start += out * inp
        fake = module.weight.detach()
        if isinstance(module, torch.nn.Embedding):
            fake = fake.t()
        if fake.dim() == 1:  # e3nn flat weight: (mul_in, mul_out) blocks
            blocks, offset = [], 0
            for out, inp in entry.shapes:
                blocks.append(fake[offset : offset + out * inp].reshape(inp, out).t())
                offset += out * inp
            fake = torch.cat([b.reshape(-1) for b in blocks])
            assert torch.equal(torch.cat([d.reshape(-1) for d in dequantized]), fake)
        else:
            assert torch.equal(dequantized[0], fake)


def test_w4a8_quantizes_vectors_only_after_the_warmup_switch(ethanol):
    model = quantized_model("w4a8", ethanol)
    graph = GraphDataset(ethanol[:1], (1, 6, 8), model.config.cutoff)[0]
    seen = []
    model.layers[1].register_forward_hook(lambda module, args, output: seen.append(args[0].detach().clone()))
    energy_and_forces(model, graph)
    set_vector_quantization(model, False)
    energy_and_forces(model, graph)
    channels = model.config.channels
    assert torch.equal(seen[0][:, :channels], seen[1][:, :channels])  # scalars: int8 both times
    assert not torch.allclose(seen[0][:, channels:], seen[1][:, channels:], rtol=0, atol=1e-6)
    assert all(not m.vectors_enabled for m in model.modules() if isinstance(m, IrrepsQuantizer))


def test_gaq_lee_is_far_below_naive_int8(ethanol):
    results = {
        mode: local_equivariance_error(model_energy_forces(quantized_model(mode, ethanol, l_max=1)), ethanol[:4], 3)
        for mode in ("w4a8", "w4a8-naive")
    }
    assert results["w4a8-naive"].lee > 1e-3  # meV/Å: the baseline is visibly rotation dependent
    assert results["w4a8"].lee < 1e-6 * results["w4a8-naive"].lee
    assert results["w4a8"].energy_invariance < 1e-9


def test_a_global_codebook_is_rotation_dependent(ethanol):
    """The reason for local frames: one fixed codebook orientation does not commute with rotations."""
    model = quantized_model("w4a8", ethanol, l_max=1, direction_frame="global", codebook_bits=8)
    assert local_equivariance_error(model_energy_forces(model), ethanol[:4], 3).lee > 1e-4


def test_l2_features_in_local_frames_make_an_l_max_2_model_equivariant_in_pytorch_and_in_the_engine(ethanol):
    models = {frame: quantized_model("w4a8", ethanol, l_max=2, l2_mode="int8-shared", l2_frame=frame)
              for frame in ("global", "local")}
    lee = {frame: local_equivariance_error(model_energy_forces(model), ethanol[:4], 3).lee
           for frame, model in models.items()}
    assert lee["global"] > 1e-4  # int8 per component of l=2 features depends on their orientation
    assert lee["local"] < 1e-6 * lee["global"]
    engine = NativeModel(models["local"])  # as deployed
    assert local_equivariance_error(engine, ethanol[:4], 3).lee < 1e-6 * lee["global"]


def test_weight_bytes_of_w4_are_at_least_six_times_below_fp32(ethanol):
    fp32 = make_model(species=(1, 6, 8), channels=32, radial_hidden=64, num_layers=3)
    w4 = prepare_qat(make_model(species=(1, 6, 8), channels=32, radial_hidden=64, num_layers=3), QuantConfig(mode="w4a32"))
    assert weight_bytes(fp32) == 4 * sum(p.numel() for p in fp32.parameters())
    assert weight_bytes(fp32) / weight_bytes(w4) >= 6
    # learned scales are the same fp16 scales, stored once
    learned = prepare_qat(make_model(species=(1, 6, 8), channels=32, radial_hidden=64, num_layers=3),
                          QuantConfig(mode="w4a32", learn_weight_scales=True))
    assert weight_bytes(learned) == weight_bytes(w4)


def test_quantize_cli_fine_tunes_an_fp32_model_and_evaluate_reports_every_mode(data_dir, tmp_path, capsys):
    fp32 = Trainer(tiny_run_config(data_dir / "rmd17" / "train_1000.xyz", tmp_path / "fp32", epochs=2))
    fp32.fit()
    config = tmp_path / "qat.yaml"
    config.write_text("quant:\n  mode: w4a8\n  vector_warmup_epochs: 1\ntrain:\n  epochs: 2\n  lr: 0.001\n  batch_size: 5\n")
    rows = []
    for mode in ("fp32", "w4a32", "w4a8", "w4a8-naive"):  # fp32: training on, unquantized (a control)
        output = tmp_path / f"qat_{mode}"
        args = ["quantize", str(config), "--from", str(tmp_path / "fp32" / "best.pt"),
                "--set", f"quant.mode={mode}", "--set", f"output={output}"]
        assert main(args) == 0
        history = (output / "history.csv").read_text().splitlines()
        assert len(history) == 3  # header + 2 epochs
        rows.append(str(output / "best.pt"))
    # an fp32-mode run is an FP32 model: it can be quantized in turn
    assert main(["quantize", str(config), "--from", rows[0], "--set", "quant.mode=w4a32", "--set", "train.epochs=1",
                 "--set", f"output={tmp_path / 'from_continued'}"]) == 0
    capsys.readouterr()
    data = str(data_dir / "rmd17" / "train_1000.xyz")
    assert main(["evaluate", str(tmp_path / "fp32" / "best.pt"), *rows, "--data", data, "--split", "test", "--lee-frames", "2"]) == 0
    table = capsys.readouterr().out.strip().splitlines()
    modes = [line.split()[1] for line in table[3:]]
    assert modes == ["fp32", "fp32", "w4a32", "w4a8", "w4a8-naive"]
    weights_kb = [float(line.split()[7]) for line in table[3:]]
    assert weights_kb[1] == weights_kb[0] and weights_kb[2] < weights_kb[0] / 4


def test_staged_qat_continues_the_w4a32_weights_and_refuses_other_quantized_parents(data_dir, tmp_path, capsys):
    config = tiny_run_config(data_dir / "rmd17" / "train_1000.xyz", tmp_path / "fp32", epochs=1)
    fp32 = Trainer(dataclasses.replace(config, data=dataclasses.replace(config.data, n_train=120)))
    fp32.fit()
    config = tmp_path / "qat.yaml"
    config.write_text("quant:\n  mode: w4a32\n  learn_weight_scales: true\ntrain:\n  epochs: 1\n")
    w4a32, w4a8 = tmp_path / "w4a32" / "best.pt", tmp_path / "w4a8" / "best.pt"
    assert main(["quantize", str(config), "--from", str(tmp_path / "fp32" / "best.pt"), "--set", f"output={w4a32.parent}"]) == 0
    stage_two = ["quantize", str(config), "--from", str(w4a32), "--set", "quant.mode=w4a8", "--set", "train.lr=0"]
    assert main([*stage_two, "--set", f"output={w4a8.parent}"]) == 0
    # lr 0: stage 2's int4 weights are exactly stage 1's (latent weights and learned scales carried over)
    parent, child = convert_weights(load_model(w4a32)[0]), convert_weights(load_model(w4a8)[0])
    for name, weight in parent.items():
        assert torch.equal(weight.packed, child[name].packed)
        assert all(torch.equal(a, b) for a, b in zip(weight.scales, child[name].scales))
    assert load_model(w4a8)[1]["fp32_origin"] == str(tmp_path / "fp32" / "best.pt")
    # epochs 0: calibration only; the range of the first radial-MLP input (the radial basis, which no
    # other quantizer feeds) is its max over every training frame
    calibrated = tmp_path / "ptq" / "best.pt"
    assert main([*stage_two, "--set", "train.epochs=0", "--set", "quant.scale_init=max", "--set",
                 f"output={calibrated.parent}"]) == 0
    assert (calibrated.parent / "metrics.json").is_file() and not (calibrated.parent / "history.csv").exists()
    model, metadata = load_model(calibrated)
    assert torch.equal(parent["embedding"].packed, convert_weights(model)["embedding"].packed)
    first = model.layers[0].radial_mlp.layers[0].input_quantizer
    seen = []
    first.register_forward_hook(lambda module, args, out: seen.append(args[0].detach()))
    frames = read_frames(data_dir / "rmd17" / "train_1000.xyz")
    train = [frames[i] for i in Split.from_dict(metadata["split"]).train]
    predict(model, GraphDataset(train, model.config.species, model.config.cutoff), dtype=torch.float64)
    np.testing.assert_allclose(first.scale.detach() * first.qmax, torch.cat(seen).abs().amax(0), rtol=1e-5)
    capsys.readouterr()
    assert main([*stage_two, "--set", "quant.weight_scale=mse", "--set", f"output={tmp_path / 'x'}"]) == 2
    assert "keeps the parent's int4 rules" in capsys.readouterr().err
    assert main(["quantize", str(config), "--from", str(w4a8), "--set", f"output={tmp_path / 'y'}"]) == 2
    assert "already quantized (w4a8)" in capsys.readouterr().err


def test_calibration_takes_the_largest_max_scale_over_batches(ethanol):
    model = make_model(l_max=1, species=(1, 6, 8), channels=8)
    prepare_qat(model, QuantConfig(mode="w4a8", scale_init="max"))
    quantizer = model.readout.hidden.input_quantizer
    seen = []
    model.readout.hidden.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach().abs().amax(0)))
    batches = list(GraphDataset(ethanol, (1, 6, 8), model.config.cutoff).batches(4))
    calibrate(model, batches, torch.float64)
    expected = torch.stack(seen).amax(0) / 127
    assert len(seen) == len(batches) == 3
    torch.testing.assert_close(quantizer.scale.detach(), expected.to(quantizer.scale.dtype))
