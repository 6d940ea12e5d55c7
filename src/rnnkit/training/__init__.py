"""Training: the Trainer, losses, metrics, callbacks and checkpoints."""

from .callbacks import (
    Callback,
    EarlyStopping,
    History,
    ModelCheckpoint,
    ProgressBar,
    TensorBoard,
)
from .losses import get_loss
from .metrics import get_metric
from .threads import ThreadChoice, choose_threads, using_threads
from .trainer import FitConfig, Trainer, TrainingDiverged, set_seed

__all__ = ["Trainer", "FitConfig", "TrainingDiverged", "set_seed", "Callback", "History",
           "EarlyStopping", "ModelCheckpoint", "ProgressBar", "TensorBoard", "get_loss",
           "get_metric", "ThreadChoice", "choose_threads", "using_threads"]
