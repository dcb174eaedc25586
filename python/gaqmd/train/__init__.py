"""FP32 training of the equivariant potential."""

from gaqmd.train.config import DataConfig, RunConfig, TrainConfig, load_run_config
from gaqmd.train.loop import Trainer, train
from gaqmd.train.metrics import ErrorMetrics, evaluate, predict

__all__ = ["DataConfig", "ErrorMetrics", "RunConfig", "TrainConfig", "Trainer", "evaluate", "load_run_config", "predict", "train"]
