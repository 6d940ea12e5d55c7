"""Metrics accumulated over batches: ``update(y_hat, y)`` then ``result()``."""

from __future__ import annotations

import copy
import math

import torch

from .losses import BinaryCrossentropy, SparseCategoricalCrossentropy, _match

__all__ = ["Metric", "Accuracy", "RootMeanSquaredError", "MeanAbsoluteError",
           "MeanSquaredError", "get_metric"]


class Metric:
    name = "metric"

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.total, self.count = 0.0, 0

    def result(self) -> float:
        return self.total / self.count if self.count else math.nan


class MeanSquaredError(Metric):
    name = "mse"

    def update(self, y_hat: torch.Tensor, y: torch.Tensor) -> None:
        err = y_hat.detach() - _match(y_hat, y, self.name).to(y_hat.dtype)
        self.total += float((err * err).sum())
        self.count += err.numel()


class RootMeanSquaredError(MeanSquaredError):
    name = "rmse"

    def result(self) -> float:
        return math.sqrt(super().result())


class MeanAbsoluteError(Metric):
    name = "mae"

    def update(self, y_hat: torch.Tensor, y: torch.Tensor) -> None:
        err = y_hat.detach() - _match(y_hat, y, self.name).to(y_hat.dtype)
        self.total += float(err.abs().sum())
        self.count += err.numel()


class Accuracy(Metric):
    """Fraction correct. ``mode`` "binary" thresholds (0.5, or 0 for logits); "sparse"
    takes the argmax of the last axis; "auto" decides from the prediction's last axis."""

    name = "accuracy"

    def __init__(self, mode: str = "auto", from_logits: bool = False):
        self.mode, self.from_logits = mode, from_logits
        super().__init__()

    def update(self, y_hat: torch.Tensor, y: torch.Tensor) -> None:
        y_hat = y_hat.detach()
        if y.is_floating_point() and not bool((y == y.round()).all()):
            raise ValueError("accuracy needs class labels (0/1 or class indices); the targets "
                             "hold fractions -- for regression use 'mae', 'rmse' or 'mse'")
        sparse = self.mode == "sparse" or (self.mode == "auto" and y_hat.shape[-1] > 1
                                           and y.numel() * y_hat.shape[-1] == y_hat.numel())
        if sparse:
            pred, truth = y_hat.argmax(-1).reshape(-1), y.reshape(-1).long()
        else:
            pred = (y_hat > (0.0 if self.from_logits else 0.5)).reshape(-1).long()
            truth = _match(y_hat, y, self.name).reshape(-1).long()
        self.total += float((pred == truth).sum())
        self.count += truth.numel()


METRICS = {"accuracy": Accuracy, "acc": Accuracy, "rmse": RootMeanSquaredError,
           "mae": MeanAbsoluteError, "mse": MeanSquaredError}


def get_metric(metric: str | Metric, loss=None) -> Metric:
    """A fresh metric by name; "accuracy" follows the loss (binary/sparse, logits or not)."""
    if isinstance(metric, Metric):          # a fresh copy: every epoch and split starts at 0
        fresh = copy.copy(metric)
        fresh.reset()
        return fresh
    if not isinstance(metric, str):
        raise TypeError(f"a metric must be a name or a Metric, got {type(metric).__name__}")
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {sorted(METRICS)} or a Metric, got {metric!r}")
    if METRICS[metric] is Accuracy:
        mode = ("binary" if isinstance(loss, BinaryCrossentropy) else
                "sparse" if isinstance(loss, SparseCategoricalCrossentropy) else "auto")
        return Accuracy(mode, from_logits=getattr(loss, "from_logits", False))
    return METRICS[metric]()
