"""Callbacks: named events of the training loop (skorch's style).

Events, in order: on_train_begin, then per epoch on_epoch_begin, on_batch_end (each
batch), on_epoch_end (with the epoch's logs); finally on_train_end.  A callback stops
training by setting ``trainer.stop_training = True``.
"""

from __future__ import annotations

import copy
import math
import time
from pathlib import Path
from typing import Any

import torch

__all__ = ["Callback", "History", "EarlyStopping", "ModelCheckpoint", "ProgressBar",
           "TensorBoard", "TENSORBOARD_HINT"]

TENSORBOARD_HINT = ("TensorBoard logging needs the tensorboard package, an optional extra: "
                    "pip install 'rnnkit[tensorboard]'")


class Callback:
    rank_zero_only = False     # True for callbacks that print or write: only rank 0 runs them

    def on_train_begin(self, trainer) -> None: ...
    def on_epoch_begin(self, trainer, epoch: int) -> None: ...
    def on_batch_end(self, trainer, batch: int, loss: float, grad_norm: float | None) -> None: ...
    def on_chunk_end(self, trainer, chunk: int, chunks: int, loss: float) -> None: ...
    def on_epoch_end(self, trainer, epoch: int, logs: dict[str, float]) -> None: ...
    def on_train_end(self, trainer) -> None: ...


class History(Callback):
    """Per-epoch logs: ``history.history["loss"][k]`` is epoch k's mean training loss."""

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_epoch_end(self, trainer, epoch: int, logs: dict[str, float]) -> None:
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)


def _better(mode: str, monitor: str):
    if mode == "auto":
        mode = "max" if "acc" in monitor else "min"
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    return (lambda a, b, d: a < b - d) if mode == "min" else (lambda a, b, d: a > b + d)


def _monitored(logs: dict[str, float], monitor: str) -> float:
    if monitor not in logs:
        raise ValueError(f"cannot monitor {monitor!r}: this run logs {sorted(logs)} "
                         "(val_* needs validation_data or validation_split)")
    return logs[monitor]


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    With ``restore_best_weights`` (default) the model ends with its best epoch's weights.
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 0, min_delta: float = 0.0,
                 mode: str = "auto", restore_best_weights: bool = True):
        self.monitor, self.patience, self.min_delta = monitor, patience, abs(min_delta)
        self.better = _better(mode, monitor)
        self.restore_best_weights = restore_best_weights

    def on_train_begin(self, trainer) -> None:
        self.best, self.wait, self.best_state, self.best_epoch = None, 0, None, None
        self.stopped_epoch = None

    def on_epoch_end(self, trainer, epoch: int, logs: dict[str, float]) -> None:
        value = _monitored(logs, self.monitor)
        if self.best is None or self.better(value, self.best, self.min_delta):
            self.best, self.wait, self.best_epoch = value, 0, epoch
            if self.restore_best_weights:
                self.best_state = copy.deepcopy(trainer.model.state_dict())
            return
        self.wait += 1
        if self.wait > self.patience:
            trainer.stop_training, self.stopped_epoch = True, epoch

    def on_train_end(self, trainer) -> None:
        if self.restore_best_weights and self.best_state is not None:
            trainer.model.load_state_dict(self.best_state)


class ModelCheckpoint(Callback):
    """Write a resumable checkpoint (``rnnkit.training.checkpoint``) after each epoch,
    or only when ``monitor`` improves with ``save_best_only``.  ``rk.load(path)`` reads
    the model back; ``fit(resume=path)`` continues training from it."""

    rank_zero_only = True

    def __init__(self, path: str | Path, monitor: str = "val_loss", save_best_only: bool = False,
                 mode: str = "auto"):
        self.path, self.monitor, self.save_best_only = Path(path), monitor, save_best_only
        self.better = _better(mode, monitor)
        self.best: float | None = None

    def on_epoch_end(self, trainer, epoch: int, logs: dict[str, float]) -> None:
        if self.save_best_only:
            value = _monitored(logs, self.monitor)
            if self.best is not None and not self.better(value, self.best, 0.0):
                return
            self.best = value
        trainer.save_checkpoint(self.path, epoch + 1)


