"""QAT fine-tuning from an FP32 (or W4A32) model file: the engine behind `gaqmd quantize`."""

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
from gaqmd.train.loop import DTYPES, Trainer, refit_energy_shift
from gaqmd.train.metrics import ErrorMetrics
from gaqmd.train.setup import prepare_data

# Activation ranges come from every training frame: a range calibrated on a few frames clips the
# larger activations of others, and a clipped activation passes no force (its STE derivative is 0).
CALIBRATION_BATCH_SIZE = 16


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


def qat_epoch_start(quant: QuantConfig):
    """before_epoch hook: vectors switch on after `vector_warmup_epochs` (the best model is then
    chosen among fully quantized epochs only), and the per-species energy shift is refitted to
    the quantized model: rounding shifts the energy by a near-constant that only the shift can
    absorb, and the shift is not trained (see ENERGY_ONLY_PARAMETERS)."""

    def hook(trainer: Trainer) -> None:
        enabled = trainer.state.epoch >= quant.vector_warmup_epochs
        set_vector_quantization(trainer.model, enabled)
        set_vector_quantization(trainer.eval_model, enabled)
        if trainer.state.epoch == quant.vector_warmup_epochs:
            trainer.state.best_val_force_mae = float("inf")
            trainer.state.epochs_since_best = 0
        refit_energy_shift(trainer.model, trainer.data.train)
        trainer.ema.shadow["readout.shift"].copy_(trainer.model.readout.shift.detach())

    return hook


def check_stage(parent: Path, parent_metadata: dict, quant: QuantConfig) -> None:
    """A quantized parent is allowed only as the first stage of a staged schedule: W4A32 weights
    that the activation quantizers of w4a8 / w4a8-naive are added to, with the same int4 rules."""
    if "quant" not in parent_metadata:
        return
    parent_quant = QuantConfig.from_dict(parent_metadata["quant"])
    if not parent_quant.quantizes_weights:  # an fp32-mode run (trained on, unquantized)
        return
    if parent_quant.mode != "w4a32" or not quant.quantizes_activations:
        raise ValueError(
            f"{parent} is already quantized ({parent_quant.mode}); start from an FP32 model, "
            "or from a w4a32 model to add activation quantization (w4a8, w4a8-naive)"
        )
    for rule in ("group_size", "weight_scale", "learn_weight_scales"):
        if getattr(parent_quant, rule) != getattr(quant, rule):
            raise ValueError(
                f"quant.{rule} is {getattr(quant, rule)!r} but the w4a32 parent {parent} was trained with "
                f"{getattr(parent_quant, rule)!r}; a staged run keeps the parent's int4 rules"
            )


def fp32_origin(parent: Path, parent_metadata: dict) -> str:
    """The FP32 model file a (possibly staged) QAT chain started from."""
    return parent_metadata.get("fp32_origin", str(parent)) if "quant" in parent_metadata else str(parent)


def quantize(parent: Path, config_path: Path, assignments: Sequence[str] = (), resume: bool = False) -> ErrorMetrics:
    """Fine-tune the model in `parent` with QAT; writes the same run files as `gaqmd train`.

    parent is an FP32 model, or a W4A32 QAT model (stage 1 of a staged schedule) whose int4
    weights (latent weights and their quantizers, learned scales included) continue under the
    full w4a8 / w4a8-naive quantization."""
    model, parent_metadata = load_model(parent)
    config, quant = load_quantize_config(config_path, parent_metadata, assignments)
    check_stage(parent, parent_metadata, quant)
    dtype = DTYPES[config.train.dtype]
    data = prepare_data(config.data, model.config.cutoff, species=model.config.species)
    if "split" in parent_metadata and data.split != Split.from_dict(parent_metadata["split"]):
        raise ValueError("the data split differs from the one the FP32 model was trained on; test frames could leak")
    prepare_qat(model.to(dtype), quant)
    calibrate(model, data.train.batches(CALIBRATION_BATCH_SIZE), dtype)
    trainer = Trainer(
        config,
        data=data,
        model=model,
        metadata={"quant": quant.to_dict(), "parent": str(parent), "fp32_origin": fp32_origin(parent, parent_metadata)},
        before_epoch=qat_epoch_start(quant),
    )
    if resume:
        trainer.resume()
    if config.train.epochs == 0:  # post-training quantization: the calibrated model as it stands
        trainer.save_best()
    else:
        print(f"stopped: {trainer.fit()}", file=sys.stderr)
    return trainer.finish()
