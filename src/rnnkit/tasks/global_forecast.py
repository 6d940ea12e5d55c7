r"""Many series, one model: an RNN trained on the windows of several related series at once
(the global model of DeepAR, Salinas et al. 2020, trained here on points, not likelihoods).

Each series is split in time, checked and windowed exactly as a per-series ``Forecaster``
with the same settings would do it (``GlobalConfig.forecast_config()``), so the two are
scored on the same targets.  What differs:

    scaling     each series by its own training rows: x_s' = x_s * a_s + b_s (``scaler``:
                standard = its mean and sd, minmax = its range, mean = divided by its mean
                absolute value, as DeepAR scales by the mean level), inverted exactly
    training    the windows of every series pooled into one training set (and the
                validation windows into one validation set, for early stopping)
    ids         with ``id_embedding=k`` each series has a learned vector e_s (k,), read with
                every step of its windows:  input_t = [x_t, e_s]  (B, T, D + k)

A series' validation and test rows never reach its scaler or its training windows, as in
``Forecaster``; the other series do not change that.
"""

from __future__ import annotations

import math
import numbers
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .. import layers as L
from ..data.scaling import StandardScaler, make_scaler, scaler_from_dict
from ..data.windowing import make_windows, split_series
from ..datasets.series import Series
from ..model import Sequential
from ..training import EarlyStopping, Trainer, set_seed
from .forecast import (
    CELLS,
    MAX_STEPS,
    ForecastConfig,
    Forecaster,
    _check_fit_options,
    feed_back,
    fits_float32,
    point_metrics,
    rmse,
)

__all__ = ["GlobalForecaster", "GlobalConfig", "GlobalNet", "MeanScaler"]

SCALERS = ("standard", "minmax", "mean", None)
IDS_FILE = "ids.safetensors"


