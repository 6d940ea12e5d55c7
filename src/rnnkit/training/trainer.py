"""One short training loop for any ``nn.Module``: Sequential uses it, and so can your model.

A step, top to bottom (truncated BPTT visible, not hidden):

    for x, y in time_chunks(batch, tbptt):   # consecutive (B, k, D) slices; one chunk = full BPTT
        y_hat = model(x)                      # RNN layers carry their state between chunks,
        loss = loss_fn(y_hat, y)              # detached: gradients stop at the chunk edge
        loss.backward()
        clip_grad_value_ / clip_grad_norm_    # exploding gradients
        optimizer.step(); optimizer.zero_grad()

Small Sequential models skip all of that per batch: ``fit(step="auto")`` runs the same step
(forward, BPTT, clipping, Adam or SGD) as one C++ call, ``training/cpp_step.py``.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import numbers
import os
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..data.batching import as_tensors, batch_indices, num_samples, take
from ..layers import RNN, Bidirectional
from ..precision import check_precision, fit_precision, fit_scope, inference, to_fp32
from ..types import Choice, tree_leaves
from .boundary import check_data, check_optimizer
from .callbacks import Callback, History, ProgressBar, TensorBoard
from .checkpoint import load_checkpoint, save_checkpoint
from .cpp_step import STEPS, plan, step_name
from .distributed import start as start_distributed
from .losses import get_loss
from .metrics import Metric, get_metric
from .threads import ThreadChoice, choose_threads, requested, using_threads

__all__ = ["Trainer", "TrainingDiverged", "set_seed", "FitConfig"]

OPTIMIZERS = {  # Keras defaults (eps 1e-7; RMSprop rho 0.9).  Adam and SGD use torch's
    # fused kernel: one call for all parameters instead of a few ops per tensor, 2.5x less
    # time per step for a small model (the sunspots tutorial's 5 tensors: 118 us vs 302 us)
    "adam": lambda p, lr: torch.optim.Adam(p, lr=_or(lr, 1e-3), eps=1e-7, fused=True),
    "sgd": lambda p, lr: torch.optim.SGD(p, lr=_or(lr, 1e-2), fused=True),
    "rmsprop": lambda p, lr: torch.optim.RMSprop(p, lr=_or(lr, 1e-3), alpha=0.9, eps=1e-7,
                                                 foreach=True),
}


def _or(lr: float | None, default: float) -> float:
    return default if lr is None else lr


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))


def _is_number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))


def check_lr(lr: Any) -> float | None:
    """A learning rate: None (the optimizer's default) or a finite number > 0."""
    if lr is not None and not (_is_number(lr) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive finite number or None, got {lr!r}")
    return None if lr is None else float(lr)


class TrainingDiverged(ValueError):
    """The loss became NaN or inf; ``history`` holds the epochs completed before it."""

    def __init__(self, message: str, history: History):
        super().__init__(message)
        self.history = history


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and torch, so weights, shuffling and dropout repeat run to run."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise TypeError(f"seed must be a non-negative int, got {seed!r}")
    if seed >= 2**63:
        raise ValueError(f"seed must be below 2**63, got {seed}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@dataclass(frozen=True)
class FitConfig:
    epochs: int = 1                  # passes over the training data
    batch_size: int = 32             # samples per optimizer step
    shuffle: bool = True             # reshuffle samples every epoch
    clip_value: float | None = None  # clamp every gradient element to [-v, v]
    clip_norm: float | None = None   # rescale gradients to this global L2 norm at most
    tbptt: int | None = None         # truncation length in steps; None = full BPTT
    step: str = "auto"               # "auto", "cpp" or "autograd" (training/cpp_step.py)
    threads: int | None = None       # CPU threads during fit; None = by work size (threads.py)
    precision: str = "fp32"          # "fp32", "bf16" or "auto": GEMM dtype (rnnkit.precision)

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "tbptt", "threads"):
            v = getattr(self, name)
            if not (v is None and name in ("tbptt", "threads")) and not (_is_int(v) and v >= 1):
                raise ValueError(f"{name} must be a positive int, got {v!r}")
            if v is not None:
                object.__setattr__(self, name, int(v))     # NumPy ints become ints
        for name in ("clip_value", "clip_norm"):
            v = getattr(self, name)
            if v is not None and not (_is_number(v) and math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a positive number (finite) or None, "
                                 f"got {v!r}")
        most = 4 * (os.cpu_count() or 1)
        if self.threads is not None and self.threads > most:
            raise ValueError(f"threads must be at most {most} (4 x the {os.cpu_count()} CPUs "
                             f"here), got {self.threads}")
        if not isinstance(self.shuffle, (bool, np.bool_)):
            raise TypeError(f"shuffle must be True or False, got {self.shuffle!r}")
        object.__setattr__(self, "step", step_name(self.step))
        if self.step not in STEPS:
            raise ValueError(f"step must be one of {STEPS}, got {self.step!r}")
        check_precision(self.precision)
        if self.step == "cpp" and self.precision == "bf16":
            raise ValueError("step='cpp' computes in fp32 only; with precision='bf16' use "
                             "step='auto' or 'autograd' (or precision='fp32')")


@contextlib.contextmanager
def carried_states(model: nn.Module) -> Iterator[None]:
    """Make every RNN layer stateful for one batch (TBPTT), then restore it."""
    for m in model.modules():
        if isinstance(m, Bidirectional) or (isinstance(m, RNN) and m.go_backwards):
            raise ValueError("tbptt needs causal layers; Bidirectional and go_backwards "
                             "read the future of a chunk")
    layers = [(m, m.stateful) for m in model.modules() if isinstance(m, RNN)]
    for m, _ in layers:
        m.stateful = True
        m.reset_states()
    try:
        yield
    finally:
        for m, flag in layers:
            m.stateful = flag
            m.reset_states()


def _check_batch_size(batch_size: Any) -> None:
    if not (_is_int(batch_size) and batch_size >= 1):
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")


def _check_fit_options(callbacks: Any, verbose: Any, checkpoint: Any, resume: Any,
                       validation_data: Any, validation_split: Any) -> list[Callback]:
    """The options of ``fit`` that FitConfig does not hold, checked before any work."""
    if isinstance(callbacks, Callback) or not isinstance(callbacks, (list, tuple)):
        raise TypeError(f"callbacks must be a list of Callback objects, got "
                        f"{type(callbacks).__name__}")
    for k, cb in enumerate(callbacks):
        if not isinstance(cb, Callback):
            raise TypeError(f"callbacks[{k}] must be a Callback (e.g. rk.EarlyStopping(...)), "
                            f"got {cb!r}")
    if verbose not in (0, 1, 2) or isinstance(verbose, float):
        raise ValueError(f"verbose must be 0 (silent), 1 (a bar on a terminal) or 2 (one "
                         f"line per epoch), got {verbose!r}")
    for name, value in (("checkpoint", checkpoint), ("resume", resume)):
        if value is not None and (not isinstance(value, (str, os.PathLike))
                                  or str(value) == ""):
            raise ValueError(f"{name} must be a file path or None, got {value!r}")
        if value is not None and Path(value).is_dir():
            raise ValueError(f"{name}={str(value)!r} is a folder; give a file path such as "
                             f"{Path(value) / 'checkpoint.safetensors'}")
    if not (_is_number(validation_split) and 0 <= validation_split < 1):
        raise ValueError(f"validation_split must be in (0, 1), got {validation_split!r}")
    if validation_split and validation_data is not None:
        raise ValueError("pass validation_data or validation_split, not both")
    return list(callbacks)


def _run_record(trainer: Trainer, cfg: FitConfig, x: Any, y: Any) -> dict[str, Any]:
    """What a resumed run must share with the run that wrote the checkpoint."""
    digest = hashlib.sha256()
    for t in [*tree_leaves(x), y]:
        digest.update(f"{t.dtype}{tuple(t.shape)}".encode())
        digest.update(t.detach().contiguous().cpu().numpy().tobytes())
    loss = trainer.loss_name if isinstance(trainer.loss_name, str) else \
        getattr(trainer.loss_fn, "name", type(trainer.loss_fn).__name__)
    return {"batch_size": cfg.batch_size, "shuffle": bool(cfg.shuffle), "tbptt": cfg.tbptt,
            "clip_value": cfg.clip_value, "clip_norm": cfg.clip_norm, "loss": loss,
            "lr": [float(g["lr"]) for g in trainer.optimizer.param_groups],
            "samples": int(num_samples(x)), "data": digest.hexdigest()}


class Trainer:
    """Fit, evaluate and predict for ``model``.

    Args:
        model: any nn.Module mapping x to predictions.
        loss: a name ("mse", "mae", "binary_crossentropy", "sparse_categorical_crossentropy")
            or a callable(y_hat, y) -> scalar.
        optimizer: "adam", "sgd", "rmsprop", an optimizer instance, or None (evaluate only).
        metrics: names ("accuracy", "rmse", "mae", "mse") or Metric objects.
        lr: learning rate for an optimizer given by name (Keras' default when None).
    """

    def __init__(self, model: nn.Module, loss: Any = "mse", optimizer: Any = "adam",
                 metrics: Sequence[Any] = (), lr: float | None = None):
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
        if isinstance(optimizer, str) and optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)} or a "
                             f"torch.optim.Optimizer, got {optimizer!r}")
        if optimizer is not None and not isinstance(optimizer, (str, torch.optim.Optimizer)):
            raise TypeError(f"optimizer must be a name or a torch.optim.Optimizer, got "
                            f"{type(optimizer).__name__}")
        if isinstance(metrics, (str, Metric)) or not isinstance(metrics, (list, tuple)):
            raise TypeError(f"metrics must be a list of names or Metric objects, got "
                            f"{metrics!r} (write metrics=[{metrics!r}])")
        self.model, self.loss_name, self.loss_fn = model, loss, get_loss(loss)
        self.metric_specs = list(metrics)
        self._optimizer_spec, self.lr, self.optimizer = optimizer, check_lr(lr), None
        if isinstance(optimizer, torch.optim.Optimizer):
            self.optimizer = optimizer
        self.stop_training, self.epochs, self.batches_per_epoch = False, 0, 0
        self.checkpoint_path: Path | None = None
        self.history, self._shuffle_rng = History(), torch.Generator()
        self._cpp_step, self.step_choice = None, None     # step_choice: Choice, set by fit
        self.precision_choice: Choice | None = None      # fp32 or bf16 GEMMs, set by fit
        self.thread_choice: ThreadChoice | None = None    # threads the last fit ran on, why

    # ------------------------------------------------------------------ fit
    def fit(self, x: Any, y: Any, *, epochs: int = 1, batch_size: int = 32,
            validation_data: tuple | None = None, validation_split: float = 0.0,
            shuffle: bool = True, clip_value: float | None = None, clip_norm: float | None = None,
            tbptt: int | None = None, callbacks: Sequence[Callback] = (), seed: int | None = None,
            verbose: int = 1, checkpoint: str | Path | None = None,
            resume: str | Path | None = None, step: str = "auto",
            log_dir: str | Path | None = None, threads: int | None = None,
            distributed: bool | None = None, precision: str = "fp32") -> History:
        """Train for ``epochs``; returns the History.

        ``step``: "autograd" runs every batch through the model, autograd and the optimizer;
        "cpp" runs the whole step in one C++ call (small Sequential models, see
        ``rnnkit.training.cpp_step``; an error says why a model cannot); "auto" (default)
        takes the C++ step where it qualifies and is faster.  Both give the same
        weights to rounding; ``trainer.step_choice`` says which ran and why.

        ``checkpoint=path`` writes a resumable file after every epoch.  ``resume=path``
        continues from that file and keeps writing it, reaching the same weights as an
        uninterrupted run with the same seed; while the file does not exist yet, training
        starts from scratch, so one command works before and after a crash.

        ``log_dir=path`` adds a ``TensorBoard(path)`` callback (the optional extra
        ``rnnkit[tensorboard]``).  ``threads``: CPU threads during this fit; None chooses
        by the work per step (one thread for small models, ``rnnkit.training.threads``);
        ``trainer.thread_choice`` says which and why.

        ``precision``: "fp32" (default); "bf16" runs the GEMMs in bfloat16 (fp32
        accumulation) under ``torch.autocast``, while gate math, states, the loss, the
        optimizer and the weights stay fp32; "auto" takes bf16 for recurrent layers with
        H >= ``rnnkit.precision.BF16_MIN_H``.  ``trainer.precision_choice`` says which and
        why; bf16 trains through autograd (the C++ step is fp32 only).

        ``distributed``: None trains on several processes when started by torchrun
        (``WORLD_SIZE`` > 1), True always (the group must be set up), False never; see
        ``rnnkit.training.distributed`` (``batch_size`` is then per process).
        """
        cfg = FitConfig(epochs, batch_size, shuffle, clip_value, clip_norm, tbptt, step,
                        threads, precision)
        callbacks = _check_fit_options(callbacks, verbose, checkpoint, resume,
                                       validation_data, validation_split)
        if log_dir is not None:             # before any work: a missing extra fails first
            callbacks = [*callbacks, TensorBoard(log_dir)]
        if seed is not None:
            set_seed(seed)
        x, y = self._tensors(x, "x"), self._tensors(y, "y")
        n = num_samples(x)
        if num_samples(y) != n:
            raise ValueError(f"x has {n} samples but y has {num_samples(y)}")
        if validation_data is None and validation_split:   # its range: _check_fit_options
            cut = n - int(round(n * validation_split))  # the last part, before shuffling
            if cut < 1 or cut == n:
                raise ValueError(f"validation_split={validation_split} leaves no training or "
                                 f"no validation samples out of {n}")
            validation_data = (take(x, slice(cut, None)), take(y, slice(cut, None)))
            x, y, n = take(x, slice(0, cut)), take(y, slice(0, cut)), cut
        elif validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError("validation_data must be a pair (x_val, y_val)")
            validation_data = (self._tensors(validation_data[0], "validation x"),
                               self._tensors(validation_data[1], "validation y"))
        self._build(take(x, slice(0, min(n, batch_size))))
        if isinstance(self._optimizer_spec, torch.optim.Optimizer):
            check_optimizer(self.model, self.optimizer)
        check_data(self.model, self.loss_fn, x, y)          # the one boundary, every step
        if validation_data is not None:
            check_data(self.model, self.loss_fn, *validation_data,
                       names=("validation x", "validation y"))
        self._shuffle_rng = shuffle_rng = torch.Generator().manual_seed(
            torch.initial_seed() % 2**63)
        self.history = history = History()
        self.checkpoint_path = Path(checkpoint or resume) if (checkpoint or resume) else None
        self._dist = dist = start_distributed(distributed)
        clean = False
        try:
            result = self._fit_in(dist, x, y, validation_data, cfg, callbacks, verbose, resume,
                                  history, shuffle_rng)
            clean = True
            return result
        finally:
            self._dist = None
            self._net = self.model     # DDP's reducer holds the group: drop it before the group
            if dist is not None:
                import gc
                gc.collect()           # DDP sits in reference cycles: collect it now, while
                dist.close(clean)      # the group it holds still exists (else: abort at exit)

    def _fit_in(self, dist, x, y, validation_data, cfg, callbacks, verbose, resume, history,
                shuffle_rng) -> History:
        start = 0
        self._run = _run_record(self, cfg, x, y) if self.checkpoint_path else None
        if self._run is not None:
            self._run["world_size"] = dist.world if dist is not None else 1
        if resume is not None and Path(resume).exists():
            start, history.history = load_checkpoint(resume, self.model, self.optimizer,
                                                     shuffle_rng, self._run)
            history.epoch = list(range(start))
            if start > cfg.epochs:
                raise ValueError(f"{resume} already holds {start} epochs, more than "
                                 f"epochs={cfg.epochs}; ask for at least {start}")
        self.precision_choice, self._precision = fit_precision(self.model, cfg.precision), \
            cfg.precision
        if self.precision_choice.kind == "bf16" and cfg.step == "cpp":    # precision="auto"
            self.precision_choice = Choice("fp32", "auto: step='cpp' computes in fp32 only")
        if self.precision_choice.kind == "bf16":
            self._cpp_step = None
            self.step_choice = Choice("autograd", "bf16 precision: the C++ step computes in "
                                      "fp32 only")
        else:
            self._cpp_step, self.step_choice = plan(
                self.model, self.loss_fn, self.optimizer, x, batch_size=cfg.batch_size,
                tbptt=cfg.tbptt, mode=cfg.step, dist=dist)
        self.thread_choice = (requested(cfg.threads) if cfg.threads is not None
                              else choose_threads(self.model, cfg.batch_size, x))
        if dist is not None and dist.rank != 0:       # rank 0 alone prints and writes
            callbacks, verbose = [cb for cb in callbacks if not cb.rank_zero_only], 0
        cbs = [*callbacks] + ([ProgressBar(bar=verbose == 1)] if verbose else [])
        self._net = dist.wrap(self.model) if dist is not None else self.model
        with using_threads(self.thread_choice.n):
            return self._loop(x, y, validation_data, cfg, cbs, start)

    def _loop(self, x: Any, y: torch.Tensor, validation_data: tuple | None, cfg: FitConfig,
              cbs: list[Callback], start: int) -> History:
        n, history, shuffle_rng = num_samples(x), self.history, self._shuffle_rng
        self._callbacks = cbs
        self.stop_training, self.epochs = False, cfg.epochs
        dist = self._dist
        per_step = cfg.batch_size * (dist.world if dist is not None else 1)   # global batch
        self.batches_per_epoch = -(-n // per_step)
        for cb in cbs:
            cb.on_train_begin(self)
        for epoch in range(start, cfg.epochs):
            self.model.train()
            for cb in cbs:
                cb.on_epoch_begin(self, epoch)
            metrics, total = self._metrics(), 0.0
            for b, idx in enumerate(batch_indices(n, per_step, cfg.shuffle, shuffle_rng)):
                mine, weight = (idx, 1.0) if dist is None else dist.share(idx)
                if len(mine) == 0:        # fewer samples than ranks: join the all-reduce
                    mine = idx[:1]        # with a weight of 0
                loss, grad_norm, y_hat, yb = self._train_batch(take(x, mine), y[mine], cfg,
                                                               weight)
                if not math.isfinite(loss):
                    raise TrainingDiverged(self._diverged(loss, epoch, b), history)
                total += loss * len(idx)          # the global batch's mean loss
                for m in metrics:
                    m.update(y_hat, yb)
                for cb in cbs:
                    cb.on_batch_end(self, b, loss, grad_norm)
            if dist is not None:                  # every rank reports the same numbers
                for m in metrics:
                    m.total, m.count = dist.sum(m.total, m.count)
            logs = {"loss": total / n, **{m.name: m.result() for m in metrics}}
            if validation_data is not None:
                val = self.evaluate(*validation_data, batch_size=max(cfg.batch_size, 256))
                logs.update({f"val_{k}": v for k, v in val.items()})
            history.on_epoch_end(self, epoch, logs)
            if self.checkpoint_path is not None:   # after history: the file holds this epoch
                if dist is None or dist.rank == 0:
                    self.save_checkpoint(self.checkpoint_path, epoch + 1)
                if dist is not None:
                    dist.barrier()
            for cb in cbs:
                cb.on_epoch_end(self, epoch, logs)
            if dist is not None:     # one rank's callback (a wall-clock limit) stops them all
                self.stop_training = dist.sum(float(self.stop_training))[0] > 0
            if self.stop_training:
                break
        for cb in cbs:
            cb.on_train_end(self)
        self.model.eval()
        return history

    def _train_batch(self, xb: Any, yb: torch.Tensor, cfg: FitConfig, weight: float = 1.0):
        if self._cpp_step is not None:
            return (*self._cpp_step(xb, yb, cfg.clip_value, cfg.clip_norm, weight), yb)
        if cfg.tbptt is None:
            return (*self._step(xb, yb, cfg, weight), yb)
        T = xb.shape[1]
        per_step = yb.dim() >= 2 and yb.shape[:2] == xb.shape[:2]   # a target at every step
        losses = []
        chunks = -(-T // cfg.tbptt)
        with carried_states(self.model):
            for k, t in enumerate(range(0, T, cfg.tbptt)):
                xc = xb[:, t:t + cfg.tbptt]
                loss = float("nan")
                if per_step:
                    yc = yb[:, t:t + cfg.tbptt]
                    loss, grad_norm, y_hat = self._step(xc, yc, cfg, weight)
                    losses.append(loss * xc.shape[1])
                elif t + cfg.tbptt < T:     # a target only at the end: just advance the state
                    with torch.no_grad(), self._scope(cfg):
                        self.model(xc)
                else:
                    yc = yb
                    loss, grad_norm, y_hat = self._step(xc, yc, cfg, weight)
                    losses.append(loss * T)
                for cb in getattr(self, "_callbacks", ()):     # progress within a batch
                    hook = getattr(cb, "on_chunk_end", None)
                    if hook is not None:
                        hook(self, k, chunks, loss)
        return sum(losses) / T, grad_norm, y_hat, yc

    def _scope(self, cfg: FitConfig):
        p = next(self.model.parameters(), None)
        return fit_scope(self.precision_choice, cfg.precision,
                         p.device.type if p is not None else "cpu")

    def _step(self, x: Any, y: torch.Tensor, cfg: FitConfig, weight: float = 1.0):
        with self._scope(cfg):
            y_hat = self._net(x)
        if self.precision_choice is not None and self.precision_choice.kind == "bf16":
            y_hat = to_fp32(y_hat)                  # the loss in fp32
        loss = self.loss_fn(y_hat, y)
        value = loss.detach().item()
        dist = self._dist
        if dist is None and not math.isfinite(value):
            return value, None, y_hat
        self.optimizer.zero_grad(set_to_none=True)
        (loss * weight if dist is not None else loss).backward()   # DDP averages the ranks
        if dist is not None:      # the global batch's mean; every rank sees a divergence
            value = dist.sum(value * weight if weight else 0.0)[0] / dist.world
            if not math.isfinite(value):
                return value, None, y_hat
        grad_norm = None
        if cfg.clip_value is not None or cfg.clip_norm is not None:
            params = [p for p in self.model.parameters() if p.grad is not None]
            if cfg.clip_value is not None:
                torch.nn.utils.clip_grad_value_(params, cfg.clip_value)
            if cfg.clip_norm is not None:
                grad_norm = float(torch.nn.utils.clip_grad_norm_(params, cfg.clip_norm))
        self.optimizer.step()
        return value, grad_norm, y_hat

    # ------------------------------------------------------------------ evaluate / predict
    @torch.no_grad()
    def evaluate(self, x: Any, y: Any, batch_size: int = 256) -> dict[str, float]:
        _check_batch_size(batch_size)
        x, y = self._tensors(x, "x"), self._tensors(y, "y")
        self._build(take(x, slice(0, 1)))
        check_data(self.model, self.loss_fn, x, y)
        self.model.eval()
        metrics, total, n = self._metrics(), 0.0, num_samples(x)
        for idx in batch_indices(n, batch_size, shuffle=False):
            y_hat = self.model(take(x, idx))
            total += float(self.loss_fn(y_hat, y[idx])) * len(idx)
            for m in metrics:
                m.update(y_hat, y[idx])
        return {"loss": total / n, **{m.name: m.result() for m in metrics}}

    @torch.no_grad()
    def predict(self, x: Any, batch_size: int = 256, precision: str = "fp32") -> torch.Tensor:
        """Outputs in batches; ``precision`` as in ``fit`` (outputs come back in fp32)."""
        _check_batch_size(batch_size)
        check_precision(precision)
        x = self._tensors(x, "x")
        self._build(take(x, slice(0, 1)))
        self.model.eval()
        with inference(self.model, precision):
            parts = [self.model(take(x, idx)) for idx in batch_indices(num_samples(x),
                                                                       batch_size, shuffle=False)]
        return to_fp32(torch.cat(parts))

    # ------------------------------------------------------------------ helpers
    def save_checkpoint(self, path: str | Path, epoch: int) -> None:
        """A resumable file: weights, optimizer, RNG states, ``epoch`` epochs done, history."""
        save_checkpoint(path, self.model, self.optimizer, self._shuffle_rng, epoch,
                        self.history.history, run=getattr(self, "_run", None))

    def _tensors(self, x: Any, name: str) -> Any:
        p = next(self.model.parameters(), None)
        return as_tensors(x, name, p.dtype if p is not None else torch.get_default_dtype())

    def _build(self, x_sample: Any) -> None:
        """Run one batch through lazily built layers, then create the optimizer."""
        if any(getattr(m, "built", True) is False for m in self.model.modules()):
            with torch.no_grad():
                self.model.eval()(x_sample)
        if self.optimizer is None and self._optimizer_spec is not None:
            make = OPTIMIZERS.get(self._optimizer_spec) if isinstance(self._optimizer_spec,
                                                                      str) else None
            if make is None:
                raise TypeError(f"optimizer must be a name or torch.optim.Optimizer, "
                                f"got {type(self._optimizer_spec).__name__}")
            self.optimizer = make(self.model.parameters(), self.lr)

    def _metrics(self) -> list:
        return [get_metric(m, self.loss_fn) for m in self.metric_specs]

    def _diverged(self, loss: float, epoch: int, batch: int) -> str:
        msg = f"loss became {loss} at epoch {epoch + 1}, batch {batch + 1}; training stopped"
        if self.checkpoint_path is not None and self.checkpoint_path.exists():
            msg += f". The last good checkpoint is {self.checkpoint_path} (resume= from it)"
        return msg + ". Try a lower learning rate, clip_norm=1.0, or check the data scale"
