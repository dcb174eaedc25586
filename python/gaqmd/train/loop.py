"""Training loop: energy+force loss, AdamW, LR schedule, EMA, early stopping, checkpoints, plots."""

import copy
import csv
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import torch
from tqdm.auto import tqdm

from gaqmd.model import energy_and_forces
from gaqmd.model.io import CHECKPOINT_FORMAT, FORMAT_VERSION, atomic_save, load_model, load_payload, save_model
from gaqmd.train.config import RunConfig, TrainConfig, save_run_config
from gaqmd.train.ema import ExponentialMovingAverage
from gaqmd.train.metrics import ErrorMetrics, evaluate, predict
from gaqmd.train.plots import plot_learning_curve, plot_parity
from gaqmd.train.setup import PreparedData, build_model, prepare_data, resolved_cutoff

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def loss_terms(model, graph, config: TrainConfig) -> torch.Tensor:
    """w_E * mean((dE / N_atoms)^2) + w_F * mean(dF^2), in eV^2 and (eV/Å)^2."""
    energy, forces = energy_and_forces(model, graph, create_graph=True)
    energy_error = (energy - graph.energy) / graph.num_atoms
    return config.energy_weight * energy_error.pow(2).mean() + config.force_weight * (forces - graph.forces).pow(2).mean()


def cosine_factor(epoch: int, progress: float, config: TrainConfig) -> float:
    """Linear warm-up over warmup_epochs, then cosine from 1 to min_lr_ratio as progress goes 0 -> 1."""
    if epoch < config.warmup_epochs:
        return (epoch + 1) / (config.warmup_epochs + 1)
    cosine = 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    return config.min_lr_ratio + (1.0 - config.min_lr_ratio) * cosine


# Parameters that only shift the energy (no force depends on them). Adam moves every parameter by
# about lr per step however small its gradient, so these would random-walk the energy offset;
# they are fitted by least squares instead (refit_energy_shift).
ENERGY_ONLY_PARAMETERS = ("readout.shift", "readout.out.bias")


def parameter_groups(model: torch.nn.Module, config: TrainConfig) -> list[dict[str, Any]]:
    """Model weights at lr; activation-quantizer scales (modules named *_quantizer) at
    lr * quantizer_lr_factor; energy-only parameters not at all. Each group remembers its base
    rate for the schedule."""
    weights, scales = [], []
    for name, parameter in model.named_parameters():
        if name in ENERGY_ONLY_PARAMETERS:
            continue
        (scales if "_quantizer." in name else weights).append(parameter)
    groups = [{"params": weights, "lr": config.lr, "base_lr": config.lr}]
    if scales:
        scale_lr = config.lr * config.quantizer_lr_factor
        groups.append({"params": scales, "lr": scale_lr, "base_lr": scale_lr})
    return groups


def make_plateau_scheduler(optimizer, config: TrainConfig):
    if config.schedule == "cosine":
        return None
    if config.schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, factor=config.plateau_factor, patience=config.plateau_patience
        )
    raise ValueError(f"unknown schedule {config.schedule!r}; choose 'cosine' or 'plateau'")


@dataclass
class TrainingState:
    epoch: int = 0
    best_val_force_mae: float = math.inf
    epochs_since_best: int = 0
    elapsed_seconds: float = 0.0
    history: list[dict[str, float]] = field(default_factory=list)


