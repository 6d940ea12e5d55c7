"""Losses by Keras name.  Shapes are checked, never broadcast or reshaped silently: targets
must have the predictions' shape, or that shape with a trailing axis of size 1 added or
removed ((B,) against (B, 1)).  Anything else is an error -- the classic bug of
``mse((B, 1), (B,))`` broadcasting to (B, B) cannot happen here, nor can per-step targets
given as (B, 2, T) for predictions (B, T, 2) train as a reshuffled mess.

Each loss also has ``check_targets(pred_shape, y)``: the whole target tensor checked once
against the shape of one batch of predictions (the batch axis aside) and the loss's value
range -- labels in [0, 1] for binary cross-entropy, class indices in [0, C) for the sparse
one.  ``Trainer`` calls it before any training step is chosen (``training/boundary.py``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ..engines.codes import PROB_EPS

__all__ = ["MeanSquaredError", "MeanAbsoluteError", "BinaryCrossentropy",
           "SparseCategoricalCrossentropy", "get_loss", "LOSSES"]

EPS = PROB_EPS  # Keras' epsilon: probabilities are clipped to [EPS, 1 - EPS] (codes.py:
                # the C++ training step reads the same number)


def _aligned(pred_shape: tuple, y_shape: tuple) -> bool:
    """Equal, or equal but for one trailing axis of size 1 on either side."""
    return (y_shape == pred_shape
            or (pred_shape[-1:] == (1,) and y_shape == pred_shape[:-1])
            or (y_shape[-1:] == (1,) and y_shape[:-1] == pred_shape))


def _shape_error(name: str, pred_shape: tuple, y_shape: tuple) -> ValueError:
    return ValueError(f"{name}: predictions have shape {pred_shape} but targets have shape "
                      f"{y_shape} (targets must have the predictions' shape, up to a "
                      "trailing axis of size 1)")


def _match(y_hat: torch.Tensor, y: torch.Tensor, name: str) -> torch.Tensor:
    if y.shape == y_hat.shape:
        return y
    if not _aligned(tuple(y_hat.shape), tuple(y.shape)):
        raise _shape_error(name, tuple(y_hat.shape), tuple(y.shape))
    return y.reshape(y_hat.shape)


def _check_values(name: str, y: torch.Tensor, lo: float, hi: float, what: str) -> None:
    if y.numel() and (float(y.min()) < lo or float(y.max()) > hi):
        raise ValueError(f"{name}: targets must be {what}, got values from "
                         f"{float(y.min()):g} to {float(y.max()):g}")


def _probabilities(name: str, y_hat: torch.Tensor, from_logits: bool, head: str) -> None:
    """On probabilities (``from_logits=False``) outputs outside [0, 1] are clamped, and
    their gradient is zero: the model would not train.  Say so before it starts."""
    if from_logits or y_hat.numel() == 0:
        return
    lo, hi = float(y_hat.min()), float(y_hat.max())
    if lo < 0 or hi > 1:
        raise ValueError(f"{name}: the model outputs values from {lo:.3g} to {hi:.3g}, but "
                         f"from_logits=False reads probabilities in [0, 1]; end the model "
                         f"with activation='{head}', or pass the loss with from_logits=True")


class _Loss:
    """What every rnnkit loss shares: the up-front check of a whole target tensor."""

    name = "loss"

    def check_predictions(self, y_hat: torch.Tensor) -> None:
        """Raise ValueError when the model's outputs cannot be what this loss reads."""

    def check_targets(self, pred_shape: tuple, y: torch.Tensor) -> None:
        """Raise ValueError unless ``y`` (N, ...) fits predictions of ``pred_shape``
        (any batch size) and this loss's range."""
        want = (y.shape[0], *pred_shape[1:])
        if not _aligned(want, tuple(y.shape)):
            raise _shape_error(self.name, want, tuple(y.shape))


