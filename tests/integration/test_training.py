"""Short training runs: the loss goes down, checkpoints resume, files are safe, the CLI works."""

import io
import pickle
import warnings

import numpy as np
import pytest
import torch

from gaqmd.cli import main
from gaqmd.model.io import ModelFileError, load_model
from gaqmd.testing.runs import tiny_run_config
from gaqmd.train import Trainer
from gaqmd.data import GraphDataset, read_frames
from gaqmd.testing.model import make_model
from gaqmd.train.loop import refit_energy_shift
from gaqmd.train.metrics import evaluate, predict

def tiny_run(data_dir, output, epochs=4, **train):
    return tiny_run_config(data_dir / "rmd17" / "train_1000.xyz", output, epochs, **train)


def test_short_training_lowers_the_validation_error(data_dir, tmp_path):
    trainer = Trainer(tiny_run(data_dir, tmp_path))
    before = evaluate(trainer.model, trainer.data.val, dtype=torch.float32)
    trainer.fit()
    after = trainer.validate()
    assert after.force_mae < 0.8 * before.force_mae
    assert (tmp_path / "best.pt").is_file() and (tmp_path / "history.csv").is_file()


def test_resume_continues_where_the_run_stopped(data_dir, tmp_path):
    first = Trainer(tiny_run(data_dir, tmp_path, epochs=2))
    first.fit()
    resumed = Trainer(tiny_run(data_dir, tmp_path, epochs=3))
    resumed.resume()
    assert resumed.state.epoch == 2
    for name, value in first.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[name], value)
    resumed.fit()
    assert [row["epoch"] for row in resumed.state.history] == [1, 2, 3]


def test_model_file_that_would_run_code_is_refused(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("this must never run",))

    path = tmp_path / "evil.pt"
    with open(path, "wb") as handle:
        pickle.dump({"format": "gaqmd-model", "version": 1, "x": Payload()}, handle)
    with pytest.raises(ModelFileError, match="evil.pt"):
        load_model(path)


def test_truncated_and_foreign_model_files_are_refused(data_dir, tmp_path):
    trainer = Trainer(tiny_run(data_dir, tmp_path, epochs=1))
    trainer.fit()
    data = (tmp_path / "best.pt").read_bytes()
    (tmp_path / "truncated.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="truncated.pt"):
        load_model(tmp_path / "truncated.pt")
    buffer = io.BytesIO()
    torch.save({"weights": torch.zeros(3)}, buffer)
    (tmp_path / "foreign.pt").write_bytes(buffer.getvalue())
    with pytest.raises(ModelFileError, match="not a gaqmd model"):
        load_model(tmp_path / "foreign.pt")


def test_cli_trains_then_evaluates_the_test_split(data_dir, tmp_path, capsys):
    config = tmp_path / "run.yaml"
    config.write_text(
        f"data:\n  path: {data_dir / 'rmd17' / 'train_1000.xyz'}\n  n_train: 20\n  n_val: 5\n  n_test: 5\n"
        f"preset: small\noutput: {tmp_path / 'run'}\n"
    )
    args = ["train", str(config), "--set", "train.epochs=1", "--set", "model.channels=8", "--set", "model.num_layers=1"]
    assert main(args) == 0
    assert main(["evaluate", str(tmp_path / "run" / "best.pt"), "--data", str(data_dir / "rmd17" / "train_1000.xyz"), "--split", "test"]) == 0
    table = capsys.readouterr().out
    assert "best.pt" in table and "fp32" in table
    row = table.strip().splitlines()[-1].split()
    assert row[2] == "5"  # frames: exactly the 5 held-out ones
    evaluate_val = ["evaluate", str(tmp_path / "run" / "best.pt"), "--data", str(data_dir / "rmd17" / "train_1000.xyz"),
                    "--split", "val", "--lee-frames"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no mean over an empty list of rotations
        assert main([*evaluate_val, "0"]) == 0
    row = capsys.readouterr().out.strip().splitlines()[-1].split()
    assert row[2] == "5"  # the 5 validation frames
    assert row[5:7] == ["—", "—"]  # LEE and energy invariance not measured
    assert main([*evaluate_val, "-1"]) == 2
    assert "lee_frames must be 0 (no LEE) or more" in capsys.readouterr().err


def test_cli_reports_bad_config_keys(tmp_path, capsys):
    config = tmp_path / "bad.yaml"
    config.write_text("data:\n  path: x.xyz\ntrain:\n  epochz: 3\n")
    assert main(["train", str(config)]) == 2
    assert "epochz" in capsys.readouterr().err


def test_energy_shift_refit_removes_a_constant_offset(data_dir):
    frames = read_frames(data_dir / "rmd17" / "train_1000.xyz", index="0:20")
    dataset = GraphDataset(frames, (1, 6, 8), 4.0)
    model = make_model(species=(1, 6, 8), cutoff=4.0)
    refit_energy_shift(model, dataset)
    model.readout.shift.data += torch.tensor([0.3, -1.0, 2.0], dtype=torch.float64)
    before = predict(model, dataset)
    refit_energy_shift(model, dataset)
    after = predict(model, dataset)
    assert abs((before.energy_pred - before.energy_true).mean()) > 0.5
    assert abs((after.energy_pred - after.energy_true).mean()) < 1e-9
    np.testing.assert_array_equal(after.forces_pred, before.forces_pred)


def test_energy_only_parameters_are_not_optimized(data_dir, tmp_path):
    trainer = Trainer(tiny_run(data_dir, tmp_path, epochs=1))
    optimized = {id(p) for group in trainer.optimizer.param_groups for p in group["params"]}
    names = {name for name, p in trainer.model.named_parameters() if id(p) not in optimized}
    assert names == {"readout.shift", "readout.out.bias"}
