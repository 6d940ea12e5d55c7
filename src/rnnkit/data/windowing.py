r"""Cutting series into training windows, and splitting them in time without leakage.

A window of ``window`` rows predicts the ``horizon`` rows after it::

    rows   0 1 2 3 4 5 6 7 8 9
    x      [ window=4 ]
    y                [h=2]
    next x   [ stride=1 ]...

``split_series`` cuts the rows chronologically; validation and test windows may read the
last ``window`` rows before their part as inputs, but every target lies inside its part, so
no target is seen twice and the scaler (fitted on training rows) never sees the future.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["make_windows", "shifted_windows", "split_series", "tutorial_windows"]


def _check_int(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def _as_2d(values: Any) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"series must be (N,) or (N, F), got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError("series contains NaN or inf values: fill or drop them first "
                         "(see rnnkit.data.fill_missing)")
    return arr


def make_windows(values: Any, window: int, horizon: int = 1, stride: int = 1,
                 targets: list[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Sliding windows: x (M, window, F) and y (M, horizon, len(targets)).

    ``targets`` are column indices to predict (default: every column).

    Example:
        >>> x, y = make_windows(np.arange(8.0), window=3, horizon=2, stride=2)
        >>> x[:, :, 0].tolist(), y[:, :, 0].tolist()
        ([[0.0, 1.0, 2.0], [2.0, 3.0, 4.0]], [[3.0, 4.0], [5.0, 6.0]])
    """
    arr = _as_2d(values)
    window, horizon, stride = (_check_int(n, v) for n, v in
                               (("window", window), ("horizon", horizon), ("stride", stride)))
    targets = list(range(arr.shape[1])) if targets is None else list(targets)
    n = len(arr)
    if n < window + horizon:
        raise ValueError(f"series of length {n} is too short for window={window} + "
                         f"horizon={horizon} (needs at least {window + horizon} rows)")
    starts = np.arange(0, n - window - horizon + 1, stride)
    x = np.stack([arr[s:s + window] for s in starts])
    y = np.stack([arr[s + window:s + window + horizon][:, targets] for s in starts])
    return x, y


def shifted_windows(values: Any, window: int, stride: int = 1,
                    targets: list[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Many-to-many pairs: the target is the input window shifted one step, so every step
    predicts its next value: x (M, window, F), y (M, window, len(targets))."""
    arr = _as_2d(values)
    x, _ = make_windows(arr, window, 1, stride)
    targets = list(range(arr.shape[1])) if targets is None else list(targets)
    y = np.stack([arr[s + 1:s + window + 1][:, targets]
                  for s in range(0, len(arr) - window, _check_int("stride", stride))])
    return x, y


def split_series(n: int, window: int, val: float = 0.15, test: float = 0.15
                 ) -> dict[str, tuple[int, int]]:
    """Row ranges [start, stop) of train, validation and test, in time order.

    Validation and test ranges start ``window`` rows early, to give their first target a
    full input window; their targets start where the previous part ends.
    """
    for name, frac in (("val", val), ("test", test)):
        if not 0 <= frac < 1:
            raise ValueError(f"{name} fraction must be in [0, 1), got {frac!r}")
    n_test, n_val = int(round(n * test)), int(round(n * val))
    a, b = n - n_test - n_val, n - n_test
    if a < window + 1:
        raise ValueError(f"the training part has {a} rows, fewer than window + 1 = "
                         f"{window + 1}; use a longer series or a smaller window")
    parts = {"train": (0, a)}
    if n_val:
        parts["val"] = (a - window, b)
    if n_test:
        parts["test"] = (b - window, n)
    return parts


def tutorial_windows(series: Any, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Non-overlapping windows as in the sunspots tutorial: targets at steps
    window, 2·window, ...; each input is the ``window`` values before its target.

    Returns x (N, window, 1) and y (N,), N = (len - 1) // window.

    Example:
        >>> x, y = tutorial_windows(np.arange(10.0), 3)
        >>> x[:, :, 0].tolist(), y.tolist()
        ([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]], [3.0, 6.0, 9.0])
    """
    series = _as_2d(series)[:, 0]
    window = _check_int("window", window)
    n = (len(series) - 1) // window
    if n < 1:
        raise ValueError(f"series of length {len(series)} is too short for window={window} "
                         f"(needs at least {window + 1} values)")
    targets = np.arange(window, window * n + 1, window)
    return series[: window * n].reshape(n, window, 1), series[targets]
