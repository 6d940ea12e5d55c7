"""The trainable model: ``Sequential`` (a layer stack that fits, predicts and saves) and
``load``.

This module sits above layers, training and saving, so none of them imports another
upward: layers know no training, and saving and checkpoints know nothing of each other.
``load`` picks the reader by what the path holds: a folder is a saved model
(``rnnkit.saving``), a file a training checkpoint (``rnnkit.training.checkpoint``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import torch

from . import saving
from .layers.sequential import LayerStack
from .precision import fit_scope
from .registry import register_serializable
from .training import Trainer
from .training.checkpoint import load_model_from_checkpoint

__all__ = ["Sequential", "load"]


@register_serializable
class Sequential(LayerStack):
    """A stack of layers with ``fit``/``evaluate``/``predict``/``save`` built in.

    Call: ``model(x, mask=None, lengths=None)``; x (B, T, D) floats or (B, T) token ids.
    The stack itself (mask flow, ``summary``) is ``rnnkit.layers.LayerStack``.

    Example:
        >>> import rnnkit as rk
        >>> model = Sequential([rk.LSTM(8), rk.Dense(1, activation="tanh")])
        >>> tuple(model(torch.zeros(4, 12, 1)).shape)
        (4, 1)
        >>> print(model.summary(print_fn=None))   # doctest: +NORMALIZE_WHITESPACE
        Sequential   input (None, 12, 1)
        #   layer   output shape   params   engine
        0   LSTM    (None, 8)      320      torch
        1   Dense   (None, 1)      9        -
        Total params: 329 (trainable 329)
    """

    def __init__(self, layers: Sequence[torch.nn.Module]):
        super().__init__(layers)
        self._trainer: Trainer | None = None      # the last fit's, for evaluate and summary

    def fit(self, x: Any, y: Any, *, loss: Any = "mse", optimizer: Any = "adam",
            metrics: Sequence[Any] = (), lr: float | None = None, **fit_kwargs: Any):
        """Train; see ``rnnkit.training.Trainer`` and its ``fit`` for every option.

        Returns a History.  ``lr`` sets the learning rate of an optimizer given by name;
        ``log_dir=`` writes TensorBoard logs, ``threads=`` sets the CPU threads (None:
        chosen by the work per step) and ``precision=`` ("fp32", "bf16", "auto") the GEMM
        dtype, as ``Trainer.fit``.
        """
        self._trainer = Trainer(self, loss=loss, optimizer=optimizer, metrics=metrics, lr=lr)
        return self._trainer.fit(x, y, **fit_kwargs)

    def evaluate(self, x: Any, y: Any, *, loss: Any = None, metrics: Sequence[Any] | None = None,
                 batch_size: int = 256) -> dict[str, float]:
        """Loss and metrics on (x, y); defaults to those of the last ``fit``."""
        trainer = self._trainer
        if trainer is None or loss is not None or metrics is not None:
            trainer = Trainer(self, loss=loss or (trainer.loss_name if trainer else "mse"),
                              optimizer=None, metrics=metrics or ())
        return trainer.evaluate(x, y, batch_size=batch_size)

    def predict(self, x: Any, *, batch_size: int = 256, precision: str = "fp32") -> torch.Tensor:
        """The model's outputs on x, in batches, without gradients; ``precision`` "bf16" or
        "auto" runs the GEMMs in bfloat16, as ``fit(precision=...)``."""
        return (self._trainer or Trainer(self, optimizer=None)).predict(x, batch_size=batch_size,
                                                                         precision=precision)

    def save(self, path: str | os.PathLike, overwrite: bool = False) -> None:
        """Write a folder with config.json + weights.safetensors (see ``rnnkit.saving``)."""
        saving.save(self, path, overwrite=overwrite)

    def summary(self, input_shape: tuple | None = None, print_fn=print) -> str:
        """``LayerStack.summary``; after a fit, the layers run at that fit's precision, so
        the engine column shows what trained."""
        trainer = self._trainer
        p = next(self.parameters(), None)
        with fit_scope(getattr(trainer, "precision_choice", None),
                       getattr(trainer, "_precision", "fp32"),
                       p.device.type if p is not None else "cpu"):
            return super().summary(input_shape, print_fn)

    def _summary_notes(self) -> list[str]:
        trainer, notes = self._trainer, []
        if trainer is not None and trainer.step_choice is not None:      # None until fit
            notes.append(f"training step: {trainer.step_choice}")
        if trainer is not None and getattr(trainer, "precision_choice", None) is not None:
            notes.append(f"precision: {trainer.precision_choice}")
        if trainer is not None and trainer.thread_choice is not None:
            notes.append(f"threads: {trainer.thread_choice.n} ({trainer.thread_choice.reason})")
        return notes


def load(path: str | os.PathLike) -> torch.nn.Module:
    """Load a model saved by ``save`` (a folder) or a training checkpoint (a .safetensors
    file written by ``fit(checkpoint=...)``)."""
    target = saving.checked_path(path, "load")
    if target.is_file() and target.name != saving.CONFIG:
        return load_model_from_checkpoint(target)
    return saving.load(target)
