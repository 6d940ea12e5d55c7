"""A training loop in NumPy: shuffled mini-batches, hand-written BPTT, clipping, SGD/Adam."""

from __future__ import annotations

import numpy as np

from .optim import SGD, Adam
from .sequence import Cell, forward, loss_and_grads

__all__ = ["fit", "predict"]


def predict(cell: Cell, params: dict, x: np.ndarray) -> np.ndarray:
    """Dense head on the last hidden state: (B, T, D) -> (B, K)."""
    _, final, _ = forward(cell, params, x)
    h = final[0] if isinstance(final, tuple) else final
    return h @ params["head.weight"].T + params["head.bias"]


def fit(cell: Cell, params: dict, x: np.ndarray, y: np.ndarray, *, epochs: int,
        batch_size: int = 1, optimizer: SGD | Adam | None = None, truncate: int | None = None,
        clip_value: float | None = None, clip_norm: float | None = None,
        seed: int = 0) -> list[float]:
    """Train ``params`` in place; returns the mean training loss of each epoch."""
    optimizer = optimizer or Adam()
    rng = np.random.default_rng(seed)
    history = []
    for _ in range(epochs):
        order, total = rng.permutation(len(x)), 0.0
        for start in range(0, len(x), batch_size):
            idx = order[start:start + batch_size]
            loss, grads, _ = loss_and_grads(cell, params, x[idx], y[idx], truncate=truncate,
                                            clip_value=clip_value, clip_norm=clip_norm)
            optimizer.step(params, grads)
            total += loss * len(idx)
        history.append(total / len(x))
    return history