class MeanScaler(StandardScaler):
    """Divide each feature by its mean absolute value (DeepAR's scale); no shift.  A feature
    that is all zeros keeps its scale."""

    kind = "mean"

    def _fit_params(self, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        level = np.abs(flat).mean(0)
        return 1.0 / np.where(level > 0, level, 1.0), np.zeros(flat.shape[1])


def _make_scaler(kind: str | None):
    return MeanScaler() if kind == "mean" else make_scaler(kind)


def _scaler_from_dict(d: Any):
    if isinstance(d, dict) and d.get("kind") == "mean":
        s, out = scaler_from_dict({**d, "kind": "standard"}), MeanScaler()
        out.scale_, out.shift_ = s.scale_, s.shift_
        return out
    return scaler_from_dict(d)


@dataclass(frozen=True)
class GlobalConfig:
    cell: str = "gru"                  # simple | lstm | gru
    units: int = 32                    # hidden units per recurrent layer
    layers: int = 1                    # stacked recurrent layers
    window: int = 24                   # input steps per sample
    horizon: int = 1                   # steps predicted per sample (K), all at once
    stride: int = 1                    # step between training windows of each series
    scaler: str | None = "standard"    # standard | minmax | mean | None, per series,
    #                                    fitted on that series' training rows only
    dropout: float = 0.0               # input dropout of each recurrent layer
    targets: tuple[str, ...] | None = None   # columns to predict; None = the first column
    lr: float = 1e-3                   # Adam learning rate
    difference: bool = False           # model step-to-step changes, add them back to levels
    id_embedding: int = 0              # size of each series' learned vector read with every
    #                                    step; 0 = the model is not told which series it reads

    def __post_init__(self) -> None:
        k = self.id_embedding
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 0:
            raise ValueError(f"id_embedding must be an int >= 0 (0 = off), got {k!r}")
        if self.scaler not in SCALERS:
            raise ValueError(f"scaler must be 'standard', 'minmax', 'mean' or None, got "
                             f"{self.scaler!r}")
        self.forecast_config()            # every shared setting checked as Forecaster checks it
        if isinstance(self.targets, str):
            object.__setattr__(self, "targets", (self.targets,))
        elif self.targets is not None:
            object.__setattr__(self, "targets", tuple(self.targets))

    def forecast_config(self) -> ForecastConfig:
        """The per-series ``Forecaster`` settings that split, window and scale as this does
        (``scaler="mean"`` has no per-series equivalent there: standard stands in)."""
        return ForecastConfig(cell=self.cell, units=self.units, layers=self.layers,
                              window=self.window, horizon=self.horizon, strategy="direct",
                              stride=self.stride, dropout=self.dropout, targets=self.targets,
                              lr=self.lr, difference=self.difference,
                              scaler="standard" if self.scaler == "mean" else self.scaler)


class GlobalNet(nn.Module):
    """An RNN stack that reads each window with its series' learned vector.

    Shapes: x (B, T, D), ids (B,) -> ``net``([x, e_ids]) with input (B, T, D + k)
    """

    def __init__(self, net: Sequential, n_series: int, id_embedding: int):
        super().__init__()
        self.net = net
        self.ids = nn.Embedding(n_series, id_embedding)

    def forward(self, inputs: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x, ids = inputs
        e = self.ids(ids.long())[:, None, :].expand(-1, x.shape[1], -1)   # (B, k) -> (B, T, k)
        return self.net(torch.cat([x, e.to(x.dtype)], dim=-1))


@dataclass
class _One:
    """One series as the model sees it."""

    values: np.ndarray                 # (N, F) levels, original units
    times: np.ndarray                  # (N,) labels
    parts: dict[str, tuple[int, int]]  # rows of the model rows, as Forecaster splits them
    scaler: Any = None                 # fitted on this series' training model rows

    def rows(self, difference: bool) -> np.ndarray:
        return np.diff(self.values, axis=0) if difference else self.values


def _id(key: Any) -> str | int:
    if isinstance(key, (str, numbers.Integral)) and not isinstance(key, (bool, np.bool_)):
        return key if isinstance(key, str) else int(key)
    raise ValueError(f"series ids must be strings or ints, got {key!r} "
                     f"({type(key).__name__})")


def _is_table(obj: Any) -> bool:
    return hasattr(obj, "columns") and hasattr(obj, "groupby")       # a pandas DataFrame


def _one_series(key: str | int, raw: Any) -> Series:
    """A dict value (1-D/2-D array, list, tensor, pandas Series/DataFrame or rnnkit Series)
    as an rnnkit Series named by its id."""
    if isinstance(raw, Series):
        return Series(str(key), raw.times, raw.values, tuple(raw.columns))
    times = None
    if _is_table(raw) or hasattr(raw, "index") and hasattr(raw, "to_numpy"):
        times = np.asarray(raw.index).astype(str)
        columns = tuple(map(str, raw.columns)) if _is_table(raw) else ("x0",)
        raw = raw.to_numpy()
    elif isinstance(raw, torch.Tensor):
        raw = raw.detach().cpu().numpy()
    try:
        values = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"series {key!r} must be numbers in a regular (N,) or (N, F) array "
                         f"({err})") from None
    if values.ndim not in (1, 2) or len(values) == 0 or values.size == 0:
        raise ValueError(f"series {key!r} must be (N,) or (N, F) with N > 0 and F > 0, got "
                         f"shape {values.shape}")
    if times is None:
        times = np.arange(len(values)).astype(str)
        columns = tuple(f"x{j}" for j in range(1 if values.ndim == 1 else values.shape[1]))
    return Series(str(key), times, values, columns)


def _from_table(table: Any, id_column: str, time_column: str | None) -> dict[Any, Series]:
    """A long table (one row per series and time) -> {id: Series}, rows in table order."""
    names = list(map(str, table.columns))
    for what, col in (("id_column", id_column), ("time_column", time_column)):
        if col is not None and col not in names:
            raise ValueError(f"{what}={col!r} is not a column of the table ({', '.join(names)})")
    value_cols = [c for c in table.columns if c not in (id_column, time_column)]
    if not value_cols:
        raise ValueError(f"the table has no value columns besides {id_column!r}"
                         + (f" and {time_column!r}" if time_column else ""))
    ids = table[id_column].to_numpy()
    out: dict[Any, Series] = {}
    for key in dict.fromkeys(ids.tolist()):           # in order of first appearance
        if isinstance(key, float) and math.isnan(key):
            raise ValueError(f"the id column {id_column!r} holds a missing id (NaN)")
        rows = table[ids == key]
        times = rows[time_column].astype(str).to_numpy() if time_column \
            else np.arange(len(rows)).astype(str)
        try:
            values = rows[value_cols].to_numpy(dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise ValueError(f"series {key!r}: the value columns "
                             f"({', '.join(map(str, value_cols))}) must hold numbers ({err})"
                             ) from None
        out[_id(key)] = Series(str(key), times, values, tuple(map(str, value_cols)))
    return out


def _checked(f: Forecaster, key: Any, s: Series, val: float, test: float) -> dict[str, Any]:
    """``f.check`` of one series; its errors name the series."""
    try:
        return f.check(s, val=val, test=test)
    except ValueError as err:
        if repr(str(key)) in str(err):
            raise
        raise ValueError(f"series {key!r}: {err}") from None


class GlobalForecaster:
    """One RNN for several related series, each scaled by its own training rows.

    Example:
        >>> import numpy as np
        >>> from rnnkit.tasks.global_forecast import GlobalForecaster
        >>> t = np.arange(200)
        >>> series = {"a": np.sin(t / 5), "b": 10 + 3 * np.sin(t / 7)}
        >>> g = GlobalForecaster(units=8, window=10, id_embedding=2)
        >>> _ = g.fit(series, epochs=2, verbose=0)
        >>> g.predict("b", steps=3).shape, sorted(g.evaluate()["series"])
        ((3, 1), ['a', 'b'])
    """

    def __init__(self, config: GlobalConfig | None = None, **options: Any):
        if config is not None and options:
            raise ValueError("pass a GlobalConfig or keyword options, not both")
        self.config = config if config is not None else GlobalConfig(**options)
        self.model: nn.Module | None = None
        self.ids: list[str | int] = []                 # position = the id's embedding row
        self.columns: tuple[str, ...] = ()
        self.target_idx: list[int] = []
        self.scalers: dict[str | int, Any] = {}        # per series, None without a scaler
        self.context: dict[str | int, np.ndarray] = {}  # last rows of each series (levels)
        self.history: dict[str, list[float]] = {}
        self.fit_seconds = math.nan
        self.training_step = None                   # which step fit ran, and why (Trainer)
        self._series: dict[str | int, _One] = {}

    # ------------------------------------------------------------------ data
    def _collect(self, series: Any, id_column: str | None,
                 time_column: str | None) -> dict[str | int, Series]:
        if _is_table(series) and id_column is not None:
            found = _from_table(series, id_column, time_column)
        elif id_column is not None or time_column is not None:
            raise ValueError("id_column and time_column describe a long table (a pandas "
                             f"DataFrame); got {type(series).__name__}")
        elif isinstance(series, dict):
            found = {_id(k): _one_series(k, v) for k, v in series.items()}
            if len(found) != len(series):
                raise ValueError(f"series ids repeat once read as ids: {list(series)!r}")
        else:
            raise ValueError("series must be a dict id -> series (arrays, pandas Series or "
                             "DataFrames) or a long table with id_column=, got "
                             f"{type(series).__name__}")
        if not found:
            raise ValueError("series is empty: give at least one series")
        first, columns = next(iter(found)), next(iter(found.values())).columns
        for key, s in found.items():
            if tuple(s.columns) != tuple(columns):
                raise ValueError(f"every series needs the same columns: series {first!r} has "
                                 f"({', '.join(columns)}), series {key!r} has "
                                 f"({', '.join(s.columns)})")
        return found

    def check(self, series: Any, *, val: float = 0.15, test: float = 0.15,
              id_column: str | None = None, time_column: str | None = None
              ) -> dict[str | int, dict[str, Any]]:
        """What ``fit`` would train and score on, per series, without training: the data
        errors a fit would raise (NaN, too short, missing targets, naming the series), or
        {id: Forecaster.check's {part: {"rows", "windows", "from", "to"}}}."""
        found = self._collect(series, id_column, time_column)
        return {key: _checked(Forecaster(self.config.forecast_config()), key, s, val, test)
                for key, s in found.items()}

    def _prepare(self, series: Any, val: float, test: float, id_column: str | None,
                 time_column: str | None) -> None:
        cfg = self.config
        found = self._collect(series, id_column, time_column)
        self._series = {}
        for key, s in found.items():
            f = Forecaster(cfg.forecast_config())
            _checked(f, key, s, val, test)               # Forecaster's checks and messages
            values = np.asarray(s.values, dtype=np.float64)
            values = values[:, None] if values.ndim == 1 else values
            one = _One(values, np.asarray(s.times), {})
            one.parts = split_series(len(one.rows(cfg.difference)), cfg.window, val, test)
            self._series[key] = one
            self.columns, self.target_idx = f.columns, f.target_idx
        self.ids = list(self._series)

    def _windows(self, part: str, stride: int = 1
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every series' windows of ``part``, pooled: x (M, window, F) scaled, ids (M,) and
        targets (M, K, nt) scaled."""
        cfg, xs, ids, ys = self.config, [], [], []
        for i, key in enumerate(self.ids):
            one = self._series[key]
            if part not in one.parts:
                continue
            s, e = one.parts[part]
            x, y = make_windows(self.scale(key, one.rows(cfg.difference)[s:e]), cfg.window,
                                cfg.horizon, stride, self.target_idx)
            xs.append(x)
            ys.append(y)
            ids.append(np.full(len(x), i))
        if not xs:
            raise ValueError(f"no series has a {part} part")
        return np.concatenate(xs), np.concatenate(ids), np.concatenate(ys)

    # ------------------------------------------------------------------ scaling
    def _scaler(self, key: Any):
        if key not in self.scalers:
            shown = ", ".join(map(repr, self.ids[:10])) + (" ..." if len(self.ids) > 10 else "")
            raise ValueError(f"unknown series id {key!r}; the model knows {shown or 'none'}")
        return self.scalers[key]

    def scale(self, key: Any, rows: Any) -> np.ndarray:
        """Model rows (levels, or changes with ``difference``) (..., F) of series ``key`` in
        the units the network reads."""
        s = self._scaler(key)
        rows = np.asarray(rows, dtype=np.float64)
        return fits_float32(s.transform(rows) if s is not None else rows)

    def unscale(self, key: Any, scaled: Any) -> np.ndarray:
        """The inverse of ``scale`` for the target columns (..., nt) of series ``key``."""
        s = self._scaler(key)
        scaled = np.asarray(scaled, dtype=np.float64)
        return s.subset(self.target_idx).inverse_transform(scaled) if s is not None else scaled

    # ------------------------------------------------------------------ model
    def _build(self, n_features: int) -> nn.Module:
        cfg, k = self.config, self.config.id_embedding
        stack: list[nn.Module] = [CELLS[cfg.cell](cfg.units, dropout=cfg.dropout,
                                                  return_sequences=i < cfg.layers - 1)
                                  for i in range(cfg.layers)]
        net = Sequential([*stack, L.Dense(len(self.target_idx) * cfg.horizon)])
        net(torch.zeros(1, cfg.window, n_features + k))            # build every layer
        # without ids the model is the per-series Forecaster's (and trains as fast)
        return GlobalNet(net, len(self.ids), k) if k else net

    def _inputs(self, x: np.ndarray, ids: np.ndarray) -> Any:
        x = torch.as_tensor(x, dtype=torch.float32)
        return (x, torch.as_tensor(ids, dtype=torch.long)) if self.config.id_embedding else x

    def fit(self, series: Any, *, id_column: str | None = None, time_column: str | None = None,
            epochs: int = 50, batch_size: int = 32, val: float = 0.15, test: float = 0.15,
            patience: int | None = 10, seed: int = 0, verbose: int = 1,
            threads: int | None = None):
        """Split each series in time as ``Forecaster`` does, scale each by its own training
        rows, pool every series' windows and train one model, with early stopping on the
        pooled validation windows.  Returns the History.

        ``series``: {id: series} (1-D or 2-D arrays, lists, tensors, pandas Series or
        DataFrames, rnnkit Series; ids are strings or ints), or a long pandas table with one
        row per series and time, ``id_column`` naming the series and ``time_column`` (if
        any) the time labels; its other columns are the values."""
        cfg = self.config
        _check_fit_options(epochs, batch_size, patience, seed)
        self._prepare(series, val, test, id_column, time_column)
        self.scalers = {}
        for key, one in self._series.items():
            a, b = one.parts["train"]
            one.scaler = _make_scaler(cfg.scaler)
            if one.scaler is not None:
                one.scaler.fit(one.rows(cfg.difference)[a:b])   # this series' training rows
            self.scalers[key] = one.scaler
        x, ids, y = self._windows("train", cfg.stride)
        validation = None
        if any("val" in one.parts for one in self._series.values()):
            xv, iv, yv = self._windows("val")
            validation = (self._inputs(xv, iv), yv.reshape(len(yv), -1))
        set_seed(seed)
        self.model = self._build(len(self.columns))
        callbacks = [EarlyStopping(patience=patience)] if validation and patience else []
        trainer = Trainer(self.model, loss="mse", optimizer="adam", lr=cfg.lr)
        t0 = time.perf_counter()
        hist = trainer.fit(self._inputs(x, ids), y.reshape(len(y), -1), epochs=epochs,
                           batch_size=batch_size, validation_data=validation,
                           callbacks=callbacks, seed=seed, verbose=verbose, threads=threads)
        self.fit_seconds = time.perf_counter() - t0
        self.training_step, self.history = trainer.step_choice, hist.history
        need = cfg.window + int(cfg.difference)
        self.context = {key: one.values[-need:].copy() for key, one in self._series.items()}
        return hist

    # ------------------------------------------------------------------ forecasting
    def _require_model(self) -> nn.Module:
        if self.model is None:
            raise ValueError("this GlobalForecaster is not trained yet: call fit() or load()")
        return self.model

    @torch.no_grad()
    def _forecast_scaled(self, x: np.ndarray, ids: np.ndarray, steps: int) -> np.ndarray:
        """x (B, window, F) scaled, ids (B,) -> (B, steps, nt) scaled; past the horizon the
        forecasts are fed back (every column must then be a target)."""
        model, cfg, nt = self._require_model(), self.config, len(self.target_idx)
        model.eval()
        return feed_back(lambda x: model(self._inputs(x, ids)).numpy().astype(np.float64)
                         .reshape(len(x), -1, nt), x, steps, cfg.window, cfg.horizon)

    def _levels(self, key: Any, pred_s: np.ndarray, last: np.ndarray) -> np.ndarray:
        """Scaled outputs (M, K, nt) of series ``key`` -> levels; last (M, nt) = last known."""
        pred = self.unscale(key, pred_s)
        return last[:, None, :] + np.cumsum(pred, axis=1) if self.config.difference else pred

    def predict_windows(self, key: Any, x: Any) -> np.ndarray:
        """Forecasts of series ``key`` from given windows of levels x (M, window [+1 with
        difference], F), original units: (M, horizon, number of targets)."""
        cfg, need = self.config, self.config.window + int(self.config.difference)
        i = self._index(key)
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 3 or x.shape[1:] != (need, len(self.columns)):
            raise ValueError(f"windows must be (M, {need}, {len(self.columns)}), got {x.shape}")
        rows = np.diff(x, axis=1) if cfg.difference else x
        pred_s = self._forecast_scaled(self.scale(key, rows), np.full(len(x), i), cfg.horizon)
        return self._levels(key, pred_s, x[:, -1, self.target_idx])

    def _index(self, key: Any) -> int:
        self._require_model()
        self._scaler(key)                                   # unknown ids: one message
        return self.ids.index(key)

    def predict(self, key: Any, steps: int | None = None, series: Any = None) -> np.ndarray:
        """Forecast ``steps`` values (default: horizon) after the end of series ``key``
        (its fitted rows, the context saved with the model, or ``series``: newer rows of it),
        original units: (steps, number of targets)."""
        cfg = self.config
        i = self._index(key)
        self._require_model()
        steps = cfg.horizon if steps is None else steps
        if isinstance(steps, (bool, np.bool_)) or not isinstance(steps, numbers.Integral) \
                or not 1 <= steps <= MAX_STEPS:
            raise ValueError(f"steps must be an int from 1 to {MAX_STEPS:,}, got {steps!r}")
        values = self.context[key] if series is None \
            else np.asarray(_one_series(key, series).values, dtype=np.float64)
        values = values[:, None] if values.ndim == 1 else values
        need = cfg.window + int(cfg.difference)
        if values.shape[1] != len(self.columns) or len(values) < need \
                or not np.isfinite(values).all():
            raise ValueError(f"series {key!r}: need at least {need} finite rows of "
                             f"{len(self.columns)} columns to forecast from, got "
                             f"{values.shape}")
        recent = values[-need:]
        rows = np.diff(recent, axis=0) if cfg.difference else recent
        pred_s = self._forecast_scaled(self.scale(key, rows)[None], np.array([i]), int(steps))
        return self._levels(key, pred_s, recent[-1:, self.target_idx])[0]

    # ------------------------------------------------------------------ evaluation
    def origins_and_targets(self, key: Any, part: str = "test"
                            ) -> tuple[np.ndarray, np.ndarray]:
        """Series ``key``'s ``part`` as ``Forecaster.origins_and_targets`` gives it: each
        window's origin (row of its last known level, (M,)) and its targets (M, K, nt)."""
        self._scaler(key)
        one, cfg = self._series.get(key), self.config
        if one is None:
            raise ValueError("evaluate() needs the data of a fit() in this session")
        if part not in one.parts:
            raise ValueError(f"part must be one of {', '.join(one.parts)}, got {part!r}")
        s, e = one.parts[part]
        m = e - s - cfg.window - cfg.horizon + 1                     # windows in the part
        origin = s + cfg.window - 1 + int(cfg.difference) + np.arange(m)
        y = one.values[origin[:, None] + np.arange(1, cfg.horizon + 1)][..., self.target_idx]
        return origin, y

    def evaluate(self, part: str = "test") -> dict[str, Any]:
        """RMSE, MAE and MAPE of every series' ``part`` windows (original units, and the
        series' scaled units) beside repeating the last value, and "overall": the same over
        all the series' targets pooled (original units mix the series' scales; the scaled
        figures weigh each series by its own spread)."""
        self._require_model()
        cfg, need = self.config, self.config.window + int(self.config.difference)
        out: dict[str, Any] = {"part": part, "series": {}}
        pooled: dict[str, list[np.ndarray]] = {"pred": [], "y": [], "pred_s": [], "y_s": [],
                                               "naive": []}
        for key in self.ids:
            origin, y = self.origins_and_targets(key, part)
            values = self._series[key].values
            x = np.stack([values[o - need + 1:o + 1] for o in origin])
            pred = self.predict_windows(key, x)
            last = values[origin][:, self.target_idx]
            naive = np.repeat(last[:, None], cfg.horizon, axis=1)
            # scaled units: the model rows' scale (changes with difference), so unit-free
            ref = np.diff(np.concatenate([last[:, None], y], axis=1), axis=1) \
                if cfg.difference else y
            hat = np.diff(np.concatenate([last[:, None], pred], axis=1), axis=1) \
                if cfg.difference else pred
            pred_s, y_s = (self._scaled_targets(key, v) for v in (hat, ref))
            out["series"][key] = {"windows": len(origin), **point_metrics(pred, y),
                                  "rmse_scaled": rmse(pred_s, y_s),
                                  "baseline_last_value": point_metrics(naive, y)}
            for name, v in (("pred", pred), ("y", y), ("pred_s", pred_s), ("y_s", y_s),
                            ("naive", naive)):
                pooled[name].append(v.reshape(-1))
        p = {k: np.concatenate(v) for k, v in pooled.items()}
        out["overall"] = {"windows": sum(r["windows"] for r in out["series"].values()),
                          **point_metrics(p["pred"], p["y"]),
                          "rmse_scaled": rmse(p["pred_s"], p["y_s"]),
                          "baseline_last_value": point_metrics(p["naive"], p["y"])}
        return out

    def _scaled_targets(self, key: Any, v: np.ndarray) -> np.ndarray:
        s = self.scalers[key]
        return s.subset(self.target_idx).transform(v) if s is not None else v

    def report(self, out_dir: str | Path, future: int | None = None) -> dict[str, Any]:
        """Write metrics.json (settings, the validation and test figures of every series
        and overall, ``future`` steps, default the horizon, forecast after each series) and
        training.png; return the metrics."""
        import json

        from ..plots.forecast import plot_training
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        step = self.training_step
        metrics: dict[str, Any] = {
            "config": asdict(self.config), "ids": self.ids, "fit_seconds": self.fit_seconds,
            "training_step": step._asdict() if hasattr(step, "_asdict") else step,
            "epochs_run": len(self.history.get("loss", []))}
        held = {p for one in self._series.values() for p in one.parts} - {"train"}
        for part in ("val", "test"):
            if part in held:
                metrics[part] = self.evaluate(part)
        steps = future or self.config.horizon
        metrics["future"] = {str(k): self.predict(k, steps=steps).tolist() for k in self.ids}
        plot_training(out / "training.png", self.history, "MSE")
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2, default=str))
        return metrics

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path, overwrite: bool = False) -> None:
        """A model folder (``rnnkit.saving``): the RNN's config.json and weights,
        global_forecaster.json (settings, ids, per-series scalers and context) and, with
        ``id_embedding``, ids.safetensors (the learned vectors, one row per id)."""
        from ..io import write_tensors
        from ..saving import save
        model = self._require_model()
        meta = {"config": asdict(self.config), "ids": self.ids, "columns": list(self.columns),
                "target_idx": self.target_idx,
                "scalers": [s.to_dict() if s is not None else None
                            for s in (self.scalers[k] for k in self.ids)],
                "context": [self.context[k].tolist() for k in self.ids],
                "history": self.history}
        net = model.net if isinstance(model, GlobalNet) else model
        save(net, path, extra={"global_forecaster": meta}, overwrite=overwrite)
        if isinstance(model, GlobalNet):
            write_tensors(Path(path) / IDS_FILE,
                          {"weight": model.ids.weight.detach().clone()},
                          {"format": "rnnkit-global-ids"})

    @classmethod
    def load(cls, path: str | Path) -> GlobalForecaster:
        from ..io import read_json, read_tensors
        from ..saving import load, load_state_checked
        path = Path(path)
        meta_path = path / "global_forecaster.json"
        if not meta_path.is_file():
            raise ValueError(f"{path} is not a saved GlobalForecaster: "
                             "global_forecaster.json is missing")
        meta = read_json(meta_path, "global forecaster settings (JSON)")
        try:
            config = dict(meta["config"])
            config["targets"] = tuple(config["targets"]) if config["targets"] else None
            f = cls(GlobalConfig(**config))
            f.ids = [_id(k) for k in meta["ids"]]
            f.columns, f.target_idx = tuple(meta["columns"]), list(meta["target_idx"])
            f.scalers = {k: _scaler_from_dict(d) for k, d in zip(f.ids, meta["scalers"],
                                                                  strict=True)}
            f.context = {k: np.asarray(c, dtype=np.float64)
                         for k, c in zip(f.ids, meta["context"], strict=True)}
            f.history = meta["history"]
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"{meta_path} is not a valid global forecaster file "
                             f"({type(err).__name__}: {err})") from None
        net = load(path)
        k = f.config.id_embedding
        if k:
            model = GlobalNet(net, len(f.ids), k)
            tensors, _ = read_tensors(path / IDS_FILE)
            load_state_checked(model.ids, tensors, str(path / IDS_FILE))
            f.model = model
        else:
            f.model = net
        return f