class Trainer:
    """Owns the model, optimizer, EMA and run directory of one training run."""

    def __init__(
        self,
        config: RunConfig,
        data: Optional[PreparedData] = None,
        model: Optional[torch.nn.Module] = None,
        metadata: Optional[dict[str, Any]] = None,
        before_epoch: Optional[Callable[["Trainer"], None]] = None,
    ):
        """model: start from this model (QAT) instead of a fresh one; metadata: extra entries for
        saved model files; before_epoch: called at the start of every epoch (QAT schedules)."""
        self.config = config
        self.extra_metadata = metadata or {}
        self.before_epoch = before_epoch
        self.dtype = DTYPES[config.train.dtype]
        self.output = Path(config.output)
        self.output.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(config.train.seed)
        self.data = data or prepare_data(config.data, resolved_cutoff(config))
        self.model = (model if model is not None else build_model(config, self.data)).to(self.dtype)
        self.optimizer = torch.optim.AdamW(parameter_groups(self.model, config.train), weight_decay=config.train.weight_decay)
        self.scheduler = make_plateau_scheduler(self.optimizer, config.train)
        self.ema = ExponentialMovingAverage(self.model, config.train.ema_decay)
        self.eval_model = copy.deepcopy(self.model)
        self.generator = torch.Generator().manual_seed(config.train.seed)
        self.state = TrainingState()
        save_run_config(config, self.output / "config.yaml")

    # ---- persistence -------------------------------------------------------------------------
    def metadata(self) -> dict[str, Any]:
        return {
            "run_config": self.config.to_dict(),
            "split": self.data.split.to_dict(),
            "data_sha256": self.data.data_sha256,
            "atomic_energies": {str(z): e for z, e in self.data.atomic_energies.items()},
            **self.extra_metadata,
        }

    def save_checkpoint(self) -> None:
        atomic_save(
            {
                "format": CHECKPOINT_FORMAT,
                "version": FORMAT_VERSION,
                "model_config": self.model.config.to_dict(),
                "model": self.model.state_dict(),
                "ema": self.ema.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict() if self.scheduler else {},
                "generator": self.generator.get_state(),
                "state": {**self.state.__dict__},
                "metadata": self.metadata(),
            },
            self.output / "checkpoint.pt",
        )

    def resume(self) -> None:
        """Continue from <output>/checkpoint.pt: weights, EMA, optimizer, schedule, RNG, history."""
        payload = load_payload(self.output / "checkpoint.pt")
        if payload["metadata"]["split"] != self.data.split.to_dict():
            raise ValueError("checkpoint was trained on another data split; refusing to resume")
        self.model.load_state_dict(payload["model"])
        self.ema.load_state_dict(payload["ema"])
        self.optimizer.load_state_dict(payload["optimizer"])
        if self.scheduler:
            self.scheduler.load_state_dict(payload["scheduler"])
        self.generator.set_state(payload["generator"])
        self.state = TrainingState(**payload["state"])

    def save_best(self) -> None:
        self.ema.copy_to(self.eval_model)
        save_model(self.eval_model, self.output / "best.pt", self.metadata())

    # ---- one epoch ---------------------------------------------------------------------------
    def train_epoch(self, progress: tqdm) -> float:
        self.model.train()
        total, batches = 0.0, 0
        for graph in self.data.train.batches(self.config.train.batch_size, shuffle=True, generator=self.generator):
            loss = loss_terms(self.model, graph.to(dtype=self.dtype), self.config.train)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            self.ema.update(self.model)
            total, batches = total + float(loss.detach()), batches + 1
            progress.update(graph.num_graphs)
        return total / max(batches, 1)

    def validate(self) -> ErrorMetrics:
        self.ema.copy_to(self.eval_model)
        return evaluate(self.eval_model, self.data.val, dtype=self.dtype)

    def progress(self) -> float:
        """Fraction of the run done after warm-up: epochs or wall-time budget, whichever is further."""
        c = self.config.train
        by_epochs = (self.state.epoch - c.warmup_epochs) / max(1, c.epochs - c.warmup_epochs)
        by_time = self.state.elapsed_seconds / (60 * c.max_minutes) if c.max_minutes else 0.0
        return max(by_epochs, by_time)

    def set_learning_rate(self) -> float:
        """Cosine: set this epoch's rate (so a wall-time budget still ends annealed); plateau: keep it."""
        if self.scheduler is None:
            factor = cosine_factor(self.state.epoch, self.progress(), self.config.train)
            for group in self.optimizer.param_groups:
                group["lr"] = group["base_lr"] * factor
        return self.optimizer.param_groups[0]["lr"]

    def record(self, train_loss: float, val: ErrorMetrics, lr: float) -> dict[str, float]:
        row = {
            "epoch": self.state.epoch,
            "train_loss": train_loss,
            "val_energy_mae": val.energy_mae,
            "val_force_mae": val.force_mae,
            "lr": lr,
            "elapsed_s": self.state.elapsed_seconds,
        }
        self.state.history.append(row)
        with open(self.output / "history.csv", "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(row))
            writer.writeheader()
            writer.writerows(self.state.history)
        return row

    # ---- the run -----------------------------------------------------------------------------
    def stop_reason(self) -> Optional[str]:
        c = self.config.train
        if self.state.epoch >= c.epochs:
            return f"reached {c.epochs} epochs"
        if self.state.epochs_since_best >= c.early_stopping_patience:
            return f"no better validation force MAE for {c.early_stopping_patience} epochs"
        if c.max_minutes is not None and self.state.elapsed_seconds >= 60 * c.max_minutes:
            return f"wall-time budget of {c.max_minutes} min spent"
        return None

    def fit(self) -> str:
        """Train until a stop condition holds; returns the reason."""
        frames_per_epoch = len(self.data.train)
        epochs = tqdm(total=self.config.train.epochs, initial=self.state.epoch, desc="epochs", unit="ep", file=sys.stderr)
        while (reason := self.stop_reason()) is None:
            started = time.perf_counter()
            if self.before_epoch is not None:
                self.before_epoch(self)
            lr = self.set_learning_rate()
            with tqdm(total=frames_per_epoch, desc=f"epoch {self.state.epoch + 1}", unit="frame", leave=False, file=sys.stderr) as bar:
                train_loss = self.train_epoch(bar)
            val = self.validate()
            if self.scheduler is not None:
                self.scheduler.step(val.force_mae)
            self.state.epoch += 1
            self.state.elapsed_seconds += time.perf_counter() - started
            if val.force_mae < self.state.best_val_force_mae:
                self.state.best_val_force_mae, self.state.epochs_since_best = val.force_mae, 0
                self.save_best()
            else:
                self.state.epochs_since_best += 1
            self.record(train_loss, val, lr)
            self.save_checkpoint()
            epochs.update(1)
            epochs.set_postfix(loss=f"{train_loss:.3g}", val_F=f"{val.force_mae:.1f}", val_E=f"{val.energy_mae:.1f}", lr=f"{lr:.2g}")
        epochs.close()
        return reason

    def finish(self) -> ErrorMetrics:
        """Refit the best EMA model's per-species energy shift on the training frames, then
        evaluate it on the test frames in float64; write plots and metrics.json."""
        model, metadata = load_model(self.output / "best.pt", dtype=torch.float64)
        refit_energy_shift(model, self.data.train)
        save_model(model, self.output / "best.pt", metadata)
        predictions = predict(model, self.data.test, dtype=torch.float64)
        test = ErrorMetrics.from_predictions(predictions)
        plot_learning_curve(self.state.history, self.output / "learning_curve.png")
        plot_parity(predictions, test, self.output / "parity")
        summary = {
            "test": test.__dict__,
            "best_val_force_mae": self.state.best_val_force_mae,
            "epochs": self.state.epoch,
            "wall_seconds": self.state.elapsed_seconds,
            "n_train": len(self.data.train),
            "n_val": len(self.data.val),
            "n_test": len(self.data.test),
            "torch_threads": torch.get_num_threads(),
        }
        (self.output / "metrics.json").write_text(json.dumps(summary, indent=2))
        return test


@torch.no_grad()
def refit_energy_shift(model, dataset, batch_size: int = 16) -> None:
    """Add to readout.shift the least-squares per-species correction of the energy residuals
    E_ref - E_model over dataset (minimum-norm when species counts are collinear)."""
    counts, residuals = [], []
    num_species = len(model.config.species)
    dtype = model.readout.shift.dtype
    for graph in dataset.batches(batch_size):
        graph = graph.to(dtype=dtype)
        energy = model(graph.positions, graph.species, graph.edge_index, graph.edge_shift, graph.batch, graph.num_graphs)
        one_hot = torch.nn.functional.one_hot(graph.species, num_species).double()
        counts.append(torch.zeros(graph.num_graphs, num_species, dtype=torch.float64).index_add(0, graph.batch, one_hot))
        residuals.append((graph.energy - energy).double())
    correction = torch.linalg.lstsq(torch.cat(counts), torch.cat(residuals).unsqueeze(-1), driver="gelsd").solution
    model.readout.shift.add_(correction.squeeze(-1).to(model.readout.shift.dtype))


def train(config: RunConfig, resume: bool = False) -> ErrorMetrics:
    trainer = Trainer(config)
    if resume:
        trainer.resume()
    reason = trainer.fit()
    print(f"stopped: {reason}", file=sys.stderr)
    return trainer.finish()