class ProgressBar(Callback):
    """A rich progress bar per epoch on a terminal, and one line per epoch everywhere."""

    rank_zero_only = True

    def __init__(self, bar: bool = True):
        from rich.console import Console
        self.console = Console(highlight=False)
        self.bar = bar and self.console.is_terminal
        self.progress: Any = None

    def on_epoch_begin(self, trainer, epoch: int) -> None:
        self.start = time.perf_counter()
        if self.bar:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )
            self.progress = Progress(TextColumn(f"epoch {epoch + 1}/{trainer.epochs}"),
                                     BarColumn(), MofNCompleteColumn(),
                                     TextColumn("loss {task.fields[loss]}"),
                                     TimeRemainingColumn(), console=self.console,
                                     transient=True)
            self.task = self.progress.add_task("", total=trainer.batches_per_epoch, loss="-")
            self.progress.start()

    def on_chunk_end(self, trainer, chunk: int, chunks: int, loss: float) -> None:
        """With truncated BPTT the bar counts time chunks (a batch may be one long stream)."""
        if self.progress is not None:
            if not getattr(self, "chunked", False):
                self.chunked = True
                self.progress.update(self.task, total=trainer.batches_per_epoch * chunks)
            self.progress.update(self.task, advance=1, loss=f"{loss:.4g}")

    def on_batch_end(self, trainer, batch: int, loss: float, grad_norm: float | None) -> None:
        if self.progress is not None and not getattr(self, "chunked", False):
            self.progress.update(self.task, advance=1, loss=f"{loss:.4g}")

    def on_epoch_end(self, trainer, epoch: int, logs: dict[str, float]) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress, self.chunked = None, False
        parts = "  ".join(f"{k} {v:.4g}" for k, v in logs.items() if not math.isnan(v))
        # soft_wrap: one line per epoch even where the console is narrower (a pipe is 80)
        self.console.print(f"epoch {epoch + 1}/{trainer.epochs}  {parts}  "
                           f"({time.perf_counter() - self.start:.1f}s)", soft_wrap=True)


class TensorBoard(Callback):
    """Write the training curves to ``log_dir`` for TensorBoard (``tensorboard --logdir``).

    Per epoch, at step = the epoch (0-based, as ``history.epoch``): every value of the
    epoch's logs under its own name (``loss``, metrics, ``val_*``: the numbers ``fit``
    returns in its History); ``lr``, the learning rate (``lr/group{k}`` for each of
    several parameter groups); ``grad_norm``, the mean over the epoch's batches of the
    global L2 norm of the gradients (before ``clip_norm`` rescales them; the last chunk's
    with ``tbptt``); and with ``histograms=True`` every parameter's values as
    ``weights/NAME``.  The file is flushed after every epoch.  ``fit(log_dir=...)`` adds
    this callback.  Needs the optional extra: ``pip install 'rnnkit[tensorboard]'``.
    """

    rank_zero_only = True

    def __init__(self, log_dir: str | Path, histograms: bool = False):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as err:          # torch's own message names no install command
            raise ImportError(TENSORBOARD_HINT) from err
        if not isinstance(log_dir, (str, Path)):
            raise TypeError(f"log_dir must be a str or Path, got {type(log_dir).__name__}")
        from ..io import check_path
        self._writer_class, self.log_dir = SummaryWriter, check_path(Path(log_dir), "log_dir")
        if self.log_dir.exists() and not self.log_dir.is_dir():
            raise ValueError(f"log_dir {self.log_dir} is a file; give a folder")
        self.histograms, self.writer = bool(histograms), None

    def on_train_begin(self, trainer) -> None:
        if self.writer is None:
            self.writer = self._writer_class(log_dir=str(self.log_dir))

    def on_epoch_begin(self, trainer, epoch: int) -> None:
        self._norm_sum, self._norm_count = 0.0, 0

    def on_batch_end(self, trainer, batch: int, loss: float, grad_norm: float | None) -> None:
        if grad_norm is None:    # the trainer computes a norm only when clip_norm asks for it
            grads = [p.grad.detach() for p in trainer.model.parameters() if p.grad is not None]
            if not grads:
                return
            norms = torch.stack([torch.linalg.vector_norm(g) for g in grads])
            grad_norm = float(torch.linalg.vector_norm(norms))
        self._norm_sum += grad_norm
        self._norm_count += 1

    def on_epoch_end(self, trainer, epoch: int, logs: dict[str, float]) -> None:
        w = self.writer
        for key, value in logs.items():
            w.add_scalar(key, value, epoch)
        groups = trainer.optimizer.param_groups if trainer.optimizer is not None else []
        for k, group in enumerate(groups):
            w.add_scalar("lr" if len(groups) == 1 else f"lr/group{k}", float(group["lr"]), epoch)
        if self._norm_count:
            w.add_scalar("grad_norm", self._norm_sum / self._norm_count, epoch)
        if self.histograms:
            for name, p in trainer.model.named_parameters():
                w.add_histogram(f"weights/{name}", p.detach().cpu(), epoch)
        w.flush()

    def on_train_end(self, trainer) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
