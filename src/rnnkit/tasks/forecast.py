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
from ..training import EarlyStopping, Trainer, set_seed

__all__ = ["Forecaster", "ForecastConfig", "Preset", "dataset_preset", "general_preset",
           "infer_season", "future_times", "trend_ratio"]

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

    def __post_init__(self) -> None:
        for name in ("bidirectional", "difference"):       # 'no' would be truthy
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
        if self.bidirectional and self.strategy == "seq2seq":
            raise ValueError("bidirectional=True with strategy='seq2seq' would let each step "
                             "see the value it predicts; use direct or recursive")
        make_scaler(self.scaler)


def _check_fit_options(epochs: Any, batch_size: Any, patience: Any, seed: Any) -> None:
    for name, v, least in (("epochs", epochs, 1), ("batch_size", batch_size, 1),
                           ("seed", seed, 0)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < least:
            raise ValueError(f"{name} must be an int >= {least}, got {v!r}")
    if patience is not None and (isinstance(patience, bool)
                                 or not isinstance(patience, (int, np.integer)) or patience < 0):
        raise ValueError(f"patience must be None or an int >= 0, got {patience!r}")


def _rmse(a: np.ndarray, b: np.ndarray) -> float:
    return math.sqrt(float(np.mean((a - b) ** 2)))


def _metrics(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    nonzero = np.abs(true) > 1e-8
    mape = float(np.mean(np.abs((pred - true)[nonzero] / true[nonzero])) * 100) \
        if nonzero.any() else math.nan
    return {"rmse": _rmse(pred, true), "mae": float(np.mean(np.abs(pred - true))),
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
    target trends over the training rows (``trend_ratio`` > 1)."""
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
    future = max(horizon, season or 12)
    return Preset(name, window=window, difference=difference, future=future, why=tuple(why))


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
        self.model: L.Sequential | None = None
        self.scaler = None
        self.columns: tuple[str, ...] = ()
        self.target_idx: list[int] = []
        self.history: dict[str, list[float]] = {}
        self.context: np.ndarray | None = None     # the last `window` rows seen, original units
        self.fit_seconds = math.nan
        self.training_step = "not fitted yet"     # which step fit ran, and why (Trainer)
        self._data: _Prepared | None = None

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

    def _feeds_back(self) -> bool:
        return self.config.strategy != "direct"

    def _windows(self, scaled: np.ndarray, horizon: int, stride: int, train: bool):
        cfg = self.config
        if train and cfg.strategy == "seq2seq":
            return shifted_windows(scaled, cfg.window, stride, self.target_idx)
        return make_windows(scaled, cfg.window, horizon, stride, self.target_idx)

    # ------------------------------------------------------------------ model
    def _build(self, n_features: int) -> L.Sequential:
        cfg, nt = self.config, len(self.target_idx)
        stack: list[torch.nn.Module] = []
        for k in range(cfg.layers):
            seq = k < cfg.layers - 1 or cfg.strategy == "seq2seq"
            rnn = CELLS[cfg.cell](cfg.units, return_sequences=seq, dropout=cfg.dropout)
            stack.append(L.Bidirectional(rnn) if cfg.bidirectional else rnn)
        out = nt * (cfg.horizon if cfg.strategy == "direct" else 1)
        stack.append(L.Dense(out))
        model = L.Sequential(stack)
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
            log_dir: str | Path | None = None, threads: int | None = None):
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
        trainer = Trainer(self.model, loss="mse", optimizer="adam", lr=cfg.lr)
        t0 = time.perf_counter()
        hist = trainer.fit(x, self._flat_target(y), epochs=epochs, batch_size=batch_size,
                           validation_data=validation, callbacks=callbacks, seed=seed,
                           verbose=verbose, log_dir=log_dir, threads=threads)
        self.fit_seconds = time.perf_counter() - t0
        self.training_step = trainer.step_note
        self.history, self._data = hist.history, data
        self.context = data.values[-self._context_rows():].copy()
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
        return self.scaler.transform(values) if self.scaler is not None else values

    def _unscale_targets(self, y: np.ndarray) -> np.ndarray:
        if self.scaler is None:
            return y
        return self.scaler.subset(self.target_idx).inverse_transform(y)

    # ------------------------------------------------------------------ forecasting
    def _require_model(self) -> L.Sequential:
        if self.model is None:
            raise ValueError("this Forecaster is not trained yet: call fit() or load()")
        return self.model

    @torch.no_grad()
    def _forecast_scaled(self, x: np.ndarray, steps: int) -> np.ndarray:
        """x (B, window, F) scaled -> (B, steps, nt) scaled."""
        model, cfg, nt = self._require_model(), self.config, len(self.target_idx)
        model.eval()
        x = torch.as_tensor(x, dtype=torch.float32)
        blocks, done = [], 0
        while done < steps:
            out = model(x)
            if cfg.strategy == "seq2seq":
                out = out[:, -1]                                 # the last step's next value
            block = out.reshape(len(x), -1, nt)                  # (B, K or 1, nt)
            blocks.append(block)
            done += block.shape[1]
            if done < steps:
                if nt != x.shape[2]:
                    raise ValueError(f"forecasting {steps} steps needs more than horizon="
                                     f"{cfg.horizon}: that feeds predictions back, which "
                                     "needs every input column to be a target")
                x = torch.cat([x, block], dim=1)[:, -cfg.window:]
        return torch.cat(blocks, dim=1)[:, :steps].numpy().astype(np.float64)

    def predict(self, steps: int | None = None, series: Any = None) -> np.ndarray:
        """Forecast ``steps`` values (default: horizon) after the end of ``series`` (default:
        the series given to fit, or the context saved with the model), in original units:
        (steps, number of targets)."""
        cfg = self.config
        self._require_model()
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
        pred = self._unscale_targets(self._forecast_scaled(x, steps))
        return self._levels(pred, recent[-1:, self.target_idx])[0]

    def predict_windows(self, x: Any) -> np.ndarray:
        """Forecasts for given input windows of levels x (M, window [+1 with difference], F)
        in original units: (M, horizon, number of targets)."""
        x = np.asarray(x, dtype=np.float64)
        need = self._context_rows()
        if x.ndim != 3 or x.shape[1:] != (need, len(self.columns)):
            raise ValueError(f"windows must be (M, {need}, {len(self.columns)}), got {x.shape}")
        inputs = np.diff(x, axis=1) if self.config.difference else x
        pred = self._unscale_targets(self._forecast_scaled(self._scale(inputs),
                                                           self.config.horizon))
        return self._levels(pred, x[:, -1, self.target_idx])

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, part: str = "test") -> dict[str, Any]:
        """RMSE, MAE, MAPE over every target and horizon step of a part's windows, in
        original and scaled units, beside naive baselines on the same targets."""
        data = self._data
        if data is None:
            raise ValueError("evaluate() needs the data of a fit() in this session")
        if part not in data.parts:
            held = (f"; fit() ran with {part}=0, so there is no {part} part"
                    if part in ("val", "test") else "")
            raise ValueError(f"part must be one of {', '.join(data.parts)}, got {part!r}{held}")
        cfg = self.config
        s, e = data.parts[part]
        rows = data.model_rows(cfg.difference)
        x, y_model = make_windows(rows[s:e], cfg.window, cfg.horizon, 1, self.target_idx)
        # the last known level of each window, and the level targets after it
        origin = s + cfg.window - 1 + int(cfg.difference) + np.arange(len(x))
        k = np.arange(1, cfg.horizon + 1)
        y = data.values[origin[:, None] + k][..., self.target_idx]          # (M, K, nt)
        pred_s = self._forecast_scaled(self._scale(x), cfg.horizon)
        pred = self._levels(self._unscale_targets(pred_s), data.values[origin][:, self.target_idx])
        y_s = self._scale_targets(y_model)
        result = {"part": part, "windows": len(x), **_metrics(pred, y),
                  "rmse_scaled": _rmse(pred_s, y_s),
                  "mae_scaled": float(np.mean(np.abs(pred_s - y_s)))}
        if cfg.horizon > 1:
            result["rmse_by_step"] = [_rmse(pred[:, j], y[:, j]) for j in range(cfg.horizon)]
        baselines = {"last_value": np.repeat(data.values[origin][:, None, self.target_idx],
                                             cfg.horizon, axis=1)}
        if cfg.season is not None and cfg.season >= 1:
            src = origin[:, None] + k - cfg.season * np.ceil(k / cfg.season).astype(int)
            if (src >= 0).all() and (src <= origin[:, None]).all():     # never the targets
                baselines["seasonal_naive"] = data.values[src][..., self.target_idx]
        for name, guess in baselines.items():
            result[f"baseline_{name}"] = _metrics(guess, y)
        return result

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
                                "context": self.context.tolist(), "history": self.history}}
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
        {"steps", "after", "times", "values": {target: [...]}}."""
        if self._data is None:
            raise ValueError("future() needs the data of a fit() in this session")
        values = self.predict(steps=steps)
        return {"steps": int(steps), "after": str(self._data.times[-1]),
                "times": future_times(self._data.times, steps),
                "values": {self.columns[j]: values[:, i].tolist()
                           for i, j in enumerate(self.target_idx)}}

    def report(self, out_dir: str | Path, future: int | None = None,
               extra: dict[str, Any] | None = None, label: str = "") -> dict[str, Any]:
        """Write metrics.json, forecast.png and training.png; return the metrics.

        ``future`` steps (default ``default_future()``) are forecast after the data once:
        metrics.json's "future" lists them and forecast.png draws the same steps ("plot"
        records what it drew).  ``extra`` entries are added to metrics.json; ``label`` to
        the plot's title."""
        from ..plots.forecast import plot_forecast, plot_training
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        metrics = {"config": asdict(self.config), "fit_seconds": self.fit_seconds,
                   "training_step": self.training_step,
                   "epochs_run": len(self.history.get("loss", []))}
        for part in ("val", "test"):
            if self._data is not None and part in self._data.parts:
                metrics[part] = self.evaluate(part)
        metrics["future"] = ahead = self.future(future or self.default_future())
        drawn = plot_forecast(out / "forecast.png", self, ahead, label=label)
        metrics["plot"] = {"file": "forecast.png", **drawn}
        metrics.update(extra or {})
        plot_training(out / "training.png", self.history)
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
