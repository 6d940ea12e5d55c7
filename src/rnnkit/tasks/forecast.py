"""Forecasting a series with an RNN: windows, scaling, training, multi-step forecasts,
metrics against naive baselines, save/load and a report with plots.

Strategies for a horizon of K steps:
    direct     the network outputs all K steps at once from the window's last state
    recursive  the network predicts one step; K steps come from feeding predictions back
    seq2seq    every step of the window predicts its next value (T targets per window
               instead of one, as in the "20 steps" tutorial); forecasts feed back like
               recursive
Feeding back needs every input feature to be predicted (targets = all columns).

``difference=True`` models the change from one step to the next and adds the forecast
changes back onto the last known value: a trending series (prices, passenger counts) then
never leaves the range the scaler saw in training.

``quantiles=(0.1, 0.5, 0.9)`` trains on the pinball loss: the network outputs every level
for every step, sorted (so they never cross), the median is the point forecast, and each
central interval (0.1-0.9: 80 %) is widened or narrowed on the validation part by
split-conformal calibration so that it covers its share of points.

Honest yardsticks in ``evaluate``: naive forecasts always; with ``stats=`` statsforecast's
AutoARIMA, AutoETS, AutoTheta, Naive and SeasonalNaive on exactly the same targets and
origins (``stats_baselines``); with ``backtest=N`` a rolling-origin evaluation at N origins,
refitted at each or not.
"""

from __future__ import annotations

import json
import math
import numbers
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import layers as L
from ..data.scaling import make_scaler, scaler_from_dict
from ..data.windowing import make_windows, shifted_windows, split_series
from ..datasets.series import Series
from ..model import Sequential
from ..precision import check_precision, inference, to_fp32
from ..training import EarlyStopping, Trainer, set_seed
from ..types import Choice

FLOAT32_MAX = float(np.finfo(np.float32).max)   # the network reads float32

__all__ = ["Forecaster", "ForecastConfig", "Preset", "dataset_preset", "general_preset",
           "infer_season", "future_times", "trend_ratio", "PinballLoss", "interval_pairs",
           "interval_scores", "check_levels", "rmse", "point_metrics", "feed_back",
           "fits_float32"]

CELLS = {"simple": L.SimpleRNN, "lstm": L.LSTM, "gru": L.GRU}
STRATEGIES = ("direct", "recursive", "seq2seq")


MAX_STEPS = 100_000   # steps one predict() call may forecast


@dataclass(frozen=True)
class ForecastConfig:
    cell: str = "lstm"                 # simple | lstm | gru
    units: int = 64                    # hidden units per recurrent layer
    layers: int = 1                    # stacked recurrent layers
    window: int = 12                   # input steps per sample
    horizon: int = 1                   # steps predicted per sample (K)
    strategy: str = "direct"           # direct | recursive | seq2seq (see module docstring)
    stride: int = 1                    # step between training windows (window = non-overlapping)
    scaler: str | None = "minmax"      # minmax | standard | None; fitted on training rows only
    dropout: float = 0.0               # input dropout of each recurrent layer
    bidirectional: bool = False        # read each window both ways (not with seq2seq)
    targets: tuple[str, ...] | None = None   # columns to predict; None = the first column
    season: int | None = None          # period for the seasonal-naive baseline, in steps
    lr: float = 1e-3                   # Adam learning rate
    difference: bool = False           # model step-to-step changes, add them back to levels
    quantiles: tuple[float, ...] | None = None   # train on the pinball loss of these levels
    #                                    (must hold 0.5, the point forecast); None = MSE
    calibrate: bool = True             # widen/narrow each (q, 1-q) interval on validation
    #                                    (split-conformal) so it covers 1-2q of the points

    def __post_init__(self) -> None:
        for name in ("bidirectional", "difference", "calibrate"):   # 'no' would be truthy
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise TypeError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if not isinstance(self.cell, str) or self.cell not in CELLS:
            raise ValueError(f"cell must be one of {', '.join(CELLS)}, got {self.cell!r}")
        if not isinstance(self.strategy, str) or self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, "
                             f"got {self.strategy!r}")
        for name in ("units", "layers", "window", "horizon", "stride"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        season = self.season
        if season is not None and (isinstance(season, bool) or not isinstance(season, int)
                                   or season < 1):
            raise ValueError(f"season must be a positive int (the period in steps) or None, "
                             f"got {season!r}")
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, (int, float)) \
                or not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be a number in [0, 1), got {self.dropout!r}")
        if isinstance(self.lr, bool) or not isinstance(self.lr, (int, float)) \
                or not 0 < self.lr < math.inf:
            raise ValueError(f"lr must be a positive number, got {self.lr!r}")
        if self.targets is not None:
            targets = (self.targets,) if isinstance(self.targets, str) else self.targets
            try:
                targets = tuple(targets)
            except TypeError:
                raise ValueError(f"targets must be column names, got {self.targets!r}") from None
            if not targets or not all(isinstance(t, str) for t in targets):
                raise ValueError(f"targets must be one or more column names, got "
                                 f"{self.targets!r}")
            repeated = sorted({t for t in targets if targets.count(t) > 1})
            if repeated:
                raise ValueError(f"targets name {', '.join(map(repr, repeated))} more than once")
            object.__setattr__(self, "targets", targets)
        if self.quantiles is not None:
            object.__setattr__(self, "quantiles", _check_quantiles(self.quantiles))
            if self.strategy != "direct":
                raise ValueError("quantiles need strategy='direct': feeding a median back "
                                 f"does not give quantiles of later steps (got "
                                 f"strategy={self.strategy!r})")
        if self.bidirectional and self.strategy == "seq2seq":
            raise ValueError("bidirectional=True with strategy='seq2seq' would let each step "
                             "see the value it predicts; use direct or recursive")
        make_scaler(self.scaler)


DEFAULT_LEVELS = (0.1, 0.5, 0.9)      # quantiles=True: the median and an 80 % interval


def check_levels(levels: Any) -> tuple[float, ...]:
    """Quantile levels as an increasing tuple of numbers in (0, 1); ``True`` is
    ``DEFAULT_LEVELS``.  A level given twice is refused.

    Example:
        >>> check_levels([0.9, 0.1])
        (0.1, 0.9)
    """
    if levels is True:
        return DEFAULT_LEVELS
    try:
        qs = tuple(levels)
    except TypeError:
        raise ValueError(f"quantiles must be True or a list of levels such as [0.1, 0.5, 0.9], "
                         f"got {levels!r}") from None
    if not qs or not all(isinstance(q, numbers.Real) and not isinstance(q, bool)
                         and 0 < q < 1 for q in qs):
        raise ValueError(f"quantiles must be numbers strictly between 0 and 1, got {levels!r}")
    qs = tuple(sorted(float(q) for q in qs))
    if len(set(qs)) != len(qs):
        raise ValueError(f"quantiles repeat a level: {levels!r}")
    return qs


def _check_quantiles(quantiles: Any) -> tuple[float, ...]:
    """A Forecaster's trained levels: ``check_levels``'s, given as a list, holding 0.5."""
    try:
        iter(quantiles)                       # True too: check_levels' default is not for this
    except TypeError:
        raise ValueError(f"quantiles must be a list of levels such as [0.1, 0.5, 0.9], got "
                         f"{quantiles!r}") from None
    qs = check_levels(quantiles)
    if 0.5 not in qs:
        raise ValueError(f"quantiles must hold 0.5 (the median is the point forecast), got "
                         f"{quantiles!r}")
    return qs


