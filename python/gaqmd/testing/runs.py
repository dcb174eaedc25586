"""Tiny, fast training configurations for tests."""

from pathlib import Path

from gaqmd.train import DataConfig, RunConfig, TrainConfig

TINY_MODEL = {"channels": 8, "num_layers": 2, "radial_hidden": 16, "num_basis": 6, "cutoff": 4.0}


def tiny_run_config(data_file: Path, output: Path, epochs: int = 4, **train) -> RunConfig:
    """40/10/10 frames of data_file (eV, Å), a tiny model, a few epochs."""
    data = DataConfig(path=str(data_file), n_train=40, n_val=10, n_test=10, split_seed=1)
    settings = {"epochs": epochs, "batch_size": 5, "lr": 0.01, "warmup_epochs": 0, "ema_decay": 0.5, **train}
    return RunConfig(data=data, train=TrainConfig(**settings), model=TINY_MODEL, preset=None, output=str(output))
