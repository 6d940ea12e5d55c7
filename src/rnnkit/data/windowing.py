"""Cutting a series into (window -> next value) training pairs."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["tutorial_windows"]


def tutorial_windows(series: Any, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Non-overlapping windows as in the sunspots tutorial: targets at steps
    window, 2·window, ...; each input is the ``window`` values before its target.

    Returns x (N, window, 1) and y (N,), N = (len - 1) // window.

    Example:
        >>> x, y = tutorial_windows(np.arange(10.0), 3)
        >>> x[:, :, 0].tolist(), y.tolist()
        ([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]], [3.0, 6.0, 9.0])
    """
    series = np.asarray(series, dtype=np.float64).reshape(-1)
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise ValueError(f"window must be a positive int, got {window!r}")
    if not np.isfinite(series).all():
        raise ValueError("series contains NaN or inf values")
    n = (len(series) - 1) // window
    if n < 1:
        raise ValueError(f"series of length {len(series)} is too short for window={window} "
                         f"(needs at least {window + 1} values)")
    targets = np.arange(window, window * n + 1, window)
    return series[: window * n].reshape(n, window, 1), series[targets]
