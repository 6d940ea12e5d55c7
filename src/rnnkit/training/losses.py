"""Losses by Keras name.  Shapes are checked, never broadcast silently: (B, 1) against (B,)
is reshaped (same count), anything else that differs is an error -- the classic bug of
``mse((B, 1), (B,))`` broadcasting to (B, B) cannot happen here.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

__all__ = ["MeanSquaredError", "MeanAbsoluteError", "BinaryCrossentropy",
           "SparseCategoricalCrossentropy", "get_loss", "LOSSES"]

EPS = 1e-7  # Keras' epsilon: probabilities are clipped to [EPS, 1 - EPS]


def _match(y_hat: torch.Tensor, y: torch.Tensor, name: str) -> torch.Tensor:
    if y.shape == y_hat.shape:
        return y
    if y.numel() == y_hat.numel():
        return y.reshape(y_hat.shape)
    raise ValueError(f"{name}: predictions have shape {tuple(y_hat.shape)} but targets have "
                     f"shape {tuple(y.shape)}")


class MeanSquaredError:
    name = "mse"

    def __call__(self, y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(y_hat, _match(y_hat, y, self.name).to(y_hat.dtype))


class MeanAbsoluteError:
    name = "mae"

    def __call__(self, y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.l1_loss(y_hat, _match(y_hat, y, self.name).to(y_hat.dtype))


class BinaryCrossentropy:
    """Targets in {0, 1}; predictions probabilities, or logits with ``from_logits=True``."""

    name = "binary_crossentropy"

    def __init__(self, from_logits: bool = False):
        self.from_logits = from_logits

    def __call__(self, y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        y = _match(y_hat, y, self.name).to(y_hat.dtype)
        if self.from_logits:
            return F.binary_cross_entropy_with_logits(y_hat, y)
        return F.binary_cross_entropy(y_hat.clamp(EPS, 1 - EPS), y)


class SparseCategoricalCrossentropy:
    """Integer class targets (...,) against scores (..., C): per step when there is a T axis."""

    name = "sparse_categorical_crossentropy"

    def __init__(self, from_logits: bool = False):
        self.from_logits = from_logits

    def __call__(self, y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        C = y_hat.shape[-1]
        if y.dtype.is_floating_point:
            if not bool((y == y.round()).all()):
                raise ValueError(f"{self.name}: targets must be class indices, got fractions")
            y = y.long()
        if y.numel() * C != y_hat.numel():
            raise ValueError(f"{self.name}: scores {tuple(y_hat.shape)} do not match class "
                             f"targets {tuple(y.shape)} (expected targets of shape "
                             f"{tuple(y_hat.shape[:-1])})")
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
