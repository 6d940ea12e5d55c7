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

from .batching import numeric_array

__all__ = ["make_windows", "shifted_windows", "split_series", "tutorial_windows"]


def _check_int(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def _as_2d(values: Any) -> np.ndarray:
    arr = numeric_array(values, "series", max_ndim=2, allow_empty=True)
    if arr.ndim == 1:
        arr = arr[:, None]
    if len(arr) == 0:
        raise ValueError(f"series is empty (shape {arr.shape}): there is nothing to window")
    if arr.shape[1] == 0:
        raise ValueError(f"series has {len(arr)} rows but no columns (shape {arr.shape})")
    bad = ~np.isfinite(arr)
    if bad.any():
        row, col = (int(v) for v in np.argwhere(bad)[0])
        where = f"row index {row}" + (f", column index {col}" if arr.shape[1] > 1 else "")
        raise ValueError(f"series contains NaN or inf values ({int(bad.sum())}, the first at "
                         f"{where}): fill or drop them first (see rnnkit.data.fill_missing)")
    return arr


def _check_targets(targets: Any, n_columns: int) -> list[int]:
    """Column indices to predict: default every column; each in 0..n_columns-1, once."""
    if targets is None:
        return list(range(n_columns))
    if isinstance(targets, (int, np.integer)) and not isinstance(targets, bool):
        targets = [targets]
    try:
        given = list(targets)
    except TypeError:
        raise ValueError(f"targets must be a list of column indices, got {targets!r}") from None
    if not given:
        raise ValueError("targets must name at least one column index, got []")
    for t in given:
        if isinstance(t, bool) or not isinstance(t, (int, np.integer)):
            raise ValueError(f"targets must be column indices (ints), got {t!r} in {given!r}")
    bad = [int(t) for t in given if not 0 <= t < n_columns]
    if bad:
        raise ValueError(f"targets {bad} are out of range: the series has {n_columns} "
                         f"column{'s' if n_columns != 1 else ''}, so a target must be in "
                         f"0..{n_columns - 1}")
    if len(set(map(int, given))) != len(given):
        raise ValueError(f"targets repeat a column: {given!r}")
    return [int(t) for t in given]


def _check_length(n: int, window: int, horizon: int) -> None:
    if n < window + horizon:
        raise ValueError(f"series of length {n} is too short for window={window} + "
                         f"horizon={horizon} (needs at least {window + horizon} rows)")


def make_windows(values: Any, window: int, horizon: int = 1, stride: int = 1,
                 targets: list[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Sliding windows: x (M, window, F) and y (M, horizon, len(targets)).

    ``targets`` are column indices to predict (default: every column).

    Example:
        >>> x, y = make_windows(np.arange(8.0), window=3, horizon=2, stride=2)
        >>> x[:, :, 0].tolist(), y[:, :, 0].tolist()
        ([[0.0, 1.0, 2.0], [2.0, 3.0, 4.0]], [[3.0, 4.0], [5.0, 6.0]])
    """
    window, horizon, stride = (_check_int(n, v) for n, v in
                               (("window", window), ("horizon", horizon), ("stride", stride)))
    arr = _as_2d(values)
    targets = _check_targets(targets, arr.shape[1])
    n = len(arr)
    _check_length(n, window, horizon)
    starts = np.arange(0, n - window - horizon + 1, stride)
    x = np.stack([arr[s:s + window] for s in starts])
    y = np.stack([arr[s + window:s + window + horizon][:, targets] for s in starts])
    return x, y


def shifted_windows(values: Any, window: int, stride: int = 1,
                    targets: list[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Many-to-many pairs: the target is the input window shifted one step, so every step
    predicts its next value: x (M, window, F), y (M, window, len(targets))."""
    window, stride = _check_int("window", window), _check_int("stride", stride)
    arr = _as_2d(values)
    targets = _check_targets(targets, arr.shape[1])
    x, _ = make_windows(arr, window, 1, stride)
    y = np.stack([arr[s + 1:s + window + 1][:, targets]
                  for s in range(0, len(arr) - window, stride)])
    return x, y


def _check_fraction(name: str, frac: Any) -> float:
    if isinstance(frac, bool) or not isinstance(frac, (int, float, np.integer, np.floating)) \
            or not 0 <= frac < 1:
        raise ValueError(f"{name} fraction must be a number in [0, 1), got {frac!r}")
    return float(frac)


def split_series(n: int, window: int, val: float = 0.15, test: float = 0.15
                 ) -> dict[str, tuple[int, int]]:
    """Row ranges [start, stop) of train, validation and test, in time order.

    Validation and test ranges start ``window`` rows early, to give their first target a
    full input window; their targets start where the previous part ends. A fraction of 0
    leaves its part out; a fraction > 0 must come to at least one row.
    """
    n, window = _check_int("n (the number of rows)", n), _check_int("window", window)
    val, test = _check_fraction("val", val), _check_fraction("test", test)
    if val + test >= 1:
        raise ValueError(f"val + test = {val} + {test} = {val + test:g} leaves nothing for "
                         "training; their sum must be below 1")
    n_test, n_val = int(round(n * test)), int(round(n * val))
    for name, frac, rows in (("val", val, n_val), ("test", test, n_test)):
        if frac > 0 and rows == 0:
            raise ValueError(f"{name}={frac:g} of {n} rows is no row at all; give {name}=0 "
                             "to leave that part out, or a larger fraction")
    a, b = n - n_test - n_val, n - n_test
    if a < window + 1:
        raise ValueError(f"the training part has {a} rows, fewer than window + 1 = "
                         f"{window + 1} (n={n}, val={val:g}, test={test:g}); use a longer "
                         "series, a smaller window or smaller val/test fractions")
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