class MeanSquaredError(_Loss):
    name = "mse"

    def __call__(self, y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(y_hat, _match(y_hat, y, self.name).to(y_hat.dtype))


class MeanAbsoluteError(_Loss):
    name = "mae"

    def __call__(self, y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.l1_loss(y_hat, _match(y_hat, y, self.name).to(y_hat.dtype))


class BinaryCrossentropy(_Loss):
    """Targets in [0, 1] (labels 0/1, or soft labels); predictions probabilities, or logits
    with ``from_logits=True``."""

    name = "binary_crossentropy"

    def __init__(self, from_logits: bool = False):
        self.from_logits = from_logits

    def check_targets(self, pred_shape: tuple, y: torch.Tensor) -> None:
        super().check_targets(pred_shape, y)
        _check_values(self.name, y, 0.0, 1.0, "in [0, 1] (labels 0/1 or probabilities)")

    def check_predictions(self, y_hat: torch.Tensor) -> None:
        _probabilities(self.name, y_hat, self.from_logits, "sigmoid")

    def __call__(self, y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        y = _match(y_hat, y, self.name).to(y_hat.dtype)
        if self.from_logits:
            return F.binary_cross_entropy_with_logits(y_hat, y)
        return F.binary_cross_entropy(y_hat.clamp(EPS, 1 - EPS), y)


class SparseCategoricalCrossentropy(_Loss):
    """Integer class targets (...,) against scores (..., C): per step when there is a T axis."""

    name = "sparse_categorical_crossentropy"

    def __init__(self, from_logits: bool = False):
        self.from_logits = from_logits

    def check_predictions(self, y_hat: torch.Tensor) -> None:
        if y_hat.dim() < 2 or y_hat.shape[-1] < 2:
            raise ValueError(f"{self.name}: the model gives scores of shape "
                             f"{tuple(y_hat.shape)}, but classes need a last axis of 2 or more "
                             "(one score per class; a single softmax unit is always 1)")
        _probabilities(self.name, y_hat, self.from_logits, "softmax")

    def check_targets(self, pred_shape: tuple, y: torch.Tensor) -> None:
        C = pred_shape[-1]
        want = (y.shape[0], *pred_shape[1:-1])
        if tuple(y.shape) != want and tuple(y.shape) != (*want, 1):
            raise ValueError(f"{self.name}: scores {pred_shape} (any batch size) need class "
                             f"targets of shape {want}, got {tuple(y.shape)}")
        if y.dtype.is_floating_point and not bool((y == y.round()).all()):
            raise ValueError(f"{self.name}: targets must be class indices, got fractions")
        lo, hi = int(y.min()), int(y.max())
        if lo < 0 or hi >= C:
            raise ValueError(f"{self.name}: class {lo if lo < 0 else hi} outside [0, {C - 1}]")

    def __call__(self, y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        C = y_hat.shape[-1]
        if y.dtype.is_floating_point and not bool((y == y.round()).all()):
            raise ValueError(f"{self.name}: targets must be class indices, got fractions")
        y = y.long()            # also bool or int32 labels, which torch's losses refuse
        want = tuple(y_hat.shape[:-1])
        if tuple(y.shape) != want and tuple(y.shape) != (*want, 1):
            raise ValueError(f"{self.name}: scores {tuple(y_hat.shape)} do not match class "
                             f"targets {tuple(y.shape)} (expected targets of shape {want})")
        y = y.reshape(-1)
        lo, hi = int(y.min()), int(y.max())
        if lo < 0 or hi >= C:
            raise ValueError(f"{self.name}: class {lo if lo < 0 else hi} outside [0, {C - 1}]")
        scores = y_hat.reshape(-1, C)
        if self.from_logits:
            return F.cross_entropy(scores, y)
        return F.nll_loss(scores.clamp(EPS, 1.0).log(), y)


LOSSES: dict[str, Callable[[], Callable]] = {
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "binary_crossentropy": BinaryCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
}


def get_loss(loss: str | Callable) -> Callable:
    """A loss by name (Keras names, ``from_logits=False``) or any callable(y_hat, y)."""
    if callable(loss):
        return loss
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {sorted(LOSSES)} or a callable, got {loss!r}")
    return LOSSES[loss]()
