"""QAT fine-tuning from an FP32 model file: the engine behind `gaqmd quantize`."""

import itertools
import sys
from pathlib import Path
from typing import Sequence

import yaml

from gaqmd.data import Split
from gaqmd.model.io import load_model
from gaqmd.quant.activations import set_vector_quantization
from gaqmd.quant.config import QuantConfig
from gaqmd.quant.qat import calibrate, prepare_qat
from gaqmd.train.config import RunConfig, apply_overrides
from gaqmd.train.loop import DTYPES, Trainer
from gaqmd.train.metrics import ErrorMetrics
from gaqmd.train.setup import prepare_data

CALIBRATION_BATCHES = 8


def load_quantize_config(path: Path, parent_metadata: dict, assignments: Sequence[str] = ()):
    """(RunConfig, QuantConfig) from a YAML with sections quant, train, [data], output.

    Without a data section the parent's data config (file, units and split) is used, so QAT sees
    exactly the frames the FP32 model was trained and validated on.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    values = yaml.safe_load(path.read_text()) or {}
    apply_overrides(values, assignments)
    quant = QuantConfig.from_dict(values.pop("quant", {}) or {})
    values.setdefault("data", parent_metadata["run_config"]["data"])
    values["preset"] = None
    return RunConfig.from_dict(values), quant


def vector_warmup(quant: QuantConfig):
    """before_epoch hook: vectors switch on after `vector_warmup_epochs`; the best model is then
    chosen among fully quantized epochs only."""

    def hook(trainer: Trainer) -> None:
        enabled = trainer.state.epoch >= quant.vector_warmup_epochs
        set_vector_quantization(trainer.model, enabled)
        set_vector_quantization(trainer.eval_model, enabled)
        if trainer.state.epoch == quant.vector_warmup_epochs:
            trainer.state.best_val_force_mae = float("inf")
            trainer.state.epochs_since_best = 0

    return hook


def quantize(parent: Path, config_path: Path, assignments: Sequence[str] = (), resume: bool = False) -> ErrorMetrics:
    """Fine-tune the FP32 model in `parent` with QAT; writes the same run files as `gaqmd train`."""
    model, parent_metadata = load_model(parent)
    if "quant" in parent_metadata:
        raise ValueError(f"{parent} is already quantized ({parent_metadata['quant']['mode']}); start from an FP32 model")
    config, quant = load_quantize_config(config_path, parent_metadata, assignments)
    dtype = DTYPES[config.train.dtype]
    data = prepare_data(config.data, model.config.cutoff, species=model.config.species)
    if "split" in parent_metadata and data.split != Split.from_dict(parent_metadata["split"]):
        raise ValueError("the data split differs from the one the FP32 model was trained on; test frames could leak")
    prepare_qat(model.to(dtype), quant)
    calibrate(model, itertools.islice(data.train.batches(config.train.batch_size), CALIBRATION_BATCHES), dtype)
    trainer = Trainer(
        config,
        data=data,
        model=model,
        metadata={"quant": quant.to_dict(), "parent": str(parent)},
        before_epoch=vector_warmup(quant),
    )
    if resume:
        trainer.resume()
    print(f"stopped: {trainer.fit()}", file=sys.stderr)
    return trainer.finish()