class PinballLoss:
    r"""Mean pinball (quantile) loss over every quantile level, step and target.

    Math (u = y - y_hat_q, for each level q):
        rho_q(u) = max(q * u, (q - 1) * u)
    Its minimiser is the q-quantile of y (Koenker & Bassett, 1978).

    The outputs are sorted along the level axis before the loss: the rearrangement of
    Chernozhukov, Fernandez-Val & Galichon (2010) moves estimates no farther from the true
    quantiles, and it makes crossing impossible (predictions are sorted the same way).

    Shapes: y_hat (B, P * Q) with the Q levels last; y (B, P) or (B, P, 1)
    """

    name = "pinball"

    def __init__(self, quantiles: tuple[float, ...]):
        self.quantiles = tuple(quantiles)

    def check_predictions(self, y_hat: torch.Tensor) -> None:
        if y_hat.ndim != 2 or y_hat.shape[1] % len(self.quantiles):
            raise ValueError(f"pinball: predictions {tuple(y_hat.shape)} do not hold "
                             f"{len(self.quantiles)} quantiles per target")

    def check_targets(self, pred_shape: tuple, y: torch.Tensor) -> None:
        want = pred_shape[1] // len(self.quantiles)
        if y.reshape(len(y), -1).shape[1] != want:
            raise ValueError(f"pinball: targets {tuple(y.shape)} need {want} values per sample "
                             f"for predictions {pred_shape} with {len(self.quantiles)} levels")

    def __call__(self, y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        q = torch.tensor(self.quantiles, dtype=y_hat.dtype, device=y_hat.device)
        pred = y_hat.reshape(len(y_hat), -1, len(q)).sort(dim=-1).values   # (B, P, Q)
        u = y.reshape(len(y), -1, 1).to(y_hat.dtype) - pred
        return torch.maximum(q * u, (q - 1) * u).mean()


def interval_scores(bands: np.ndarray, true: np.ndarray, quantiles: tuple[float, ...]
                    ) -> dict[str, Any]:
    """What ``evaluate`` reports for quantile forecasts bands (..., Q) of targets (...): the
    levels, the mean pinball loss (in the units of true) and each central interval's
    coverage (share of targets inside it, keyed by its nominal %)."""
    q = np.asarray(quantiles)
    u = true[..., None] - bands
    return {"quantiles": list(quantiles),
            "pinball": float(np.mean(np.maximum(q * u, (q - 1) * u))),
            "coverage": {str(c): float(np.mean((true >= bands[..., i]) & (true <= bands[..., j])))
                         for i, j, c in interval_pairs(quantiles)}}


def fold_intervals(bands: np.ndarray, true: np.ndarray, quantiles: tuple[float, ...]
                   ) -> dict[str, Any]:
    """A backtest fold's (or all folds') "coverage" and "pinball" of bands (..., Q)."""
    scores = interval_scores(bands, true, quantiles)
    return {"coverage": scores["coverage"], "pinball": scores["pinball"]}


def backtest_result(part: str, origins: int, refit: bool, folds: list[dict[str, Any]],
                    preds: list[np.ndarray], true: np.ndarray, bands: list[np.ndarray],
                    quantiles: tuple[float, ...] | None) -> dict[str, Any]:
    """What ``backtest`` returns from its folds: "overall" scores every fold's forecasts
    (and bands) together, beside the mean, spread and range of the folds' RMSE."""
    rmses = [f["rmse"] for f in folds]
    overall = {**point_metrics(np.concatenate(preds), true),
               "rmse_mean": float(np.mean(rmses)), "rmse_sd": float(np.std(rmses)),
               "rmse_min": min(rmses), "rmse_max": max(rmses)}
    if quantiles and len(bands) == len(folds):
        overall.update(fold_intervals(np.concatenate(bands), true, quantiles))
    return {"part": part, "origins": int(origins), "refit": bool(refit), "folds": folds,
            "overall": overall}


def fits_float32(scaled: Any) -> Any:
    """``scaled`` (values in a network's units) unchanged, or a ValueError when they do not
    fit its float32 inputs (where they would become inf)."""
    big = np.abs(np.asarray(scaled, dtype=np.float64))
    if big.size and big.max() > FLOAT32_MAX:
        raise ValueError(f"series values are too large for this model: scaled for it they "
                         f"reach {big.max():.3g}, beyond float32's {FLOAT32_MAX:.3g} (values "
                         "far outside the training range)")
    return scaled


def feed_back(block: Any, x: np.ndarray, steps: int, window: int, horizon: int) -> np.ndarray:
    """``steps`` forecasts (B, steps, nt) from windows x (B, window, F): ``block(x)`` gives the
    next (B, k, nt) values, and until ``steps`` are reached they are appended to the windows
    as new inputs (so every input column must be a target) and the model is asked again."""
    blocks, done = [], 0
    while done < steps:
        out = block(x)
        blocks.append(out)
        done += out.shape[1]
        if done < steps:
            if out.shape[2] != x.shape[2]:
                raise ValueError(f"forecasting {steps} steps needs more than horizon="
                                 f"{horizon}: that feeds predictions back, which needs every "
                                 "input column to be a target")
            x = np.concatenate([x, out], axis=1)[:, -window:]
    return np.concatenate(blocks, axis=1)[:, :steps]


def interval_pairs(quantiles: tuple[float, ...] | None) -> list[tuple[int, int, int]]:
    """(index of q, index of 1 - q, nominal coverage in %) for every central interval.

    Example:
        >>> interval_pairs((0.05, 0.1, 0.5, 0.9, 0.95))
        [(0, 4, 90), (1, 3, 80)]
    """
    qs = list(quantiles or ())
    out = []
    for i, q in enumerate(qs):
        for j, p in enumerate(qs):
            if q < 0.5 and math.isclose(q + p, 1.0):
                out.append((i, j, round(100 * (1 - 2 * q))))
    return out


def _folds(m: int, n: int) -> list[np.ndarray]:
    """Indices 0..m-1 cut into n consecutive folds as even as can be."""
    return np.array_split(np.arange(m), n)


def _check_fit_options(epochs: Any, batch_size: Any, patience: Any, seed: Any) -> None:
    for name, v, least in (("epochs", epochs, 1), ("batch_size", batch_size, 1),
                           ("seed", seed, 0)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < least:
            raise ValueError(f"{name} must be an int >= {least}, got {v!r}")
    if patience is not None and (isinstance(patience, bool)
                                 or not isinstance(patience, (int, np.integer)) or patience < 0):
        raise ValueError(f"patience must be None or an int >= 0, got {patience!r}")


def rmse(pred: Any, true: Any) -> float:
    """Root mean squared error between two arrays of as many values, as a float."""
    return math.sqrt(float(np.mean((np.ravel(pred) - np.ravel(true)) ** 2)))


def point_metrics(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    nonzero = np.abs(true) > 1e-8
    mape = float(np.mean(np.abs((pred - true)[nonzero] / true[nonzero])) * 100) \
        if nonzero.any() else math.nan
    return {"rmse": rmse(pred, true), "mae": float(np.mean(np.abs(pred - true))),
            "mape": mape}


@dataclass
class _Prepared:
    values: np.ndarray                 # (N, F) original units (levels)
    times: np.ndarray
    columns: tuple[str, ...]
    parts: dict[str, tuple[int, int]] = field(default_factory=dict)   # rows of `model`
    name: str = "series"

    def model_rows(self, differenced: bool) -> np.ndarray:
        """What the network sees: the levels, or their step-to-step changes (N - 1 rows)."""
        return np.diff(self.values, axis=0) if differenced else self.values


# ---------------------------------------------------------------------- seasons and dates
_ISO = re.compile(r"^\d{4}(-\d{2}(-\d{2}([ T]\d{2}:\d{2}(:\d{2})?)?)?)?$")
# name, season, the median step between two dates in days: (low, high)
_FREQUENCIES = (("hourly", 24, (0.9 / 24, 1.1 / 24)), ("daily", 7, (0.9, 1.1)),
                ("weekly", 52, (6.5, 7.5)), ("monthly", 12, (27.5, 31.5)),
                ("quarterly", 4, (88.0, 93.0)), ("annual", None, (360.0, 370.0)))
SEASON_RULE = ("monthly 12, quarterly 4, weekly 52, daily 7 (5 for weekdays only), hourly 24, "
               "annual none")


def _dates(times: Any) -> np.ndarray | None:
    """ISO-8601 labels (YYYY, YYYY-MM, YYYY-MM-DD, optionally with hh:mm[:ss]) as
    datetime64[s], or None when any label is not one."""
    labels = [str(t) for t in np.asarray(times).ravel()]
    if len(labels) < 2 or not all(_ISO.match(t) for t in labels):
        return None
    try:
        return np.array(labels).astype("datetime64[s]")
    except ValueError:
        return None


def _frequency(times: Any) -> tuple[str | None, int | None, str]:
    """(frequency name, season, why) from the time labels."""
    dates = _dates(times)
    if dates is None:
        return None, None, "the time labels are not dates"
    steps = np.diff(dates).astype("timedelta64[s]").astype(np.int64) / 86400.0
    if (steps < 0).any() or np.mean(steps == 0) > 0.01:     # a clock change may repeat one
        return None, None, "the dates are not in increasing order"
    median = float(np.median(steps))
    for name, season, (low, high) in _FREQUENCIES:
        if low <= median <= high:
            if name == "daily":
                days = dates.astype("datetime64[D]")
                weekday = (days.astype(np.int64) - 4) % 7        # 1970-01-01 was a Thursday
                if not (weekday >= 5).any() and (steps > 1.5).any():
                    return "weekday", 5, "weekday dates (no Saturdays or Sundays)"
            return name, season, f"{name} dates"
    return None, None, f"the dates are irregular (a median step of {median:.3g} days)"


def infer_season(times: Any) -> tuple[int | None, str]:
    """The seasonal period in steps implied by the dates' frequency, and why:
    monthly 12, quarterly 4, weekly 52, daily 7 (5 for weekdays only), hourly 24, annual
    none.  ``(None, reason)`` when the labels are not regular ISO dates.

    Example:
        >>> infer_season(["2020-01", "2020-02", "2020-03"])
        (12, 'inferred from monthly dates')
        >>> infer_season(["1", "2", "3"])
        (None, 'the time labels are not dates')
    """
    name, season, why = _frequency(times)
    if name is None:
        return None, why
    if season is None:
        return None, f"{name} dates have no season"
    return season, f"inferred from {why}"


def future_times(times: Any, steps: int) -> list[str]:
    """Labels for ``steps`` steps after the last of ``times``, in the same format when the
    labels are regular dates, else "+1", "+2", ...

    Example:
        >>> future_times(["2020-11", "2020-12"], 2)
        ['2021-01', '2021-02']
        >>> future_times(["0", "1"], 2)
        ['+1', '+2']
    """
    name, _, _ = _frequency(times)
    if name is None:
        return [f"+{k}" for k in range(1, steps + 1)]
    last_label = str(np.asarray(times).ravel()[-1])
    last = np.datetime64(last_label.replace(" ", "T"), "s")
    k = np.arange(1, steps + 1)
    if name in ("monthly", "quarterly", "annual"):
        months = {"monthly": 1, "quarterly": 3, "annual": 12}[name]
        month = last.astype("datetime64[M]")
        offset = last - month.astype("datetime64[s]")                 # into the month
        day = np.timedelta64(1, "D")
        starts = (month + months * k).astype("datetime64[s]")
        ends = (month + months * k + 1).astype("datetime64[s]") - day + offset % day
        month_end = (last + day).astype("datetime64[M]") != month     # labels at month ends
        new = ends if month_end else np.minimum(starts + offset, ends)
    elif name == "weekday":
        day = last.astype("datetime64[D]")
        new = np.busday_offset(day, k, roll="forward").astype("datetime64[s]") \
            + (last - day.astype("datetime64[s]"))
    else:
        step = {"hourly": np.timedelta64(3600, "s"), "daily": np.timedelta64(86400, "s"),
                "weekly": np.timedelta64(7 * 86400, "s")}[name]
        new = last + step * k
    unit = {4: "Y", 7: "M", 10: "D", 16: "m", 19: "s"}[len(last_label)]
    sep = " " if " " in last_label else "T"
    return [s.replace("T", sep) for s in np.datetime_as_string(new, unit=unit)]


# ---------------------------------------------------------------------- presets
_CELL_NAMES = {"simple": "SimpleRNN", "lstm": "LSTM", "gru": "GRU"}
TREND_RULE = 1.0     # difference when a line's rise over the training rows > this x its residual sd
PATIENCE_STEPS = 200  # a general preset's early stopping waits at least this many batches
MIN_STEPS = 2000      # and may train for at least this many


@dataclass(frozen=True)
class Preset:
    """Settings that measured best for a series: the model, the window and the training.
    ``why`` holds how a general preset chose (the window, the differencing)."""

    name: str
    cell: str = "gru"
    units: int = 32
    window: int = 24
    stride: int = 1
    difference: bool = False
    scaler: str | None = "minmax"
    lr: float = 1e-3
    epochs: int = 100
    batch_size: int = 32
    patience: int = 10
    future: int = 12                   # steps forecast after the data by default
    features: tuple[str, ...] = ()     # extra input columns
    fill: str | None = None            # missing-value policy the data needs
    why: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line: "GRU(32), window 24, stride 1, differenced, early stopping ..."."""
        parts = [f"{_CELL_NAMES.get(self.cell, self.cell)}({self.units})",
                 f"window {self.window}", f"stride {self.stride}"]
        if self.difference:
            parts.append("differenced")
        if self.scaler != "minmax":
            parts.append(f"{self.scaler or 'no'} scaler")
        if self.features:
            parts.append("features " + ",".join(self.features))
        if self.fill:
            parts.append(f"missing values {self.fill}")
        parts += [f"lr {self.lr:g}", f"batch {self.batch_size}",
                  f"early stopping (patience {self.patience}, at most {self.epochs} epochs)"]
        return ", ".join(parts)


def dataset_preset(name: str, horizon: int = 1) -> Preset | None:
    """The README's recommended settings for a shipped series (None for sine and others:
    use ``general_preset``)."""
    if name == "sunspots":
        return Preset("sunspots", window=24, lr=3e-3, patience=8, future=24)
    if name == "airline":
        return Preset("airline", window=24, difference=True, future=24)
    if name == "stocks":
        return Preset("stocks", window=60, difference=True, scaler="standard", epochs=60,
                      batch_size=64, patience=5, future=20)
    if name == "weather":       # a day (two for a day ahead) of temperature, humidity, pressure
        day = horizon > 1
        return Preset("weather", units=64 if day else 32, window=48 if day else 24, lr=2e-3,
                      epochs=40, batch_size=64, patience=5, future=24,
                      features=("humid", "pressure"), fill="ffill")
    return None


def trend_ratio(values: Any) -> float:
    """How far a straight line through ``values`` rises or falls over them, in units of the
    standard deviation around that line (0 for a flat series; large for a trend)."""
    y = np.asarray(values, dtype=np.float64).ravel()
    if len(y) < 3:
        return 0.0
    t = np.arange(len(y), dtype=np.float64)
    slope, icept = np.polyfit(t, y, 1)
    spread = float(np.std(y - (slope * t + icept)))
    rise = abs(float(slope)) * (len(y) - 1)
    return rise / spread if spread > 0 else (math.inf if rise > 0 else 0.0)


def general_preset(values: Any, season: int | None, horizon: int = 1, val: float = 0.15,
                   test: float = 0.15, name: str = "general") -> Preset:
    """GRU(32); window = 2 seasons (24 steps without a season), shortened when the training
    part could not hold as many windows as a window is long; differenced when the first
    target trends over the training rows (``trend_ratio`` > 1), and then scaled to zero mean
    and unit variance (changes centre near zero: min-max would put a typical change wherever
    the extremes leave it, and the stocks preset measured the same).  Early stopping is
    sized in optimiser steps: patience of ``PATIENCE_STEPS`` batches and up to ``MIN_STEPS``
    (at least 10 and 100 epochs), so a short series, a few batches an epoch, is not
    stopped before it has learned (US population, 133 windows: patience 10 stopped at epoch
    21 with validation RMSE 0.085; patience 40 ran 117 epochs to 0.036)."""
    y = np.asarray(values, dtype=np.float64)
    y = y[:, 0] if y.ndim == 2 else y
    train = max(int(len(y) * (1 - val - test)), 1)
    why = []
    window = 2 * season if season else 24
    why.append(f"window {window} = 2 seasons of {season}" if season
               else "window 24 (no season to size it by)")
    fits = max((train - horizon) // 2, 1)
    if window > fits:
        why.append(f"shortened to {fits} so the {train} training rows hold at least "
                   f"{fits} windows")
        window = fits
    ratio = trend_ratio(y[:train])
    difference = ratio > TREND_RULE
    why.append(f"{'differenced' if difference else 'not differenced'}: a straight line through "
               f"the training rows moves {ratio:.2f} times the spread around it (differenced "
               f"when above {TREND_RULE:g})")
    if difference:
        why.append("standard scaler: the changes, to zero mean and unit variance")
    # early stopping counted in optimiser steps, not epochs: on a short series an epoch is a
    # few batches, and 10 epochs of patience stopped the fit before it had learned much
    batch = Preset.batch_size
    windows = max(train - window - horizon + 1 - int(difference), 1)
    per_epoch = math.ceil(windows / batch)
    patience = max(Preset.patience, math.ceil(PATIENCE_STEPS / per_epoch))
    epochs = max(Preset.epochs, math.ceil(MIN_STEPS / per_epoch))
    if patience > Preset.patience or epochs > Preset.epochs:
        why.append(f"{windows} training windows, {per_epoch} batches of {batch} an epoch: "
                   f"early stopping waits {patience} epochs ({PATIENCE_STEPS} steps or more) "
                   f"and runs at most {epochs} ({MIN_STEPS:,} steps or more)")
    future = max(horizon, season or 12)
    return Preset(name, window=window, difference=difference,
                  scaler="standard" if difference else "minmax", epochs=epochs,
                  patience=patience, future=future, why=tuple(why))


class Forecaster:
    """Forecast the next ``horizon`` values of a series from the last ``window`` values.

    Example:
        >>> import rnnkit as rk
        >>> f = rk.tasks.Forecaster(cell="gru", units=8, window=10, horizon=3)
        >>> _ = f.fit(rk.datasets.load("sine", length=120), epochs=2, verbose=0)
        >>> f.predict(steps=5).shape            # 5 values after the end of the series
        (5, 1)
    """

    def __init__(self, config: ForecastConfig | None = None, **options: Any):
        self.config = config if config is not None else ForecastConfig(**options)
        if config is not None and options:
            raise ValueError("pass a ForecastConfig or keyword options, not both")
        self.model: Sequential | None = None
        self.scaler = None
        self.columns: tuple[str, ...] = ()
        self.target_idx: list[int] = []
        self.history: dict[str, list[float]] = {}
        self.context: np.ndarray | None = None     # the last `window` rows seen, original units
        self.fit_seconds = math.nan
        self.training_step: Choice | None = None   # which step fit ran, and why (Trainer)
        # lower quantile level -> (K, nt) widening of its (q, 1-q) interval, from validation
        self.conformal: dict[str, list[list[float]]] = {}
        self.interval_how: str | None = None    # set when the corrections roll past validation
        self._data: _Prepared | None = None
        self._fit_options: dict[str, Any] | None = None     # what fit() ran with (backtest)

    # ------------------------------------------------------------------ data
    def _prepare(self, series: Any) -> _Prepared:
        if isinstance(series, Series):
            values, times, columns = series.values, series.times, tuple(series.columns)
            name = f"the series {series.name!r}"
        else:
            if isinstance(series, torch.Tensor):
                series = series.detach().cpu().numpy()     # a tensor that requires grad too
            try:
                raw = np.asarray(series)
                complex_ = np.iscomplexobj(raw)
                values = None if complex_ else np.asarray(raw, dtype=np.float64)
            except (TypeError, ValueError) as err:
                raise ValueError("series must be numbers in a regular (N,) or (N, F) array, "
                                 f"the same number of features in every row ({err})") from None
            if complex_:
                raise TypeError(f"series must hold real numbers, got {raw.dtype}")
            times = np.arange(len(values) if values.ndim else 0).astype(str)
            columns = tuple(f"x{j}" for j in range(1 if values.ndim < 2 else values.shape[1]))
            name = "the series"
        try:
            values = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{name}: values must be numbers ({err})") from None
        values = values[:, None] if values.ndim == 1 else values
        if values.ndim != 2 or len(values) == 0 or values.shape[1] == 0:
            raise ValueError(f"series must be (N,) or (N, F) with N > 0 and F > 0, got "
                             f"{values.shape}")
        if len(columns) != values.shape[1]:
            raise ValueError(f"{name} names {len(columns)} columns "
                             f"({', '.join(map(str, columns))}) but its values have "
                             f"{values.shape[1]} (shape {values.shape})")
        if len(times) != len(values):
            raise ValueError(f"{name} has {len(times)} time labels for {len(values)} rows")
        bad = ~np.isfinite(values)
        if bad.any():
            row, col = (int(v) for v in np.argwhere(bad)[0])
            raise ValueError(f"{name} contains NaN or inf: {int(bad.sum())} values, the first "
                             f"in column {columns[col]!r} at row {row + 1} ({times[row]}); fill "
                             "or drop them first (rnnkit.data.fill_missing, or --fill on the "
                             "command line)")
        return _Prepared(values, np.asarray(times), tuple(columns), name=name)

    def _n_levels(self) -> int:
        """Outputs per target and step: one per quantile level, or one point forecast."""
        return len(self.config.quantiles) if self.config.quantiles else 1

    def _feeds_back(self) -> bool:
        return self.config.strategy != "direct"

    def _windows(self, scaled: np.ndarray, horizon: int, stride: int, train: bool):
        cfg = self.config
        if train and cfg.strategy == "seq2seq":
            return shifted_windows(scaled, cfg.window, stride, self.target_idx)
        return make_windows(scaled, cfg.window, horizon, stride, self.target_idx)

    # ------------------------------------------------------------------ model
    def _build(self, n_features: int) -> Sequential:
        cfg, nt = self.config, len(self.target_idx)
        stack: list[torch.nn.Module] = []
        for k in range(cfg.layers):
            seq = k < cfg.layers - 1 or cfg.strategy == "seq2seq"
            rnn = CELLS[cfg.cell](cfg.units, return_sequences=seq, dropout=cfg.dropout)
            stack.append(L.Bidirectional(rnn) if cfg.bidirectional else rnn)
        out = nt * (cfg.horizon if cfg.strategy == "direct" else 1) * self._n_levels()
        stack.append(L.Dense(out))
        model = Sequential(stack)
        model(torch.zeros(1, cfg.window, n_features))           # build every layer
        return model

    def _split(self, series: Any, val: float, test: float) -> tuple[_Prepared, np.ndarray]:
        """Check the series against the config and split it in time: (data, model rows).
        Every error a fit can meet in its data is raised here, before any training."""
        cfg = self.config
        data = self._prepare(series)
        targets = cfg.targets or (data.columns[0],)
        missing = [t for t in targets if t not in data.columns]
        if missing:
            raise ValueError(f"targets {missing} are not columns of the series "
                             f"({', '.join(data.columns)})")
        target_idx = [data.columns.index(t) for t in targets]
        if self._feeds_back() and len(target_idx) != data.values.shape[1]:
            raise ValueError(f"strategy={cfg.strategy!r} feeds predictions back as inputs, so "
                             "every input column must be a target; use strategy='direct' or "
                             "drop the extra features")
        rows = data.model_rows(cfg.difference)
        if len(rows) < cfg.window + cfg.horizon:
            n = len(data.values)
            raise ValueError(f"{data.name} has {n} row{'s' if n != 1 else ''}, too few for "
                             f"window + horizon = {cfg.window + cfg.horizon}"
                             + (" after differencing" if cfg.difference else ""))
        if cfg.season is not None and cfg.season >= len(data.values):
            raise ValueError(f"season={cfg.season} must be smaller than the series, which has "
                             f"{len(data.values)} rows")
        data.parts = split_series(len(rows), cfg.window, val, test)
        for part, (ps, pe) in data.parts.items():
            if pe - ps < cfg.window + cfg.horizon:
                raise ValueError(f"the {part} part has {pe - ps} rows with its context, fewer "
                                 f"than window + horizon = {cfg.window + cfg.horizon}; use a "
                                 "longer series, a smaller window or smaller val/test fractions")
        self.columns, self.target_idx = data.columns, target_idx
        return data, rows

    def check(self, series: Any, *, val: float = 0.15, test: float = 0.15) -> dict[str, Any]:
        """What ``fit`` would train and score on, without training: every data error a fit
        would raise, or {part: {"rows", "windows", "from", "to"}} (targets' time labels).

        Example:
            >>> import rnnkit as rk
            >>> f = rk.tasks.Forecaster(window=10)
            >>> f.check(rk.datasets.load("sine", length=120))["test"]["windows"]
            18
        """
        cfg = self.config
        data, _ = self._split(series, val, test)
        shift, out = int(cfg.difference), {}
        for part, (a, b) in data.parts.items():
            first = 0 if part == "train" else a + cfg.window          # its first own row
            h = 1 if part == "train" and self._feeds_back() else cfg.horizon
            windows = max(b - a - cfg.window - h + 1, 0)
            if part == "train":
                windows = -(-windows // cfg.stride)
            out[part] = {"rows": b - first + (shift if part == "train" else 0),
                         "windows": windows, "from": str(data.times[first + (
                             shift if part != "train" else 0)]),
                         "to": str(data.times[b - 1 + shift])}
        return out

    def fit(self, series: Any, *, epochs: int = 50, batch_size: int = 32, val: float = 0.15,
            test: float = 0.15, patience: int | None = 10, seed: int = 0, verbose: int = 1,
            log_dir: str | Path | None = None, threads: int | None = None,
            precision: str = "fp32"):
        """Split in time, scale on the training rows, window, and train with early stopping
        on the validation part (when there is one). Returns the History.

        ``threads`` sets torch's threads for the fit (default: chosen from the model's size);
        ``log_dir`` writes TensorBoard event files there."""
        cfg = self.config
        _check_fit_options(epochs, batch_size, patience, seed)
        data, rows = self._split(series, val, test)
        a, b = data.parts["train"]
        self.scaler = make_scaler(cfg.scaler)
        if self.scaler is not None:
            self.scaler.fit(rows[a:b])                          # training rows only
        scaled = self._scale(rows)
        x, y = self._windows(scaled[a:b], 1 if self._feeds_back() else cfg.horizon,
                             cfg.stride, train=True)
        validation = None
        if "val" in data.parts:
            va, vb = data.parts["val"]
            xv, yv = self._windows(scaled[va:vb], 1 if self._feeds_back() else cfg.horizon,
                                   1, train=True)
            validation = (xv, self._flat_target(yv))
        set_seed(seed)
        self.model = self._build(rows.shape[1])
        callbacks = [EarlyStopping(patience=patience)] if validation and patience else []
        loss = PinballLoss(cfg.quantiles) if cfg.quantiles else "mse"
        trainer = Trainer(self.model, loss=loss, optimizer="adam", lr=cfg.lr)
        t0 = time.perf_counter()
        hist = trainer.fit(x, self._flat_target(y), epochs=epochs, batch_size=batch_size,
                           validation_data=validation, callbacks=callbacks, seed=seed,
                           verbose=verbose, log_dir=log_dir, threads=threads,
                           precision=precision)
        self.fit_seconds = time.perf_counter() - t0
        self.training_step = trainer.step_choice
        self.history, self._data = hist.history, data
        self.context = data.values[-self._context_rows():].copy()
        self._fit_options = {"epochs": epochs, "batch_size": batch_size, "val": val,
                             "patience": patience, "seed": seed, "threads": threads}
        self.conformal, self.interval_how = {}, None
        if cfg.quantiles and cfg.calibrate and "val" in data.parts:
            self.conformal = self._conformal("val")
        return hist

    def _context_rows(self) -> int:
        """Levels needed to forecast: the window, plus one to difference it."""
        return self.config.window + int(self.config.difference)

    def _levels(self, pred: np.ndarray, origin_levels: np.ndarray) -> np.ndarray:
        """Model outputs (M, K, nt), unscaled, to levels; origin_levels (M, nt) = last known."""
        if not self.config.difference:
            return pred
        return origin_levels[:, None, :] + np.cumsum(pred, axis=1)

    def _flat_target(self, y: np.ndarray) -> np.ndarray:
        if self.config.strategy == "seq2seq":
            return y                                             # (M, T, nt)
        return y.reshape(len(y), -1)                             # (M, K·nt)

    def _scale(self, values: np.ndarray) -> np.ndarray:
        """Values in the network's units; refused when they do not fit its float32 inputs
        (rather than becoming inf there)."""
        return fits_float32(self.scaler.transform(values) if self.scaler is not None
                            else values)

    def _unscale_targets(self, y: np.ndarray) -> np.ndarray:
        if self.scaler is None:
            return y
        return self.scaler.subset(self.target_idx).inverse_transform(y)

    # ------------------------------------------------------------------ forecasting
    def _require_model(self) -> Sequential:
        if self.model is None:
            raise ValueError("this Forecaster is not trained yet: call fit() or load()")
        return self.model

    @torch.no_grad()
    def _forecast_scaled(self, x: np.ndarray, steps: int) -> np.ndarray:
        """x (B, window, F) scaled -> (B, steps, nt) scaled."""
        model, cfg, nt = self._require_model(), self.config, len(self.target_idx)
        model.eval()

        def block(x: np.ndarray) -> np.ndarray:
            out = to_fp32(model(torch.as_tensor(x, dtype=torch.float32)))  # bf16 in inference()
            if cfg.strategy == "seq2seq":
                out = out[:, -1]                                 # the last step's next value
            if cfg.quantiles:                                    # the median is the point
                out = self._sorted_levels(out)[..., cfg.quantiles.index(0.5)]
            return out.reshape(len(x), -1, nt).numpy()           # (B, K or 1, nt)

        return feed_back(block, np.asarray(x, dtype=np.float32), steps, cfg.window,
                         cfg.horizon).astype(np.float64)

    def _sorted_levels(self, out: torch.Tensor) -> torch.Tensor:
        """Raw outputs (B, K·nt·Q) -> (B, K, nt, Q), sorted along Q as the loss sorts them."""
        nt, q = len(self.target_idx), self._n_levels()
        return out.reshape(len(out), -1, nt, q).sort(dim=-1).values

    @torch.no_grad()
    def _quantile_levels(self, x: np.ndarray, origin_levels: np.ndarray,
                         calibrated: bool = True) -> np.ndarray:
        """x (M, window, F) scaled -> every quantile (M, K, nt, Q) in original units, ordered
        along Q, with the validation widening applied (``calibrated``)."""
        model = self._require_model()
        model.eval()
        q = self._sorted_levels(to_fp32(model(torch.as_tensor(x, dtype=torch.float32))))
        q = np.moveaxis(q.numpy().astype(np.float64), -1, -2)          # (M, K, Q, nt)
        q = np.moveaxis(self._unscale_targets(q), -2, -1)              # (M, K, nt, Q)
        if self.config.difference:
            # cumulative sums of per-step quantiles: exact for the first step, too wide
            # (comonotone) after it; the validation calibration corrects the width
            q = origin_levels[:, None, :, None] + np.cumsum(q, axis=1)
        return self._calibrate(q) if calibrated else q

    def _calibrate(self, q: np.ndarray, corrections: dict[str, Any] | None = None
                   ) -> np.ndarray:
        """Widen (or narrow) each central interval by its validation correction (or by
        ``corrections``, {repr(q): broadcastable to q[..., i]}); lower levels stay at or
        below the median and upper ones at or above it, then all are sorted."""
        qs = self.config.quantiles
        med = q[..., qs.index(0.5)]
        q = q.copy()
        corrections = self.conformal if corrections is None else corrections
        for i, j, _ in interval_pairs(qs):
            c = np.asarray(corrections.get(repr(qs[i]), 0.0))         # (K, nt), (M, K, nt), 0
            q[..., i] = np.minimum(q[..., i] - c, med)
            q[..., j] = np.maximum(q[..., j] + c, med)
        return np.sort(q, axis=-1)

    def _conformal(self, part: str) -> dict[str, list[list[float]]]:
        """Split-conformal corrections (conformalized quantile regression, Romano, Patterson
        & Candes 2019) from ``part``'s windows: for the interval (q, 1-q), the scores
        E = max(lower - y, y - upper), and the correction is their (1-a)-quantile, a = 2q,
        per step ahead and target: (K, nt) each.

        The quantile is numpy's ``method="weibull"`` (the order statistic at (1-a)(n+1),
        interpolated), so that the expected coverage is the nominal 1-a, as for the hybrid's
        and the mean's intervals (``tasks/intervals.py``).  CQR's finite-sample guarantee
        takes the ceil((n+1)(1-a))-th score instead, which covers at least 1-a and on
        average up to 1/(n+1) more (81.8 % for an 80 % interval from n = 21 scores)."""
        return {k: c.tolist() for k, c in self._corrections(self._conformity(part)[2]).items()}

    def _corrections(self, scores: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Each interval's correction from its scores {repr(q): (n, K, nt)}: their
        (1-a)-quantile (weibull rule), a = 2q, per step ahead and target: (K, nt)."""
        qs = self.config.quantiles
        return {repr(qs[i]): np.quantile(scores[repr(qs[i])], cover / 100, axis=0,
                                         method="weibull")
                for i, _, cover in interval_pairs(qs)}

    def _conformity(self, part: str) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """A part's origins (M,), uncalibrated quantiles (M, K, nt, Q) and, per interval
        (q, 1-q), the CQR scores max(lower - y, y - upper): {repr(q): (M, K, nt)}."""
        x, _, origin, y = self._targets(part)
        raw = self._quantile_levels(self._scale(x), self._data.values[origin][:, self.target_idx],
                                    calibrated=False)
        qs = self.config.quantiles
        return origin, raw, {repr(qs[i]): np.maximum(raw[..., i] - y, y - raw[..., j])
                             for i, j, _ in interval_pairs(qs)}

    def _rolled(self, part: str) -> tuple[np.ndarray, int, np.ndarray]:
        """A later part's quantiles (M, K, nt, Q), each origin's intervals corrected by the
        (1-a)-quantile of the last n scores known there: the n validation scores, then the
        part's own as their targets are observed (``tasks/intervals.py``, "Rolling
        calibration"); n; and the same quantiles corrected by the validation scores alone
        at every origin.  Needs ``self.conformal`` (a validation part)."""
        from .intervals import rolling_quantiles  # intervals.py imports this module
        _, _, past = self._conformity("val")
        origin, raw, later = self._conformity(part)
        qs = self.config.quantiles
        corrections = {repr(qs[i]): rolling_quantiles(past[repr(qs[i])], later[repr(qs[i])],
                                                      origin, [cover / 100])[..., 0]
                       for i, _, cover in interval_pairs(qs)}
        return (self._calibrate(raw, corrections), len(next(iter(past.values()))),
                self._calibrate(raw, self._corrections(past)))

    def roll_to_end(self, part: str = "test") -> None:
        """Continue the rolling calibration to the end of ``part``, every target of it now
        observed: each correction becomes the (1-a)-quantile of the last n scores, the
        validation's then the part's, so that forecasts after the data (``future``, a saved
        model) are calibrated as the rolling rule would at the next origin.  ``report``
        calls it after scoring the last part held out.  Nothing to do without calibration."""
        if not self.conformal or self._data is None or "val" not in self._data.parts \
                or part == "val" or part not in self._data.parts:
            return
        from .intervals import end_pool  # intervals.py imports this module
        _, _, past = self._conformity("val")
        _, _, later = self._conformity(part)
        n = len(next(iter(past.values())))
        pools = {k: end_pool(v, later[k]) for k, v in past.items()}
        self.conformal = {k: c.tolist() for k, c in self._corrections(pools).items()}
        self.interval_how = f"calibrated on the last {n} validation and {part} scores"

    def _select_levels(self, quantiles: Any) -> list[int]:
        """Indices of the trained levels ``quantiles`` asks for (True = all of them)."""
        qs = self.config.quantiles
        if not qs:
            raise ValueError("this Forecaster was trained for point forecasts; pass "
                             "quantiles=[0.1, 0.5, 0.9] (or similar) to Forecaster() to "
                             "forecast quantiles")
        if quantiles is True:
            return list(range(len(qs)))
        try:
            asked = [float(q) for q in quantiles]
        except (TypeError, ValueError):
            raise ValueError(f"quantiles must be True or levels from {list(qs)}, got "
                             f"{quantiles!r}") from None
        missing = [q for q in asked if not any(math.isclose(q, t) for t in qs)]
        if missing or not asked:
            raise ValueError(f"quantiles {missing or asked} were not trained; this model has "
                             f"{list(qs)}")
        return [min(range(len(qs)), key=lambda i: abs(qs[i] - q)) for q in asked]

    def predict(self, steps: int | None = None, series: Any = None,
                quantiles: Any = False, *, precision: str = "fp32") -> np.ndarray:
        """Forecast ``steps`` values (default: horizon) after the end of ``series`` (default:
        the series given to fit, or the context saved with the model), in original units:
        (steps, number of targets).

        ``quantiles=True`` (every trained level) or a list of trained levels returns
        (steps, number of targets, levels) instead, ordered along the last axis; quantiles
        reach ``horizon`` steps at most (the model forecasts them at once).

        ``precision`` ("fp32", "bf16" or "auto", as in ``fit``) is that of the network's
        products; forecasts come back in float64 either way."""
        check_precision(precision)
        cfg = self.config
        model = self._require_model()
        if quantiles is not False and quantiles is not None:
            pick = self._select_levels(quantiles)
            steps = cfg.horizon if steps is None else steps
            if isinstance(steps, numbers.Integral) and not isinstance(steps, bool) \
                    and steps > cfg.horizon:
                raise ValueError(f"quantiles reach horizon={cfg.horizon} steps at most, got "
                                 f"steps={steps}; train with a larger horizon")
        steps = cfg.horizon if steps is None else steps
        if isinstance(steps, (bool, np.bool_)) or not isinstance(steps, numbers.Integral) \
                or steps < 1:
            raise ValueError(f"steps must be a positive int, got {steps!r}")
        if steps > MAX_STEPS:
            raise ValueError(f"steps must be at most {MAX_STEPS:,} (each is one model call "
                             f"fed back), got {steps:,}")
        steps = int(steps)
        if series is None:
            if self.context is None:
                raise ValueError("no series to continue: pass series=")
            values = self.context
        else:
            values = self._prepare(series).values
        if values.shape[1] != len(self.columns):
            raise ValueError(f"the model was trained on {len(self.columns)} columns "
                             f"({', '.join(self.columns)}), got {values.shape[1]}")
        need = self._context_rows()
        if len(values) < need:
            raise ValueError(f"need at least {need} rows to forecast from, got {len(values)}")
        recent = values[-need:]
        x = self._scale(np.diff(recent, axis=0) if cfg.difference else recent)[None]
        with inference(model, precision):
            if quantiles is not False and quantiles is not None:
                q = self._quantile_levels(x, recent[-1:, self.target_idx])[0]
                return q[:steps][..., pick]
            pred = self._unscale_targets(self._forecast_scaled(x, steps))
        return self._levels(pred, recent[-1:, self.target_idx])[0]

    def predict_windows(self, x: Any, quantiles: Any = False, *,
                        precision: str = "fp32") -> np.ndarray:
        """Forecasts for given input windows of levels x (M, window [+1 with difference], F)
        in original units: (M, horizon, number of targets), or with ``quantiles`` (as in
        ``predict``) (M, horizon, number of targets, levels); ``precision`` as in
        ``predict``."""
        check_precision(precision)
        x = np.asarray(x, dtype=np.float64)
        need = self._context_rows()
        if x.ndim != 3 or x.shape[1:] != (need, len(self.columns)):
            raise ValueError(f"windows must be (M, {need}, {len(self.columns)}), got {x.shape}")
        inputs = np.diff(x, axis=1) if self.config.difference else x
        if quantiles is not False and quantiles is not None:
            pick = self._select_levels(quantiles)
            with inference(self._require_model(), precision):
                return self._quantile_levels(self._scale(inputs), x[:, -1, self.target_idx]
                                             )[..., pick]
        with inference(self._require_model(), precision):
            pred = self._unscale_targets(self._forecast_scaled(self._scale(inputs),
                                                               self.config.horizon))
        return self._levels(pred, x[:, -1, self.target_idx])

    # ------------------------------------------------------------------ evaluation
    def _targets(self, part: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """A part's windows: inputs x (M, window, F) unscaled model rows, their targets in
        model rows (M, K, nt), each window's origin (the row index of its last known level,
        (M,)) and its level targets y (M, K, nt), rows origin+1 .. origin+K."""
        data, cfg = self._data, self.config
        if data is None:
            raise ValueError("evaluate() needs the data of a fit() in this session")
        if part not in data.parts:
            held = (f"; fit() ran with {part}=0, so there is no {part} part"
                    if part in ("val", "test") else "")
            raise ValueError(f"part must be one of {', '.join(data.parts)}, got {part!r}{held}")
        s, e = data.parts[part]
        rows = data.model_rows(cfg.difference)
        x, y_model = make_windows(rows[s:e], cfg.window, cfg.horizon, 1, self.target_idx)
        origin = s + cfg.window - 1 + int(cfg.difference) + np.arange(len(x))
        k = np.arange(1, cfg.horizon + 1)
        y = data.values[origin[:, None] + k][..., self.target_idx]          # (M, K, nt)
        return x, y_model, origin, y

    def _part_quantiles(self, part: str) -> tuple[np.ndarray, int, np.ndarray | None]:
        """The quantiles (M, K, nt, Q) ``evaluate(part)`` scores: a later part's rolled
        (``_rolled``: also n and the validation-only quantiles), else as calibrated on the
        validation part (n = 0, None)."""
        data = self._data
        if self.conformal and part != "val" and "val" in data.parts:
            return self._rolled(part)
        x, _, origin, _ = self._targets(part)
        return self._quantile_levels(self._scale(x), data.values[origin][:, self.target_idx]
                                     ), 0, None

    def origins_and_targets(self, part: str = "test") -> tuple[np.ndarray, np.ndarray]:
        """What ``evaluate(part)`` scores: each window's origin (row index of its last known
        value, (M,)) and its targets in original units (M, K, nt), rows origin+1..origin+K.
        Another model scored on these rows is scored on exactly the same targets."""
        _, _, origin, y = self._targets(part)
        return origin, y

    def evaluate(self, part: str = "test", *, stats: Any = False, backtest: int | None = None,
                 refit: bool = False) -> dict[str, Any]:
        """RMSE, MAE, MAPE over every target and horizon step of a part's windows, in
        original and scaled units, beside naive baselines on the same targets.

        With quantiles: "pinball" (mean pinball loss, original units) and "coverage" (the
        share of targets inside each central interval, e.g. {"80": 0.79}).

        ``stats`` (True/"all", "fast" = without AutoARIMA, or model names; needs
        statsforecast) adds "stats": statsforecast's models scored on exactly these targets
        and origins, fitted once on every row before the part's first target and updated
        with each new value (``tasks.stats_baselines``), each with its seconds.

        ``backtest=N`` adds "backtest": the part cut into N consecutive folds, each forecast
        from its own origin, the model refitted there when ``refit`` (see ``backtest``)."""
        cfg = self.config
        x, y_model, origin, y = self._targets(part)
        data = self._data
        pred_s = self._forecast_scaled(self._scale(x), cfg.horizon)
        pred = self._levels(self._unscale_targets(pred_s), data.values[origin][:, self.target_idx])
        y_s = self._scale_targets(y_model)
        result = {"part": part, "windows": len(x), **point_metrics(pred, y),
                  "rmse_scaled": rmse(pred_s, y_s),
                  "mae_scaled": float(np.mean(np.abs(pred_s - y_s)))}
        if cfg.horizon > 1:
            result["rmse_by_step"] = [rmse(pred[:, j], y[:, j]) for j in range(cfg.horizon)]
        if cfg.quantiles:
            q, n, fixed = self._part_quantiles(part)
            rolled = fixed is not None
            result.update(interval_scores(q, y, cfg.quantiles))
            if fixed is not None:  # beside it: every origin from the validation scores alone
                result["coverage_without_rolling"] = interval_scores(fixed, y,
                                                                     cfg.quantiles)["coverage"]
            result["intervals"] = (
                f"calibrated on the validation part (split conformal), rolled: at each origin "
                f"from the last {n} scores known there (validation, then this part's as their "
                "targets are observed)" if rolled else
                "calibrated on the validation part (split conformal)" if self.conformal
                else "as trained (not calibrated)")
        for name, guess in self._naive(origin).items():
            result[f"baseline_{name}"] = point_metrics(guess, y)
        forecasts: dict[str, np.ndarray] = {}
        if stats is not False and stats is not None:
            result["stats"], forecasts = self._stats(origin, y, stats)
        if backtest is not None:
            result["backtest"] = bt = self.backtest(backtest, refit=refit, part=part)
            for fold, idx in zip(bt["folds"], _folds(len(origin), backtest)):
                if forecasts:        # the statistical models on the same fold, never refitted
                    fold["stats_rmse"] = {name: rmse(f[idx], y[idx])
                                          for name, f in forecasts.items()}
        return result

    def _naive(self, origin: np.ndarray) -> dict[str, np.ndarray]:
        """The naive forecasts (M, K, nt) made at each origin: the last value repeated, and
        the value one season before each target (when the season reaches no target)."""
        data, cfg = self._data, self.config
        k = np.arange(1, cfg.horizon + 1)
        out = {"last_value": np.repeat(data.values[origin][:, None, self.target_idx],
                                       cfg.horizon, axis=1)}
        if cfg.season is not None and cfg.season >= 1:
            src = origin[:, None] + k - cfg.season * np.ceil(k / cfg.season).astype(int)
            if (src >= 0).all() and (src <= origin[:, None]).all():     # never the targets
                out["seasonal_naive"] = data.values[src][..., self.target_idx]
        return out

    def _stats(self, origin: np.ndarray, y: np.ndarray, which: Any
               ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """statsforecast's models on the same origins and targets: ({name: metrics + seconds
        (+ note)}, {name: {"skipped"}} or {name: {"error"}}, and "_note" on what they read;
        {name: forecasts (M, K, nt)})."""
        from . import stats_baselines as sb
        models = sb.resolve_models(which)
        sb.require()
        cfg, data = self.config, self._data
        named = not (which is True or which in ("all", "fast"))     # names run unguarded
        found = sb.statistical_forecasts(data.values[:, self.target_idx], origin, cfg.horizon,
                                         cfg.season, models, guard=not named)
        out: dict[str, Any] = {}
        forecasts = {}
        for name, r in found.items():
            if "forecasts" not in r:
                out[name] = r                              # {"skipped"} or {"error"}
                continue
            forecasts[name] = r["forecasts"]
            out[name] = {**point_metrics(r["forecasts"], y), "seconds": r["seconds"]}
            if r["note"]:
                out[name]["note"] = r["note"]
        extra = [c for i, c in enumerate(self.columns) if i not in self.target_idx]
        out["_note"] = ("univariate: each target from its own history, fitted once on the rows "
                        "before the first target, then updated with each new value"
                        + (f"; the model also reads {', '.join(extra)}, these do not"
                           if extra else ""))
        return out, forecasts

    def backtest(self, origins: int, *, refit: bool = False, part: str = "test"
                 ) -> dict[str, Any]:
        """Rolling-origin evaluation: ``part``'s windows cut into ``origins`` consecutive
        folds.  Fold i starts at origin o_i (the last known row of its first window); with
        ``refit`` a new model is fitted on the rows up to o_i alone (the same settings, seed
        and validation fraction, no test part), else the fitted model is used.  Each window
        reads only the rows up to its own origin.

        Returns {"origins", "refit", "folds": [{"origin", "from", "to", "windows", "rmse",
        "mae", "mape", "naive_rmse", "forecast" (the K steps forecast at o_i, first target),
        "fit_seconds"}], "overall": metrics over every fold, with the mean and spread of
        the folds' RMSE}.  ``evaluate(stats=..., backtest=N)`` adds each fold's
        "stats_rmse": {model: RMSE} of the statistical models on the same windows.

        With quantiles, each fold and "overall" also carry "coverage" (per central interval)
        and "pinball", as ``evaluate`` scores them: without ``refit`` the part's own bands
        (rolled through the part, so the folds' windows-weighted mean is ``evaluate``'s
        coverage); with it, each refitted model's, calibrated on its own validation part."""
        x, _, origin, y = self._targets(part)
        if isinstance(origins, bool) or not isinstance(origins, numbers.Integral) \
                or not 1 <= origins <= len(origin):
            raise ValueError(f"backtest must be an int from 1 to the {part} part's "
                             f"{len(origin)} windows, got {origins!r}")
        if not isinstance(refit, (bool, np.bool_)):
            raise TypeError(f"refit must be True or False, got {refit!r}")
        data, need, levels = self._data, self._context_rows(), self.config.quantiles
        part_bands = self._part_quantiles(part)[0] if levels and not refit else None
        folds, preds, bands = [], [], []
        for idx in _folds(len(origin), int(origins)):
            o = int(origin[idx[0]])
            model = self._refit_until(o) if refit else self
            windows = np.stack([data.values[m - need + 1:m + 1] for m in origin[idx]])
            pred = model.predict_windows(windows)                       # (m, K, nt)
            naive = np.repeat(data.values[origin[idx]][:, None, self.target_idx],
                              self.config.horizon, axis=1)
            preds.append(pred)
            folds.append({"origin": str(data.times[o]),
                          "from": str(data.times[o + 1]),
                          "to": str(data.times[int(origin[idx[-1]]) + self.config.horizon]),
                          "windows": len(idx), **point_metrics(pred, y[idx]),
                          "naive_rmse": rmse(naive, y[idx]),
                          "forecast": pred[0, :, 0].tolist(),
                          "fit_seconds": model.fit_seconds if refit else 0.0})
            if levels:
                bands.append(model.predict_windows(windows, quantiles=True) if refit
                             else part_bands[idx])
                folds[-1].update(fold_intervals(bands[-1], y[idx], levels))
        return backtest_result(part, origins, refit, folds, preds, y, bands, levels)

    def _refit_until(self, origin: int) -> Forecaster:
        """A new Forecaster fitted, as this one was, on rows 0..origin only."""
        if self._fit_options is None:
            raise ValueError("backtest(refit=True) needs the fit() of this session")
        opts, data = self._fit_options, self._data
        f = Forecaster(self.config)
        f.fit(Series("backtest", data.times[:origin + 1], data.values[:origin + 1],
                     data.columns), epochs=opts["epochs"], batch_size=opts["batch_size"],
              val=opts["val"], test=0.0, patience=opts["patience"], seed=opts["seed"],
              verbose=0, threads=opts["threads"])
        return f

    def _scale_targets(self, y: np.ndarray) -> np.ndarray:
        if self.scaler is None:
            return y
        return self.scaler.subset(self.target_idx).transform(y)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> None:
        from ..saving import save
        extra = {"forecaster": {"config": asdict(self.config), "columns": list(self.columns),
                                "target_idx": self.target_idx,
                                "scaler": self.scaler.to_dict() if self.scaler else None,
                                "context": self.context.tolist(), "history": self.history,
                                "conformal": self.conformal,
                                **({"interval_how": self.interval_how} if self.interval_how
                                   else {})}}
        save(self._require_model(), path, extra=extra)

    @classmethod
    def load(cls, path: str | Path) -> Forecaster:
        from ..saving import load
        path = Path(path)
        meta_path = path / "forecaster.json"
        if not meta_path.is_file():
            raise ValueError(f"{path} is not a saved Forecaster: forecaster.json is missing")
        try:
            from ..io import read_json
            meta = read_json(meta_path, "forecaster settings (JSON)")
            config = meta["config"]
            config["targets"] = tuple(config["targets"]) if config["targets"] else None
            f = cls(ForecastConfig(**config))
            f.conformal = {str(k): v for k, v in meta.get("conformal", {}).items()}
            f.interval_how = str(meta["interval_how"]) if meta.get("interval_how") else None
        except (KeyError, TypeError, json.JSONDecodeError) as err:
            raise ValueError(f"{meta_path} is not a valid forecaster file ({err})") from None
        f.model = load(path)
        f.columns, f.target_idx = tuple(meta["columns"]), list(meta["target_idx"])
        f.scaler = scaler_from_dict(meta["scaler"])
        f.context, f.history = np.asarray(meta["context"], dtype=np.float64), meta["history"]
        return f

    # ------------------------------------------------------------------ report
    def default_future(self) -> int:
        """Steps ``report`` forecasts after the data when not told: max(horizon, window), or
        the horizon when extra input columns (which are not forecast) rule out feeding back."""
        if len(self.target_idx) != len(self.columns):
            return self.config.horizon
        return max(self.config.horizon, self.config.window)

    def future(self, steps: int) -> dict[str, Any]:
        """``steps`` forecasts after the fitted series with their time labels (dates in the
        series' format when it has regular dates, else "+1", "+2", ...):
        {"steps", "after", "times", "values": {target: [...]}}, and with quantiles
        "intervals": {target: {"80": {"lower", "upper"}}} over the first horizon steps."""
        if self._data is None:
            raise ValueError("future() needs the data of a fit() in this session")
        values = self.predict(steps=steps)
        out = {"steps": int(steps), "after": str(self._data.times[-1]),
               "times": future_times(self._data.times, steps),
               "values": {self.columns[j]: values[:, i].tolist()
                          for i, j in enumerate(self.target_idx)}}
        qs = self.config.quantiles
        if qs:          # the first `horizon` steps, which the model forecasts at once
            q = self.predict(steps=min(steps, self.config.horizon), quantiles=True)
            out["intervals"] = {self.columns[j]: {
                str(c): {"lower": q[:, t, i].tolist(), "upper": q[:, t, k].tolist()}
                for i, k, c in interval_pairs(qs)} for t, j in enumerate(self.target_idx)}
        return out

    def report(self, out_dir: str | Path, future: int | None = None,
               extra: dict[str, Any] | None = None, label: str = "", *, stats: Any = False,
               backtest: int | None = None, refit: bool = False) -> dict[str, Any]:
        """Write metrics.json, forecast.png and training.png; return the metrics.

        ``future`` steps (default ``default_future()``) are forecast after the data once:
        metrics.json's "future" lists them and forecast.png draws the same steps ("plot"
        records what it drew).  ``extra`` entries are added to metrics.json; ``label`` to
        the plot's title.  ``stats``, ``backtest`` and ``refit`` go to ``evaluate`` of the
        last part held out (test, else validation)."""
        from ..plots.forecast import plot_forecast, plot_training
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        metrics = {"config": asdict(self.config), "fit_seconds": self.fit_seconds,
                   "training_step": (self.training_step._asdict()
                                     if self.training_step is not None else None),
                   "epochs_run": len(self.history.get("loss", []))}
        held = [p for p in ("val", "test") if self._data is not None and p in self._data.parts]
        for part in held:
            last = part == held[-1]
            metrics[part] = self.evaluate(part, stats=stats if last else False,
                                          backtest=backtest if last else None, refit=refit)
        if held:
            self.roll_to_end(held[-1])      # the bands after the data: the last n scores
        metrics["future"] = ahead = self.future(future or self.default_future())
        if self.interval_how:
            ahead["intervals_how"] = self.interval_how
        drawn = plot_forecast(out / "forecast.png", self, ahead, label=label)
        metrics["plot"] = {"file": "forecast.png", **drawn}
        metrics.update(extra or {})
        plot_training(out / "training.png", self.history,
                      "pinball loss" if self.config.quantiles else "MSE")
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
        return metrics

    def one_step_predictions(self) -> tuple[np.ndarray, np.ndarray]:
        """First-step predictions for every window of the fitted series, original units:
        (row index of each prediction, predictions (M, nt))."""
        data, cfg = self._data, self.config
        x, _ = make_windows(data.model_rows(cfg.difference), cfg.window, 1, 1, self.target_idx)
        origin = cfg.window - 1 + int(cfg.difference) + np.arange(len(x))
        pred = self._levels(self._unscale_targets(self._forecast_scaled(self._scale(x), 1)),
                            data.values[origin][:, self.target_idx])
        return origin + 1, pred[:, 0]
