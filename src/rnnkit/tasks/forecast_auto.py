"""``strategy="auto"``: fit the candidates, keep the one with the lowest validation RMSE.

The candidates (``AutoForecaster.candidates`` after ``fit``):
    rnn         the Forecaster as configured (a preset's settings, strategy "direct")
    recursive   the same network with strategy="recursive", only at horizon K > 1 with
                every input column a target (at K = 1 the two are one model)
    hybrid      the ES-RNN HybridForecaster (``tasks/hybrid.py``) on the first target; left
                out for several targets (it forecasts one)
    mean        the average of the rnn's and the hybrid's forecasts, in original units
                (``MeanForecaster``); nothing more is fitted, so it is there whenever both are
    combined    the average of the candidate chosen among those four and one statistical
                model (``CombinedForecaster``): statsforecast's AutoARIMA, AutoETS or
                AutoTheta, whichever forecasts the validation part best, fitted on the
                training rows and updated with each new value (``tasks/stats_baselines.py``,
                the models and seasons ``rnnkit forecast --stats`` scores).  Needs
                statsforecast (``pip install 'rnnkit[stats]'``, ``stats=``) and one target.
                Kept only when its validation RMSE is more than ``TIE`` below the chosen
                candidate's (the tie rule: otherwise the simpler model stays)

With quantiles (``ForecastConfig(quantiles=...)``) the rnn is the quantile Forecaster (its
median is its point forecast), and the hybrid, the mean and the combined, which forecast
one point per step, get their quantiles from their own validation errors
(``tasks/intervals.py``).  The choice still reads the point forecasts' validation RMSE; the
chosen model's intervals are then reported, whichever it is.

Each is trained with early stopping on the validation part, then scored there in original
units on the origins all candidates share.  The lowest RMSE wins, unless a candidate listed
before it is within ``TIE`` (1 %) of it: then the first such one, the simpler model, is
kept (the RNN predicts in milliseconds, exports to ONNX and serves sessions; the hybrid,
the mean and the combined serve /forecast only), since a difference that small on one
validation part is not evidence.  The choice is a ``Choice(kind, reason)`` and every
candidate's validation score is kept beside it (``evaluate``, ``report`` and the CLI print
them).

Earlier folds (``folds``): one validation part of 15 to 40 targets, all of one stretch
of the series, is a noisy ranking: on quarterly US GDP the hybrid was best on the 1994-2002
validation part and worst on the 2002-09 test part.  So with fewer than ``FOLD_TARGETS``
validation targets (``folds="auto"``), the choice also reads ``FOLDS`` earlier folds.  Fold
i is the series cut (i - 1) validation parts before the validation part begins, split as
the whole was (so its last part ends before the validation part), with every candidate
fitted on it again and scored on that last part; the statistical models are fitted before
it and updated through it.  Each candidate's RMSE over the lowest on each part, averaged as
a geometric mean over the validation part and the folds, replaces the validation RMSE in
every rule above (which statistical model, and whether the combined is kept).  Nothing of
the test part is read; the folds cost FOLDS more fits, on short series only.

Why combined: ``benchmarks/combo-experiment.md`` fitted rnnkit's default on the 12 series of
``benchmarks/forecast-unseen.md`` and compared five rules against the target "within 2 % of
the best of AutoARIMA, AutoETS and AutoTheta on test RMSE".  This one, rule (e) there (the
average kept only when more than TIE better on validation), met it on 10 of 12 series at
seeds 0, 1 and 2 (auto before it: 7, 8 and 7): at seed 0 airline went from 1.061 to 0.965
of the best, elec_equip from 1.129 to 1.004 and nile from 1.030 to 1.017, while sine,
weather and sunspots_yearly, where rnnkit is far ahead, kept their rnnkit choice.  Caveat:
the rule was picked among five on those same 12 series (3 seeds), two of its passes sit
near the threshold (elec_equip, nile), and realgdp and unemp still miss.

Why a mean: the rnn and the hybrid make different errors (one models the scaled or
differenced window, the other what exponential smoothing leaves of it), and an average of
forecasts with different errors is often better than either.  Combinations were among
the most accurate entries of the M4 competition (Makridakis et al. 2020, IJF 36(1)), and
Smyl's winning ES-RNN itself averaged several networks' forecasts.

Nothing fitted or scored before the choice reads the test part's values: the scalers and
the smoothing start on training rows, early stopping and the choice read validation rows.
The combined's statistical models are fitted on the training rows and read the validation
rows one origin at a time; on the test part (as in ``--stats``) the chosen one is fitted on
the rows before the first test target.  The one fact taken from the whole series is the
hybrid's "every value > 0" (multiplicative or additive seasonality,
``HybridConfig.seasonality="auto"``), a property of the kind of data rather than a fitted
number.  ``tests/tasks/test_forecast_auto.py`` replaces the test
part's values with noise and gets the same choice and the same validation scores.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import asdict, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from ..datasets.series import Series
from ..types import Choice
from . import stats_baselines as sb
from .forecast import (
    ForecastConfig,
    Forecaster,
    _folds,
    backtest_result,
    fold_intervals,
    future_times,
    interval_pairs,
    point_metrics,
    rmse,
)
from .hybrid import SMOOTHING_FILE, HybridForecaster, HybridPreset
from .intervals import (
    DEFAULT_LEVELS,
    ErrorIntervals,
    quantile_forecast,
)

__all__ = ["AutoForecaster", "MeanForecaster", "CombinedForecaster", "AUTO_FILE", "KINDS",
           "MEMBERS", "saved_kind", "score", "pick"]

TIE = 0.01    # a candidate listed earlier (simpler) is kept within 1 % of the lowest RMSE
FOLD_TARGETS = 100   # a validation part with fewer targets: folds="auto" adds earlier folds
FOLDS = 3            # how many earlier folds folds="auto" adds

KINDS = ("rnn", "recursive", "hybrid", "mean", "combined")
BASES = KINDS[:4]                    # what a combined averages with a statistical model
MEMBERS = ("rnn", "hybrid")          # what the mean averages; saved in these subfolders
AUTO_FILE = "auto.json"
COMBINED_FILE = "combined.safetensors"   # a chosen combined's target series
NOT_INSTALLED = f"statsforecast not installed: {sb.INSTALL}"
RULE = ("the lowest RMSE on the validation part, in original units, on the same targets; "
        f"within {100 * TIE:g} % of it, the simpler candidate (rnn before recursive before "
        "hybrid before mean); then combined (the mean of that choice and the statistical "
        f"model best on validation) if its RMSE is more than {100 * TIE:g} % lower. With "
        f"fewer than {FOLD_TARGETS} validation targets (folds='auto'), {FOLDS} earlier folds "
        "count too: each candidate's RMSE over the best one's on each part, as a geometric "
        "mean, stands for the RMSE")


class MeanForecaster:
    """The average of fitted models' forecasts in original units, with nothing fitted of its
    own: ``predict`` is the mean of the members' ``predict`` (each feeds back its own
    forecasts past its horizon).  The members forecast the same single target.

    Quantiles come from the mean's own validation errors (``tasks/intervals.py``),
    computed when every member holds the data of its fit with a validation part, or given
    as ``intervals`` (a saved mean).  They are relative (y / forecast - 1) when a member is a
    multiplicative hybrid and every validation forecast is > 0, else absolute.

    Args:
        members: {name: fitted Forecaster or HybridForecaster}, at least two.
        intervals: the validation errors, when they cannot be computed (a loaded mean).

    Example:
        >>> import numpy as np
        >>> y = np.sin(np.arange(80) / 4)
        >>> a, b = Forecaster(units=4, window=8), Forecaster(cell="gru", units=4, window=8)
        >>> _ = a.fit(y, epochs=1, verbose=0), b.fit(y, epochs=1, verbose=0)
        >>> mean = MeanForecaster({"a": a, "b": b})
        >>> bool(np.allclose(mean.predict(3), (a.predict(3) + b.predict(3)) / 2))
        True
    """

    def __init__(self, members: dict[str, Forecaster | HybridForecaster],
                 intervals: ErrorIntervals | None = None):
        if not isinstance(members, dict) or not all(isinstance(n, str) for n in members):
            raise TypeError(f"members must be a dict {{name: fitted Forecaster or "
                            f"HybridForecaster}}, got {type(members).__name__}")
        if len(members) < 2:
            raise ValueError(f"a mean needs at least two members, got {list(members)}")
        shapes = {}
        for name, m in members.items():
            if not isinstance(m, (Forecaster, HybridForecaster)):
                raise TypeError(f"members[{name!r}] must be a Forecaster or HybridForecaster, "
                                f"got {type(m).__name__}")
            if getattr(m, "model", None) is None:
                raise ValueError(f"members[{name!r}] is not fitted: fit() or load() it first")
            targets = len(m.target_idx) if isinstance(m, Forecaster) else 1
            shapes[name] = (m.config.horizon, targets)
        if len(set(shapes.values())) > 1:
            raise ValueError("the members must forecast the same targets at the same horizon, "
                             f"got (horizon, targets) {shapes}")
        self.members = dict(members)
        self.fit_seconds = sum(m.fit_seconds for m in self.members.values())
        self.intervals, self.no_intervals = intervals, ""
        if intervals is None:
            self.intervals, self.no_intervals = self._validation_errors()

    def _validation_errors(self) -> tuple[ErrorIntervals | None, str]:
        """(the mean's errors on the validation origins all members forecast, "") or
        (None, why there are none)."""
        for name, m in self.members.items():
            parts = m._parts if isinstance(m, HybridForecaster) else \
                (m._data.parts if m._data is not None else {})
            if "val" not in parts:
                return None, (f"members[{name!r}] holds no validation part of a fit in this "
                              "session (loaded, or fitted with val=0)")
        origin, pred, true = _predictions(self, "val")
        if len(origin) == 0:
            return None, "its members share no validation origin"
        shape = (len(origin), self.config_horizon, -1)            # (n, K, nt)
        pred, true = pred.reshape(shape), true.reshape(shape)
        relative = _relative(self.members.values(), pred)
        return ErrorIntervals.from_forecasts(pred, true, relative, source=(
            f"the mean's {len(origin)} validation forecasts")), ""

    @property
    def config_horizon(self) -> int:
        """The members' horizon K."""
        return next(iter(self.members.values())).config.horizon

    @property
    def history(self) -> dict[str, list[float]]:
        """Every member's history, keys prefixed by its name ("rnn loss", "hybrid val_rmse")."""
        return {f"{n} {k}": v for n, m in self.members.items() for k, v in m.history.items()}

    def predict(self, steps: int | None = None, series: Any = None,
                quantiles: Any = False) -> np.ndarray:
        """The mean of the members' forecasts of ``steps`` values (default: the horizon)
        after the data or ``series``: (steps, 1).  ``quantiles`` (levels, or True for 0.1,
        0.5, 0.9) returns (steps, 1, levels) from the mean's validation errors, as
        ``HybridForecaster.predict`` does; they reach the horizon at most."""
        if quantiles is not False and quantiles is not None:
            return quantile_forecast(self, "mean", self.config_horizon, steps, series,
                                     quantiles)
        return np.mean([m.predict(steps, series) for m in self.members.values()], axis=0)


class CombinedForecaster:
    """The equal-weight mean of a fitted rnnkit model (``base``: the rnn, recursive, hybrid
    or mean that auto chose) and one of statsforecast's AutoARIMA, AutoETS, AutoTheta, in
    original units, for one target.

    The statistical member reads the target column alone, as ``rnnkit forecast --stats``
    scores it (``tasks/stats_baselines.py``, its seasons and notes):
        at an origin o     fitted once on the rows up to the last of ``starts`` <= o (the
                           rows before that part's first target), updated with each value
                           up to o: on the test part, exactly the --stats table's forecasts
        predict(steps)     fitted on the whole known series, ``steps`` ahead
    Nothing of statsforecast is saved or pickled: its name and season and the series are,
    and it is fitted again when a forecast needs it.

    Quantiles come from the combined's own validation errors (``tasks/intervals.py``), as
    a mean's (``intervals``, set by ``AutoForecaster`` or a saved record).

    Args:
        base: the fitted rnnkit model (Forecaster, HybridForecaster or MeanForecaster).
        base_kind: its candidate name ("rnn", "recursive", "hybrid" or "mean").
        model: "AutoARIMA", "AutoETS" or "AutoTheta".
        season: its season (the rnn's ``ForecastConfig.season``; > 24 is fitted without).
        series: the target's values (N,) of the fit (what ``predict`` continues).
        column: the target's name.
        starts: increasing rows the statistical member is fitted up to, one per part.
        intervals: the validation errors behind the quantiles, or None.
    """

    def __init__(self, base: Forecaster | HybridForecaster | MeanForecaster, base_kind: str,
                 model: str, season: int | None, series: Any, column: str = "",
                 starts: tuple[int, ...] = (), intervals: ErrorIntervals | None = None):
        if not isinstance(base, (Forecaster, HybridForecaster, MeanForecaster)):
            raise TypeError(f"base must be a fitted Forecaster, HybridForecaster or "
                            f"MeanForecaster, got {type(base).__name__}")
        if base_kind not in BASES:
            raise ValueError(f"base_kind must be one of {', '.join(BASES)}, got "
                             f"{base_kind!r}")
        if model not in sb.AUTO_MODELS:
            raise ValueError(f"model must be one of {', '.join(sb.AUTO_MODELS)}, got {model!r}")
        y = np.asarray(series, dtype=np.float64)
        if y.ndim != 1 or len(y) < 2 or not np.isfinite(y).all():
            raise ValueError(f"series must be the target's finite values (N,), got shape "
                             f"{y.shape}")
        self.base, self.base_kind, self.model, self.season = base, base_kind, model, season
        self.series, self.column, self.starts = y, column, tuple(int(s) for s in starts)
        self.intervals = intervals
        self.no_intervals = "" if intervals is not None else "no validation errors kept"
        self.stats_seconds = 0.0       # fitting the statistical models for the choice
        self.note = ""                                   # the season note of --stats
        self._known: dict[int, dict[int, np.ndarray]] = {}   # fit row -> {origin: (K,)}
        self._ahead: dict[int, np.ndarray] = {}         # steps -> forecast after the series

    @property
    def config_horizon(self) -> int:
        """The horizon K of the rnnkit member."""
        b = self.base
        return b.config_horizon if isinstance(b, MeanForecaster) else b.config.horizon

    @property
    def fit_seconds(self) -> float:
        return self.base.fit_seconds + self.stats_seconds

    @property
    def history(self) -> dict[str, list[float]]:
        return self.base.history

    def describe(self) -> str:
        return f"mean of {self.base_kind} and {self.model}" + (
            f" ({self.note})" if self.note else
            f" (season {self.season})" if self.season and self.season > 1 else "")

    def seed(self, start: int, origin: np.ndarray, forecasts: np.ndarray) -> None:
        """Forecasts (M, K) the statistical member made at ``origin`` when fitted up to row
        ``start`` (the --stats table's), kept instead of being computed again."""
        known = self._known.setdefault(int(start), {})
        for o, f in zip(np.asarray(origin).tolist(), np.asarray(forecasts, np.float64)):
            known[int(o)] = f

    def stats_at(self, origin: Any) -> np.ndarray:
        """The statistical member's forecasts (M, K) at each origin row of the series."""
        origin = np.asarray(origin, dtype=np.int64)
        if not self.starts or origin.min() < self.starts[0]:
            raise ValueError(f"the {self.model} member forecasts from row {self.starts[0]} on "
                             "(where it was first fitted)" if self.starts else
                             "this combined holds no data of a fit (a loaded one); use predict()")
        part = np.searchsorted(self.starts, origin, side="right") - 1
        for s in np.unique(part):
            start = self.starts[s]
            known = self._known.setdefault(start, {})
            todo = np.array([o for o in origin[part == s] if int(o) not in known])
            if len(todo):
                f, _, note = sb.rolling_forecasts(self.series, todo, self.config_horizon,
                                                  self.model, self.season, start)
                self.note = note
                self.seed(start, todo, f)
        return np.stack([self._known[self.starts[s]][int(o)] for o, s in zip(origin, part)])

    def _target(self, series: Any) -> np.ndarray:
        """The target's values in ``series`` (a Series, table or plain numbers)."""
        from ..datasets.series import Series
        if isinstance(series, Series) and self.column in series.columns:
            series = series.select([self.column])
        data = Forecaster()._prepare(series)
        if self.column in data.columns:
            return data.values[:, data.columns.index(self.column)].astype(np.float64)
        if len(data.columns) == 1:
            return data.values[:, 0].astype(np.float64)
        raise ValueError(f"target {self.column!r} is not a column of the series "
                         f"({', '.join(data.columns)})")

    def predict(self, steps: int | None = None, series: Any = None,
                quantiles: Any = False) -> np.ndarray:
        """The mean of the rnnkit member's forecast of ``steps`` values (default: the
        horizon) after the data or ``series`` and the statistical model's, fitted on that
        whole series: (steps, 1).  ``quantiles`` as ``MeanForecaster.predict``."""
        if quantiles is not False and quantiles is not None:
            return quantile_forecast(self, "combined forecaster", self.config_horizon, steps,
                                     series, quantiles)
        rnn = self.base.predict(steps, series)                     # checks steps
        return (rnn + self.stats_after(len(rnn), series)[:, None]) / 2

    def stats_after(self, steps: int, series: Any = None) -> np.ndarray:
        """The statistical member's ``steps`` forecasts (steps,) after the fitted series, or
        after ``series`` (its target column is read), fitted on all of it."""
        if series is None:
            if steps not in self._ahead:
                self._ahead[steps] = sb.forecast_after(self.series, steps, self.model,
                                                       self.season)[0]
            return self._ahead[steps]
        y = self._target(series)
        slow = sb.too_slow(self.model, self.season, len(y))
        if slow:         # the choice never fitted it so long; a request must not hang on it
            raise ValueError(f"the combined's {self.model}: {slow}; send at most "
                             f"{sb.SEASONAL_ARIMA_ROWS:,} rows of history")
        return sb.forecast_after(y, steps, self.model, self.season)[0]

    def refitted(self, base: Any, origin: int) -> CombinedForecaster:
        """This combination with ``base`` (refitted on rows 0..origin) and the statistical
        member fitted up to ``origin`` too."""
        return CombinedForecaster(base, self.base_kind, self.model, self.season, self.series,
                                  self.column, (origin,), self.intervals)

    def to_dict(self) -> dict[str, Any]:
        """What auto.json keeps (the series goes to combined.safetensors)."""
        return {"base": self.base_kind, "model": self.model, "season": self.season,
                "column": self.column, "note": self.note,
                **({"intervals": self.intervals.to_dict()} if self.intervals is not None
                   else {"no_intervals": self.no_intervals})}

    def save(self, path: Path) -> None:
        """The rnnkit member in rnn/ and/or hybrid/ (a mean: both), the series in
        combined.safetensors; ``to_dict()`` goes to auto.json."""
        import torch

        from ..io import write_tensors
        if isinstance(self.base, MeanForecaster):
            for name, member in self.base.members.items():
                _save_member(member, path / name)
        else:
            _save_member(self.base, path / ("hybrid" if self.base_kind == "hybrid" else "rnn"))
        write_tensors(path / COMBINED_FILE, {"series": torch.as_tensor(self.series)},
                      {"format": "rnnkit-combined"})

    @classmethod
    def load(cls, path: Path, spec: Any) -> CombinedForecaster:
        """A saved combination: ``spec`` is auto.json's "combined"."""
        import torch

        from ..io import read_tensors
        where = path / AUTO_FILE
        if not sb.available():
            raise ValueError(f"{path} holds auto's choice 'combined', whose statistical "
                             f"member needs statsforecast: {sb.INSTALL}")
        try:
            kind, model, season = spec["base"], spec["model"], spec["season"]
            if kind not in BASES or model not in sb.AUTO_MODELS:
                raise ValueError(f"base {kind!r} or model {model!r} unknown")
            if season is not None and (isinstance(season, bool) or not isinstance(season, int)
                                       or season < 1):
                raise ValueError(f"season {season!r} is not a positive int or null")
            column = str(spec.get("column", ""))
            intervals = ErrorIntervals.from_dict(spec["intervals"]) if "intervals" in spec \
                else None
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"{where}: 'combined' is not a valid combination record "
                             f"({type(err).__name__}: {err})") from None
        base = MeanForecaster({n: _load_member(path / n) for n in MEMBERS}) if kind == "mean" \
            else _load_member(path / ("hybrid" if kind == "hybrid" else "rnn"))
        tensors, meta = read_tensors(path / COMBINED_FILE)
        series = tensors.get("series")
        if meta.get("format") != "rnnkit-combined" or set(tensors) != {"series"} \
                or series.ndim != 1 or len(series) < 2 or not torch.isfinite(series).all():
            raise ValueError(f"{path / COMBINED_FILE} is not a combined forecaster's series "
                             "(format rnnkit-combined, one 1-D 'series' of finite values)")
        out = cls(base, kind, model, season, series.to(torch.float64).numpy(), column,
                  intervals=intervals)
        out.note = str(spec.get("note", ""))
        if intervals is None:
            out.no_intervals = str(spec.get("no_intervals", "none were saved"))
        return out


class AutoForecaster:
    """Fit an RNN Forecaster and the ES-RNN hybrid; keep the one, or their mean, that
    forecasts the validation part best, or its mean with a statistical model when that is
    more than ``TIE`` better.  The API of ``Forecaster``: fit, predict, evaluate, report,
    save, load.

    Args:
        rnn: the Forecaster's settings (its strategy must be "direct").
        hybrid: the hybrid's settings and training (``hybrid_preset``), or None for none.
        recursive: also try strategy="recursive" when it differs from direct (K > 1).
        mean: also try the average of the rnn's and the hybrid's forecasts.
        stats: the "combined" candidate (needs statsforecast): "auto" tries it when
            statsforecast imports, True requires it (ValueError without it), False skips it.
        folds: earlier folds the choice also reads (0 to 10): "auto" is ``FOLDS`` when the
            validation part has fewer than ``FOLD_TARGETS`` targets, else 0.

    Example:
        >>> import numpy as np
        >>> from rnnkit.tasks.hybrid import HybridConfig
        >>> t = np.arange(160.0)
        >>> y = 10 + t / 20 + np.sin(2 * np.pi * t / 12)
        >>> hybrid = HybridPreset(HybridConfig(units=4, window=12, season=12), epochs=2)
        >>> auto = AutoForecaster(ForecastConfig(cell="gru", units=4, window=12), hybrid)
        >>> _ = auto.fit(y, epochs=2, verbose=0)
        >>> auto.choice.kind in ("rnn", "hybrid", "mean", "combined"), sorted(auto.validation)
        (True, ['combined', 'hybrid', 'mean', 'recursive', 'rnn'])
        >>> auto.validation["recursive"]
        {'skipped': 'horizon 1: the same model as direct'}
        >>> auto.predict(steps=3).shape
        (3, 1)
    """

    def __init__(self, rnn: ForecastConfig | None = None, hybrid: HybridPreset | None = None,
                 *, recursive: bool = True, mean: bool = True, stats: bool | str = "auto",
                 folds: int | str = "auto"):
        rnn = rnn if rnn is not None else ForecastConfig()
        if not isinstance(rnn, ForecastConfig):
            raise ValueError(f"rnn must be a ForecastConfig, got {type(rnn).__name__}")
        if rnn.strategy != "direct":
            raise ValueError(f"rnn must have strategy='direct' (auto adds 'recursive' itself), "
                             f"got strategy={rnn.strategy!r}")
        if hybrid is not None and not isinstance(hybrid, HybridPreset):
            raise ValueError(f"hybrid must be a HybridPreset (tasks.hybrid.hybrid_preset) or "
                             f"None, got {type(hybrid).__name__}")
        if hybrid is not None and hybrid.config.horizon != rnn.horizon:
            raise ValueError(f"hybrid horizon={hybrid.config.horizon} differs from the rnn's "
                             f"horizon={rnn.horizon}: they must forecast the same targets")
        for name, flag in (("recursive", recursive), ("mean", mean)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be True or False, got {flag!r}")
        if not (stats is True or stats is False or stats == "auto"):
            raise ValueError(f"stats must be 'auto', True or False, got {stats!r}")
        if stats is True and not sb.available():
            raise ValueError(f"stats=True needs statsforecast for the combined candidate: "
                             f"{sb.INSTALL} (or stats='auto' to skip it when missing)")
        if folds != "auto" and (isinstance(folds, bool) or not isinstance(folds, int)
                                or not 0 <= folds <= 10):
            raise ValueError(f"folds must be 'auto' or an int from 0 to 10, got {folds!r}")
        self.config, self.hybrid_preset, self.recursive = rnn, hybrid, recursive
        self.mean, self.stats, self.folds = mean, stats, folds
        self.candidates: dict[str, Any] = {}                # name -> fitted model
        self.validation: dict[str, dict[str, Any]] = {}    # name -> score, or {"skipped": why}
        self.choice: Choice | None = None
        self.chosen: Any = None                             # one of the candidates
        self.fit_seconds = math.nan                         # every candidate's fit
        self._frame: Forecaster | None = None               # the rnn: data, parts, targets
        self._options: dict[str, Any] = {}                  # what fit() ran with (backtest)
        self._val_span: dict[str, Any] = {}                 # the targets the choice read
        self._earlier: list[dict[str, Any]] = []            # the earlier folds' forecasts
        self._fold_note = ""                                # why fewer folds than asked

    # ------------------------------------------------------------------ fitting
    def _plan(self, n_targets: int, n_columns: int) -> tuple[dict[str, Any], dict[str, str]]:
        """The candidates to fit ({name: config}) and those left out ({name: why})."""
        cfg, todo, skipped = self.config, {"rnn": self.config}, {}
        if self.recursive:
            if cfg.horizon == 1:
                skipped["recursive"] = "horizon 1: the same model as direct"
            elif cfg.quantiles:
                skipped["recursive"] = "quantiles need strategy='direct'"
            elif n_targets != n_columns:
                skipped["recursive"] = "extra input columns cannot be fed back"
            else:
                todo["recursive"] = replace(cfg, strategy="recursive")
        if self.hybrid_preset is None:
            skipped["hybrid"] = "not asked for (hybrid=None)"
        elif n_targets > 1:
            skipped["hybrid"] = f"{n_targets} targets: the hybrid forecasts one"
        else:
            todo["hybrid"] = self.hybrid_preset
        return todo, skipped

    def fit(self, series: Any, *, epochs: int = 50, batch_size: int = 32, val: float = 0.15,
            test: float = 0.15, patience: int | None = 10, seed: int = 0, verbose: int = 1,
            log_dir: str | Path | None = None, threads: int | None = None,
            precision: str = "fp32") -> dict[str, Any]:
        """Fit every candidate on the same split (the RNNs with these options, the hybrid
        with its preset's epochs, batch size and patience), score each on the validation
        part and keep the best.  Needs a validation part (``val`` > 0).  Returns the
        validation scores."""
        if isinstance(val, bool) or not isinstance(val, (int, float)) or not 0 < val < 1:
            raise ValueError(f"auto chooses on the validation part, so val must be a fraction "
                             f"in (0, 1), got {val!r}")
        frame = Forecaster(self.config)
        data, _ = frame._split(series, val, test)          # every data error, before training
        todo, skipped = self._plan(len(frame.target_idx), len(data.columns))
        opts = dict(epochs=epochs, batch_size=batch_size, val=val, test=test,
                    patience=patience, seed=seed, verbose=verbose)
        self.candidates, self.validation = {}, {}
        t0 = time.perf_counter()
        for name, spec in todo.items():
            if isinstance(spec, HybridPreset):
                h = HybridForecaster(replace(    # the rnn's targets: the same split rows
                    spec.config, target=data.columns[frame.target_idx[0]],
                    split_rows="changes" if self.config.difference else "levels"))
                try:
                    h.fit(series, epochs=spec.epochs, batch_size=spec.batch_size,
                          val=val, test=test, patience=spec.patience, seed=seed,
                          verbose=verbose, threads=threads)
                except ValueError as err:       # too short for its seasons, diverged, ...
                    skipped[name] = f"could not be fitted: {err}"
                    continue
                self.candidates[name] = h
            else:
                f = frame if name == "rnn" else Forecaster(spec)
                f.fit(series, **opts, log_dir=log_dir if name == "rnn" else None,
                      threads=threads, precision=precision)   # the hybrid: fp32
                self.candidates[name] = f
        self._options = {"val": val, "seed": seed, "threads": threads}
        self._frame = frame
        n_val = len(frame.origins_and_targets("val")[0])
        k = self.folds if self.folds != "auto" else FOLDS if n_val < FOLD_TARGETS else 0
        self._earlier, self._fold_note = [], ""
        if k and len(self.candidates) < 2 and self._no_combination(len(frame.target_idx)):
            self._fold_note = ("none fitted: one candidate and no statistical combination, "
                               "nothing for them to choose")
        elif k:
            self._earlier, self._fold_note = self._fit_folds(k, {**opts, "verbose": 0},
                                                             threads, precision)
        self._decide(frame, skipped)
        self.fit_seconds = time.perf_counter() - t0
        return self.validation

    def _fit_folds(self, k: int, opts: dict[str, Any], threads: int | None,
                   precision: str) -> tuple[list[dict[str, Any]], str]:
        """The earlier folds: fold i is the series cut (i - 1) validation parts before the
        validation part begins, split as the whole was, with every candidate fitted on it
        again and scored on its last part (before the validation part, so before the test
        part too).  Returns ({"label", "from", "to", "targets", "preds", "true", "stats"}
        per fold, where each array covers the origins all its candidates share; why fewer
        than ``k``, or "")."""
        frame, data = self._frame, self._frame._data
        origin = frame.origins_and_targets("val")[0]
        start, width = int(origin[0]) + 1, len(origin)       # the first validation target
        test = opts["test"] if opts["test"] > 0 else opts["val"]  # each fold needs a last part
        combine = not self._no_combination(len(frame.target_idx))
        folds: list[dict[str, Any]] = []
        for i in range(1, k + 1):
            end = start - (i - 1) * width
            cut = Series(f"{data.name} to {data.times[end - 1]}", data.times[:end],
                         data.values[:end], data.columns)
            sub = AutoForecaster(self.config, self.hybrid_preset, recursive=self.recursive,
                                 mean=self.mean, stats=False, folds=0)
            try:
                sub.fit(cut, **{**opts, "test": test}, threads=threads, precision=precision)
            except ValueError as err:             # too short to split or to fit
                return folds, f"fold {i} (the first {end} rows) could not be fitted: {err}"
            missing = [n for n in self.candidates if n not in sub.candidates
                       and n in BASES]
            if missing:
                return folds, (f"fold {i} (the first {end} rows) could not fit "
                               f"{', '.join(missing)}: "
                               f"{sub.validation[missing[0]].get('skipped', 'not fitted')}")
            shared, common = _shared_predictions(sub.candidates, "test")
            fold = {"label": f"fold {i}", "preds": {n: p for n, (p, _) in shared.items()},
                    "true": next(iter(shared.values()))[1], "targets": len(common), "stats": {},
                    "from": str(data.times[common[0] + 1]),
                    "to": str(data.times[common[-1] + self.config.horizon])}
            if combine:
                cfg, y = self.config, data.values[:end, frame.target_idx[0]]
                found = sb.statistical_forecasts(
                    y, np.asarray(common), cfg.horizon, cfg.season,
                    [n for n, why in self._too_slow().items() if not why],
                    guard=True, fit_until=int(common[0]))
                fold["stats"] = {n: r["forecasts"][..., 0] for n, r in found.items()
                                 if "forecasts" in r}
            folds.append(fold)
        return folds, ""

    def _too_slow(self) -> dict[str, str]:
        """{statistical model: why it is left out of the combination, or ""}: --stats' rule
        for a seasonal AutoARIMA on a long history, applied to the longest history one would
        be fitted on (the whole series, for predict), so the folds and the validation part
        try the same models."""
        rows = len(self._frame._data.values)
        return {n: sb.too_slow(n, self.config.season, rows) for n in sb.AUTO_MODELS}

    @classmethod
    def among(cls, rnn: Forecaster, hybrid: HybridForecaster | None = None, *,
              mean: bool = True, stats: bool | str = "auto") -> AutoForecaster:
        """The choice ``fit`` makes, among models already fitted on the same split: ``rnn``
        (a direct Forecaster) and ``hybrid`` (fitted with ``split_rows`` matching the rnn's,
        so they forecast the same targets), their mean and the combined.  What the
        tutorials use to add "rnnkit auto" to a table without fitting the models again."""
        auto = cls(rnn.config, None, recursive=False, mean=mean, stats=stats)
        auto.candidates = {"rnn": rnn, **({"hybrid": hybrid} if hybrid is not None else {})}
        skipped = {} if hybrid is not None else {"hybrid": "not given"}
        auto._decide(rnn, skipped)
        combined = auto.candidates.get("combined")
        auto.fit_seconds = rnn.fit_seconds + (hybrid.fit_seconds if hybrid is not None else 0) \
            + (combined.stats_seconds if combined is not None else 0)
        return auto

    def _decide(self, frame: Forecaster, skipped: dict[str, str]) -> None:
        """After the candidates are fitted: add the mean, drop what cannot give the
        quantiles asked, choose on validation, then try the combined."""
        if not self.mean:
            skipped["mean"] = "not asked for (mean=False)"
        elif all(n in self.candidates for n in MEMBERS):      # nothing more to fit
            self.candidates["mean"] = MeanForecaster({n: self.candidates[n] for n in MEMBERS})
        else:
            skipped["mean"] = f"needs the hybrid, not fitted ({skipped['hybrid']})"
        if self.config.quantiles:         # only candidates that can give the intervals asked
            for name in ("hybrid", "mean"):
                why = _no_intervals(self.candidates.get(name), self.config.quantiles)
                if why:
                    del self.candidates[name]
                    skipped[name] = f"cannot give the quantiles asked: {why}"
        self._frame = frame
        common = self._choose(skipped)
        why = self._no_combination(len(frame.target_idx))
        if not why:
            why = self._combine(common)
        if why:
            self.validation["combined"] = {"skipped": why}

    def _no_combination(self, n_targets: int) -> str:
        """Why the combined candidate is not tried ("" when it is)."""
        if self.stats is False:
            return "not asked for (stats=False)"
        if not sb.available():
            return NOT_INSTALLED
        if n_targets > 1:
            return f"{n_targets} targets: the statistical models forecast one"
        return ""

    def _combine(self, common: set[int]) -> str:
        """Fit AutoARIMA, AutoETS and AutoTheta on the training rows, roll them through the
        validation origins the choice read, and average the best with the chosen candidate;
        keep that if more than TIE better.  Returns why it is left out ("" when scored)."""
        frame, kind, base = self._frame, self.choice.kind, self.chosen
        cfg, V = self.config, np.array(sorted(common))
        starts = [int(frame.origins_and_targets("val")[0][0])]   # the training rows' end
        if "test" in frame._data.parts:
            starts.append(int(frame.origins_and_targets("test")[0][0]))
        y = np.asarray(frame._data.values[:, frame.target_idx[0]], dtype=np.float64)
        slow = self._too_slow()
        found = sb.statistical_forecasts(y, V, cfg.horizon, cfg.season,
                                         [n for n in sb.AUTO_MODELS if not slow[n]],
                                         guard=True, fit_until=starts[0])
        found.update({n: {"skipped": why} for n, why in slow.items() if why})
        origin, pred, true = _predictions(base, "val")
        keep = np.isin(origin, V)
        origin, pred, true = origin[keep], pred[keep], true[keep]
        by_model = {n: rmse(r["forecasts"][..., 0], true) for n, r in found.items()
                    if "forecasts" in r}
        failed = {n: r.get("skipped") or r.get("error") for n, r in found.items()
                  if "forecasts" not in r}
        if not by_model:
            return "no statistical model could be fitted: " + "; ".join(
                f"{n} {why}" for n, why in failed.items())
        folds = self._earlier
        if folds:                   # the model best over the validation part and the folds
            shared = [n for n in by_model if all(n in f["stats"] for f in folds)]
            if not shared:
                return ("no statistical model could be fitted on every fold: "
                        + "; ".join(f"{f['label']}: {', '.join(f['stats']) or 'none'}"
                                    for f in folds))
            stat_rel = _relative_scores([{n: by_model[n] for n in shared}] + [
                {n: rmse(f["stats"][n], f["true"]) for n in shared} for f in folds])
            best = min(stat_rel, key=stat_rel.get)
        else:
            best = min(by_model, key=by_model.get)
        combined = CombinedForecaster(base, kind, best, cfg.season, y,
                                      frame.columns[frame.target_idx[0]], tuple(starts))
        combined.seed(starts[0], V, found[best]["forecasts"][..., 0])
        combined.note = found[best]["note"]
        combined.stats_seconds = sum(r["seconds"] for r in found.values() if "seconds" in r)
        p = (pred + combined.stats_at(origin)) / 2          # _predictions(combined, "val")
        p, t = p.reshape(len(V), cfg.horizon, 1), true.reshape(len(V), cfg.horizon, 1)
        members = base.members.values() if isinstance(base, MeanForecaster) else [base]
        combined.intervals = ErrorIntervals.from_forecasts(p, t, _relative(members, p), source=(
            f"the combined's {len(V)} validation forecasts"))
        if cfg.quantiles:
            why = _no_intervals(combined, cfg.quantiles)
            if why:
                return f"cannot give the quantiles asked: {why}"
        c, b = rmse(p, t), self.validation[kind]["rmse"]
        if folds:
            ratios = [_ratio(c, b)] + [
                _ratio(rmse((f["preds"][kind] + f["stats"][best]) / 2, f["true"]),
                       rmse(f["preds"][kind], f["true"])) for f in folds]
            g = float(np.exp(np.mean(np.log(ratios))))
            kept = g * (1 + TIE) < 1
            each = ", ".join(f"{100 * (r - 1):+.1f} %" for r in ratios)
            verdict = (f"{'kept' if kept else 'not kept'}: its RMSE is {100 * (g - 1):+.1f} % "
                       f"against {kind}'s over the validation part and {len(folds)} earlier "
                       f"folds (geometric mean of {each}; validation alone {c:.4g} against "
                       f"{b:.4g})" + ("" if kept else f", not more than {100 * TIE:g} % "
                                      f"lower, so {kind} stays"))
        else:
            kept = b > c * (1 + TIE)
            verdict = (f"kept: validation RMSE {c:.4g}, more than {100 * TIE:g} % below "
                       f"{kind}'s {b:.4g} ({100 * (c / b - 1):+.1f} %)" if kept else
                       f"not kept: validation RMSE {c:.4g} is not more than {100 * TIE:g} % "
                       f"below {kind}'s {b:.4g}"
                       + (f" ({100 * (c / b - 1):+.1f} %)" if b > 0 else "")
                       + f", so {kind} stays")
        self.candidates["combined"] = combined
        self.validation["combined"] = {
            "rmse": c, "mae": float(np.mean(np.abs(p - t))), "targets": len(V),
            "fit_seconds": combined.fit_seconds, "settings": _describe("combined", combined),
            "base": kind, "model": best,
            "stats_rmse": {**by_model, **{n: {"skipped": why} for n, why in failed.items()}},
            "verdict": verdict}
        if folds:
            self.validation["combined"]["stats_relative"] = stat_rel
        if kept:
            self.chosen = combined
            self.choice = Choice("combined", f"the mean of {kind} and {best} is {verdict} on "
                                 f"the same {len(V)} validation targets ({kind} was chosen "
                                 f"among the rnnkit candidates: {self.choice.reason})")
        else:
            self.choice = Choice(kind, f"{self.choice.reason}; the combined (mean of {kind} "
                                 f"and {best}) was not more than {100 * TIE:g} % better")
        return ""

    def _choose(self, skipped: dict[str, str]) -> set[int]:
        """Score every candidate on the validation origins they share; keep the best.
        Returns those origins."""
        scores, common = score(self.candidates, "val")
        times, k = self._frame._data.times, self.config.horizon
        self._val_span = {"targets": len(common), "from": str(times[min(common) + 1]),
                          "to": str(times[max(common) + k])}
        if self._fold_note:
            self._val_span["folds_note"] = self._fold_note
        if self._earlier:
            self._val_span["folds"] = [{key: f[key] for key in ("label", "from", "to",
                                                                 "targets")}
                                       for f in self._earlier]
            parts = [{n: s["rmse"] for n, s in scores.items()}] + [
                {n: rmse(f["preds"][n], f["true"]) for n in scores} for f in self._earlier]
            relative = _relative_scores(parts)
            for n, s in scores.items():
                s["fold_rmse"], s["relative"] = [p[n] for p in parts[1:]], relative[n]
            best = pick({n: {"rmse": r} for n, r in relative.items()})
            reason = _fold_reason(best, relative, scores, len(common), len(self._earlier))
        else:
            best = pick(scores)
            reason = _reason(best, scores, len(common))
        self.chosen = self.candidates[best]
        self.validation = {**scores, **{n: {"skipped": why} for n, why in skipped.items()}}
        self.choice = Choice(best, reason)
        return common

    # ------------------------------------------------------------------ delegation
    def _require(self) -> Forecaster | HybridForecaster | MeanForecaster:
        if self.chosen is None:
            raise ValueError("this AutoForecaster is not fitted yet: call fit() or load()")
        return self.chosen

    @property
    def kind(self) -> str:
        """The chosen candidate's name: "rnn", "recursive", "hybrid", "mean" or
        "combined"."""
        self._require()
        return self.choice.kind

    @property
    def history(self) -> dict[str, list[float]]:
        return self._require().history

    def record(self) -> dict[str, Any]:
        """What was chosen and why, with every candidate's validation score (JSON-ready)."""
        self._require()
        return {"kind": self.choice.kind, "reason": self.choice.reason, "rule": RULE,
                "validation": self.validation, "validation_part": self._val_span}

    def predict(self, steps: int | None = None, series: Any = None,
                quantiles: Any = False) -> np.ndarray:
        """The chosen model's forecast of ``steps`` values after the data (or ``series``):
        (steps, number of targets).  ``quantiles`` (True, or levels) returns (steps, number
        of targets, levels): the rnn's trained levels (``Forecaster.predict``), or the
        hybrid's, the mean's or the combined's from their validation errors, where True
        means the levels this AutoForecaster was given (0.1, 0.5, 0.9 when none were)."""
        model = self._require()
        if isinstance(model, Forecaster):
            return model.predict(steps, series, quantiles)
        if quantiles is True:
            quantiles = self.config.quantiles or DEFAULT_LEVELS
        return model.predict(steps, series, quantiles)

    def origins_and_targets(self, part: str = "test") -> tuple[np.ndarray, np.ndarray]:
        """What ``evaluate(part)`` scores, as ``Forecaster.origins_and_targets``."""
        self._require()
        return self._frame.origins_and_targets(part)

    def evaluate(self, part: str = "test", *, stats: Any = False, backtest: int | None = None,
                 refit: bool = False) -> dict[str, Any]:
        """The chosen model's scores on ``part`` as ``Forecaster.evaluate`` gives them (naive
        and statistical baselines on the same targets), and "auto": ``record()``."""
        model = self._data_fit()
        if isinstance(model, Forecaster):
            return {**model.evaluate(part, stats=stats, backtest=backtest, refit=refit),
                    "auto": self._part_record(part)}
        frame = self._frame
        result = frame.evaluate(part)                       # baselines on the same targets
        origin, y = frame.origins_and_targets(part)
        forecasts: dict[str, np.ndarray] = {}
        if stats is not False and stats is not None:
            result["stats"], forecasts = frame._stats(origin, y, stats)
        if isinstance(model, CombinedForecaster) and model.model in forecasts:
            model.seed(int(origin[0]), origin, forecasts[model.model][..., 0])   # the table's
        pred = _forecast_at(model, frame, origin)
        for key in ("rmse_scaled", "mae_scaled", "rmse_by_step", "quantiles", "pinball",
                    "coverage", "coverage_without_rolling", "intervals"):   # the rnn's
            result.pop(key, None)
        result.update(point_metrics(pred, y))
        if self.config.quantiles:
            result.update(model.intervals.part_scores(pred, y, origin, self.config.quantiles,
                                                      part))
        if frame.config.horizon > 1:
            result["rmse_by_step"] = [rmse(pred[:, j], y[:, j])
                                      for j in range(frame.config.horizon)]
        if backtest is not None:
            result["backtest"] = bt = self._backtest(backtest, refit, part)
            if forecasts:
                for fold, idx in zip(bt["folds"], _folds(len(origin), backtest)):
                    fold["stats_rmse"] = {n: rmse(f[idx], y[idx]) for n, f in forecasts.items()}
        result["auto"] = self._part_record(part)
        return result

    def _roll_to_end(self, part: str) -> None:
        """The chosen model's intervals continued to the end of ``part``, every target of it
        observed: the last n of its validation and ``part`` errors (a Forecaster: its
        ``roll_to_end``), so that ``future`` and a saved model band as the rolling rule
        would at the next origin (``tasks/intervals.py``).  ``report`` calls it."""
        model = self._data_fit()
        if isinstance(model, Forecaster):
            model.roll_to_end(part)
            return
        if part == "val" or model.intervals is None:
            return
        origin, y = self._frame.origins_and_targets(part)
        model.intervals = model.intervals.extended(_forecast_at(model, self._frame, origin), y,
                                                   f"{part} forecasts")

    def _part_record(self, part: str) -> dict[str, Any]:
        """``record()`` and, for a part other than validation, every fitted candidate's
        RMSE and MAE there: scored after the choice, which never reads them."""
        rec = self.record()
        if part != "val" and len(self.candidates) > 1:
            origin, _ = self._frame.origins_and_targets(part)
            rec["scores_on_" + part] = {}
            for name, m in self.candidates.items():
                o, pred, true = _predictions(m, part)
                keep = np.isin(o, origin)
                rec["scores_on_" + part][name] = {
                    "rmse": rmse(pred[keep], true[keep]),
                    "mae": float(np.mean(np.abs(pred[keep] - true[keep])))}
        return rec

    def _data_fit(self) -> Forecaster | HybridForecaster | MeanForecaster:
        model = self._require()
        if self._frame is None or self._frame._data is None:
            raise ValueError("evaluate() and report() need the data of a fit() in this session")
        return model

    def _refit(self, model: Any, origin: int) -> Forecaster | HybridForecaster | MeanForecaster:
        """``model`` fitted again, with the settings, seed and validation fraction of this
        fit, on rows 0..origin alone (a mean: each member so)."""
        if isinstance(model, MeanForecaster):
            return MeanForecaster({n: self._refit(m, origin) for n, m in model.members.items()})
        if isinstance(model, CombinedForecaster):
            return model.refitted(self._refit(model.base, origin), origin)
        if isinstance(model, Forecaster):
            return model._refit_until(origin)
        spec, opts = self.hybrid_preset, self._options
        if spec is None:
            raise ValueError("refitting the hybrid needs its preset: backtest(refit=True) "
                             "works on an AutoForecaster that fit() trained, not among()'s")
        h, rows = HybridForecaster(model.config), slice(0, origin + 1)
        named = Series("refit", self._frame._data.times[rows], model.series[rows],
                       (model.column,))              # the target by the name it was fitted on
        h.fit(named, epochs=spec.epochs, batch_size=spec.batch_size,
              val=opts["val"], test=0.0, patience=spec.patience, seed=opts["seed"], verbose=0,
              threads=opts.get("threads"))
        return h

    def _backtest(self, origins: Any, refit: bool, part: str) -> dict[str, Any]:
        """``Forecaster.backtest`` for the chosen hybrid or mean: the same folds and fields."""
        frame, chosen = self._frame, self.chosen
        origin, y = frame.origins_and_targets(part)
        if isinstance(origins, bool) or not isinstance(origins, (int, np.integer)) \
                or not 1 <= origins <= len(origin):
            raise ValueError(f"backtest must be an int from 1 to the {part} part's "
                             f"{len(origin)} windows, got {origins!r}")
        if not isinstance(refit, (bool, np.bool_)):
            raise TypeError(f"refit must be True or False, got {refit!r}")
        times, K = frame._data.times, frame.config.horizon
        last = frame._data.values[:, frame.target_idx]
        levels = self.config.quantiles if chosen.intervals is not None else None
        part_bands = None
        if levels and not refit:          # the part's bands, as evaluate scores them
            part_bands = chosen.intervals.part_bands(_forecast_at(chosen, frame, origin), y,
                                                     origin, levels, part)[0]
        folds, preds, bands = [], [], []
        for idx in _folds(len(origin), int(origins)):
            o, seconds, model = int(origin[idx[0]]), 0.0, chosen
            if refit:                 # fitted, as the chosen one was, on rows 0..o alone
                model = self._refit(chosen, o)
                seconds = model.fit_seconds
            pred = _forecast_at(model, frame, origin[idx])
            preds.append(pred)
            naive = np.repeat(last[origin[idx]][:, None, :], K, axis=1)
            folds.append({"origin": str(times[o]), "from": str(times[o + 1]),
                          "to": str(times[int(origin[idx[-1]]) + K]), "windows": len(idx),
                          **point_metrics(pred, y[idx]), "naive_rmse": rmse(naive, y[idx]),
                          "forecast": pred[0, :, 0].tolist(), "fit_seconds": seconds})
            if levels and (not refit or model.intervals is not None):
                bands.append(model.intervals.bands(pred, levels) if refit else part_bands[idx])
                folds[-1].update(fold_intervals(bands[-1], y[idx], levels))
        return backtest_result(part, origins, refit, folds, preds, y, bands, levels)

    # ------------------------------------------------------------------ report
    def future(self, steps: int) -> dict[str, Any]:
        """``Forecaster.future`` for the chosen model: {"steps", "after", "times", "values"},
        and with quantiles "intervals" over the first horizon steps."""
        model = self._data_fit()
        if isinstance(model, Forecaster):
            return model.future(steps)
        data, col = self._frame._data, self._frame.columns[self._frame.target_idx[0]]
        values = model.predict(steps)[:, 0]
        out = {"steps": int(steps), "after": str(data.times[-1]),
               "times": future_times(data.times, steps), "values": {col: values.tolist()}}
        qs = self.config.quantiles
        if qs:          # the first `horizon` steps, which the validation errors reach
            q = model.predict(min(steps, self.config.horizon), quantiles=qs)[:, 0]  # (s, Q)
            out["intervals"] = {col: {str(c): {"lower": q[:, i].tolist(),
                                               "upper": q[:, j].tolist()}
                                      for i, j, c in interval_pairs(qs)}}
            out["intervals_how"] = model.intervals.describe()
        return out

    def default_future(self) -> int:
        """As ``Forecaster.default_future``, for the rnn's settings."""
        self._data_fit()
        return self._frame.default_future()

    def report(self, out_dir: str | Path, future: int | None = None,
               extra: dict[str, Any] | None = None, label: str = "", *, stats: Any = False,
               backtest: int | None = None, refit: bool = False) -> dict[str, Any]:
        """``Forecaster.report`` for the chosen model (metrics.json, forecast.png,
        training.png), with "auto": ``record()`` in metrics.json and in each part."""
        from ..plots.forecast import plot_forecast, plot_training
        model = self._data_fit()
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        rnn = isinstance(model, Forecaster)
        combined = isinstance(model, CombinedForecaster)
        inner = model.base if combined else model        # the rnnkit model a combined averages
        mean = isinstance(inner, MeanForecaster)
        step = getattr(inner, "training_step", None)
        config = ({n: asdict(m.config) for n, m in inner.members.items()} if mean
                  else asdict(inner.config))
        if combined:
            config = {"combined": {"base": model.base_kind, "base_config": config,
                                   "stats_model": model.model, "season": model.season}}
        metrics = {"config": config,
                   "kind": self.choice.kind,
                   "fit_seconds": model.fit_seconds, "auto_fit_seconds": self.fit_seconds,
                   "training_step": step._asdict() if step is not None else None,
                   "epochs_run": ({n: len(m.history.get("loss", []))
                                   for n, m in inner.members.items()} if mean
                                  else len(inner.history.get("loss", [])))}
        held = [p for p in ("val", "test") if p in self._frame._data.parts]
        for part in held:
            last = part == held[-1]
            metrics[part] = self.evaluate(part, stats=stats if last else False,
                                          backtest=backtest if last else None, refit=refit)
        if held and self.config.quantiles:
            self._roll_to_end(held[-1])     # the bands after the data: the last n errors
        metrics["future"] = ahead = self.future(future or self.default_future())
        drawn = plot_forecast(out / "forecast.png", model if rnn else _ChosenView(self), ahead,
                              label=label)
        metrics["plot"] = {"file": "forecast.png", **drawn}
        metrics["auto"] = self.record()
        metrics.update(extra or {})
        if mean:                      # the curve of the rnn, the member fitted with Trainer
            curve, loss = inner.members["rnn"].history, "MSE of the mean's rnn member"
        else:
            curve = inner.history
            loss = ("pinball loss" if inner.config.quantiles else "MSE") \
                if isinstance(inner, Forecaster) else f"{inner.config.loss.upper()}, normalised"
        plot_training(out / "training.png", curve, loss)
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
        return metrics

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> None:
        """The chosen model's folder (``Forecaster.save`` or ``HybridForecaster.save``) and
        auto.json: the choice and every candidate's validation score.  A chosen mean saves
        each member in its own subfolder (rnn/, hybrid/) and nothing else beside auto.json,
        so no tool mistakes the folder for one of its members.  A chosen combined saves its
        rnnkit model so (rnn/ for the rnn or recursive, hybrid/, or both for a mean) and the
        target series in combined.safetensors: the statistical model is fitted again when
        first needed after load, never pickled.

        The new folder is written beside ``path`` first and then takes its place, so a save
        that fails or is interrupted leaves the earlier folder as it was, and the folder
        never mixes two saves.  A folder holding files none of these models writes is
        refused (nothing is deleted that rnnkit did not write)."""
        model = self._require()

        def write(fresh: Path) -> None:
            if isinstance(model, MeanForecaster):
                fresh.mkdir()
                for name, member in model.members.items():
                    _save_member(member, fresh / name)
            elif isinstance(model, CombinedForecaster):
                fresh.mkdir()
                model.save(fresh)
            else:
                _save_member(model, fresh)
            rec = {**self.record(), "quantiles": list(self.config.quantiles or [])}
            if isinstance(model, MeanForecaster) and model.intervals is not None:
                rec["mean_intervals"] = model.intervals.to_dict()   # nowhere else to keep them
            if isinstance(model, CombinedForecaster):
                rec["combined"] = model.to_dict()
            (fresh / AUTO_FILE).write_text(json.dumps(rec, indent=2))

        replace_folder(path, write, "an AutoForecaster")

    @classmethod
    def load(cls, path: str | Path) -> AutoForecaster:
        """A saved AutoForecaster: its chosen model and record (predict works; evaluate
        and report need the data of a fit)."""
        from ..io import read_json
        path = Path(path)
        if not (path / AUTO_FILE).is_file():
            raise ValueError(f"{path} is not a saved AutoForecaster: {AUTO_FILE} is missing")
        rec = read_json(path / AUTO_FILE, "auto forecaster choice (JSON)")
        if not isinstance(rec, dict) or rec.get("kind") not in KINDS:
            raise ValueError(f"{path / AUTO_FILE} is not a valid choice record: its kind must "
                             f"be one of {', '.join(KINDS)}")
        if rec["kind"] == "mean":
            try:
                saved = rec.get("mean_intervals")
                intervals = ErrorIntervals.from_dict(saved) if saved is not None else None
            except (TypeError, ValueError) as err:
                raise ValueError(f"{path / AUTO_FILE}: mean_intervals is not valid ({err})"
                                 ) from None
            model = MeanForecaster({n: _load_member(path / n) for n in MEMBERS}, intervals)
            if intervals is None:
                model.no_intervals = (f"{path / AUTO_FILE} holds no validation errors of the "
                                      "mean (saved before rnnkit kept them); fit it again to "
                                      "get intervals")
            config = model.members["rnn"].config
        elif rec["kind"] == "combined":
            model = CombinedForecaster.load(path, rec.get("combined"))
            base = model.base.members["rnn"] if isinstance(model.base, MeanForecaster) \
                else model.base
            config = base.config if isinstance(base, Forecaster) else ForecastConfig()
        else:
            model = HybridForecaster.load(path) if rec["kind"] == "hybrid" \
                else Forecaster.load(path)
            config = model.config if isinstance(model, Forecaster) else ForecastConfig()
        if not config.quantiles and rec.get("quantiles"):     # the levels a hybrid reports
            config = replace(config, quantiles=tuple(rec["quantiles"]))
        auto = cls(replace(config, strategy="direct"))
        auto.chosen, auto.candidates = model, {rec["kind"]: model}
        auto.choice = Choice(rec["kind"], str(rec.get("reason", "")))
        auto.validation = dict(rec.get("validation", {}))
        auto._val_span = dict(rec.get("validation_part", {}))
        return auto


# ---------------------------------------------------------------------- helpers
def _hybrid_from(model: HybridForecaster, y: np.ndarray, origin: np.ndarray) -> np.ndarray:
    """``model``'s forecasts (M, K, 1) at each origin of the series y (which starts where
    the model's own series did)."""
    return model._forecast(y, np.asarray(origin))[..., None]


def _forecast_at(model: Any, frame: Forecaster, origin: np.ndarray) -> np.ndarray:
    """Any candidate's forecasts (M, K, nt) at the origin rows of the data of ``frame``'s
    fit (each reading rows up to its origin only; a model refitted on fewer rows too)."""
    if isinstance(model, MeanForecaster):
        return np.mean([_forecast_at(m, frame, origin) for m in model.members.values()], axis=0)
    if isinstance(model, CombinedForecaster):
        return (_forecast_at(model.base, frame, origin) + model.stats_at(origin)[..., None]) / 2
    values = frame._data.values
    if isinstance(model, HybridForecaster):       # the target column: the hybrid's series
        return _hybrid_from(model, values[:, frame.target_idx[0]], origin)
    need = model._context_rows()
    return model.predict_windows(np.stack([values[o - need + 1:o + 1] for o in origin]))


def _predictions(model: Any, part: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(origins (M,), forecasts (M, K·nt), targets (M, K·nt)) of a part, original units;
    a mean's on the origins all its members forecast, a combined's on its base's."""
    if isinstance(model, CombinedForecaster):
        origin, pred, true = _predictions(model.base, part)
        return origin, (pred + model.stats_at(origin)) / 2, true
    if isinstance(model, MeanForecaster):
        found = [_predictions(m, part) for m in model.members.values()]
        common = sorted(set.intersection(*(set(o.tolist()) for o, _, _ in found)))
        picked = [(pred[np.isin(o, common)], true[np.isin(o, common)])
                  for o, pred, true in found]
        return (np.asarray(common), np.mean([p for p, _ in picked], axis=0), picked[0][1])
    if isinstance(model, HybridForecaster):
        origin = model.origins(part)
        return origin, model._forecast(model.series, origin), model.targets(part)
    origin, y = model.origins_and_targets(part)
    data, need = model._data, model._context_rows()
    windows = np.stack([data.values[o - need + 1:o + 1] for o in origin])
    pred = model.predict_windows(windows)
    return origin, pred.reshape(len(origin), -1), y.reshape(len(origin), -1)


def _relative(members: Any, pred: np.ndarray) -> bool:
    """Whether an average of ``members`` takes relative errors for its intervals: when one
    is a multiplicative hybrid (its swings scale with the level) and every forecast is > 0."""
    return any(isinstance(m, HybridForecaster) and m.multiplicative for m in members) \
        and bool((pred > 0).all())


def _no_intervals(model: Any, levels: tuple[float, ...]) -> str:
    """Why a fitted hybrid or mean cannot give quantiles at ``levels`` ("" when it can, or
    when it is not there)."""
    if model is None:
        return ""
    if model.intervals is None:
        return model.no_intervals
    try:
        model.intervals.check(levels)
    except ValueError as err:
        return str(err)
    return ""


def replace_folder(path: Any, write: Any, who: str = "rnnkit") -> None:
    """Write a model folder at ``path`` by ``write(fresh)`` into a new folder beside it, then
    swap it in: a save that fails or is interrupted leaves the earlier folder as it was, and
    the folder never mixes two saves (an AutoForecaster's auto.json beside a later plain
    Forecaster's files, say).  A file at ``path``, or a folder holding files that no
    Forecaster, hybrid or AutoForecaster save writes, is refused: nothing is deleted that
    rnnkit did not write.  ``rnnkit forecast`` saves its model/ folder so."""
    from ..saving import checked_path
    path = checked_path(path, "save")
    if os.path.lexists(path) and not path.is_dir():
        raise ValueError(f"{path} is a file, not a model folder; choose a folder path "
                         "(rnnkit does not replace files it did not write)")
    foreign = _foreign_files(path) if path.is_dir() else []
    if foreign:
        raise ValueError(f"{path} holds files {who} did not write ({', '.join(foreign)}); "
                         "save into a new or empty folder")
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = path.parent / f".{path.name}.saving-{os.getpid()}"
    shutil.rmtree(fresh, ignore_errors=True)
    try:
        write(fresh)
    except BaseException:
        shutil.rmtree(fresh, ignore_errors=True)
        raise
    old = path.parent / f".{path.name}.replaced-{os.getpid()}"
    if path.is_dir():
        os.replace(path, old)
    os.replace(fresh, path)
    shutil.rmtree(old, ignore_errors=True)


def saved_kind(path: Path) -> str | None:
    """The kind ("rnn", "recursive", "hybrid", "mean" or "combined") recorded in the
    auto.json of the folder ``path``, or None when it holds no valid one."""
    try:
        rec = json.loads((path / AUTO_FILE).read_text())
    except (OSError, ValueError):
        return None
    return rec.get("kind") if isinstance(rec, dict) and rec.get("kind") in KINDS else None


def _load_member(path: Path) -> Forecaster | HybridForecaster:
    """A mean's member folder, by its name: rnn/ a Forecaster's, hybrid/ a HybridForecaster's."""
    return HybridForecaster.load(path) if path.name == "hybrid" else Forecaster.load(path)


def _save_member(model: Forecaster | HybridForecaster, path: Path) -> None:
    if isinstance(model, Forecaster):
        model.save(path)
    else:
        model.save(path, overwrite=True)


# what the kinds of saved folder hold: a Forecaster's (config.json, weights,
# forecaster.json), a HybridForecaster's (also hybrid.json, smoothing), a mean's (rnn/ and
# hybrid/, each one of those), a combined's (those subfolders and combined.safetensors), and
# auto.json
_WRITTEN = {AUTO_FILE, "config.json", "weights.safetensors", "forecaster.json", "hybrid.json",
            SMOOTHING_FILE, COMBINED_FILE}


def _foreign_files(path: Path, members: bool = True) -> list[str]:
    """Names in ``path`` (and in its member subfolders) that no AutoForecaster save writes."""
    out = []
    for p in sorted(path.iterdir()):
        if members and p.name in MEMBERS and p.is_dir():
            out += [f"{p.name}/{n}" for n in _foreign_files(p, members=False)]
        elif p.name not in _WRITTEN or not p.is_file():
            out.append(p.name)
    return out


def _describe(name: str, model: Any) -> str:
    if isinstance(model, CombinedForecaster):
        return model.describe()
    if isinstance(model, MeanForecaster):
        who = " and ".join(f"the {n}'s" for n in model.members)
        return f"the mean of {who} forecasts (nothing more fitted)"
    cfg = model.config
    if isinstance(model, HybridForecaster):
        season = f"season {cfg.season}" if cfg.period else "no season"
        how = "multiplicative" if model.multiplicative else "additive"
        return (f"ES-RNN hybrid: {cfg.cell.upper()}({cfg.units}), window {cfg.window}, "
                f"{season}" + (f" ({how})" if cfg.period else ""))
    return (f"{cfg.cell.upper()}({cfg.units}) x{cfg.layers}, window {cfg.window}, "
            f"{cfg.strategy}" + (", differenced" if cfg.difference else ""))


def score(candidates: dict[str, Any], part: str = "val"
          ) -> tuple[dict[str, dict[str, Any]], set[int]]:
    """Every fitted candidate's RMSE and MAE on ``part`` ("val" or "test"), in original
    units, on the origins they all forecast: ({name: scores}, those origins)."""
    shared, common = _shared_predictions(candidates, part)
    scores = {}
    for name, (pred, true) in shared.items():
        m = candidates[name]
        scores[name] = {"rmse": rmse(pred, true), "mae": float(np.mean(np.abs(pred - true))),
                        "targets": len(true), "fit_seconds": m.fit_seconds,
                        "settings": _describe(name, m)}
    return scores, set(common)


def _shared_predictions(candidates: dict[str, Any], part: str
                        ) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], list[int]]:
    """Every candidate's (forecasts, targets) on ``part``, original units, restricted to the
    origins they all forecast: ({name: (pred, true)}, those origins, sorted)."""
    preds = {name: _predictions(m, part) for name, m in candidates.items()}
    common = sorted(set.intersection(*(set(p[0].tolist()) for p in preds.values())))
    if not common:
        raise ValueError(f"the candidates share no {part} origin to compare them on: "
                         f"{', '.join(f'{n} {p[0][0]}..{p[0][-1]}' for n, p in preds.items())}")
    return {name: (pred[np.isin(origin, common)], true[np.isin(origin, common)])
            for name, (origin, pred, true) in preds.items()}, common


def pick(scores: dict[str, dict[str, Any]]) -> str:
    """The candidate kept: the first listed (the simplest) whose validation RMSE is within
    ``TIE`` of the lowest."""
    lowest = min(s["rmse"] for s in scores.values())
    return next(n for n in scores if scores[n]["rmse"] <= lowest * (1 + TIE))


def _reason(best: str, scores: dict[str, dict[str, Any]], targets: int) -> str:
    """"lowest validation RMSE: 18.4 against rnn 47.6 (+159 %) on the same 21 targets", or
    why a simpler candidate within ``TIE`` of the lowest was kept."""
    b = scores[best]["rmse"]
    lowest = min(scores, key=lambda n: scores[n]["rmse"])
    if lowest != best:
        lo = scores[lowest]["rmse"]
        return (f"validation RMSE {b:.4g}, within {100 * TIE:.0f} % of {lowest}'s {lo:.4g} "
                f"(+{100 * (b / lo - 1):.2f} %) on the same {targets} targets: a tie, so the "
                "simpler model is kept")
    others = [f"{n} {s['rmse']:.4g}" + (f" (+{100 * (s['rmse'] / b - 1):.0f} %)" if b > 0
                                        else "")
              for n, s in scores.items() if n != best]
    if not others:
        return f"the only candidate fitted (validation RMSE {b:.4g} on {targets} targets)"
    return (f"lowest validation RMSE: {b:.4g} against {', '.join(others)} on the same "
            f"{targets} targets")


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else 1.0


def _relative_scores(parts: list[dict[str, float]]) -> dict[str, float]:
    """Each name's RMSE over the lowest on each part (1 for the best there), combined over
    the parts as a geometric mean: a part with larger errors weighs no more than another."""
    logs: dict[str, list[float]] = {n: [] for n in parts[0]}
    for part in parts:
        lowest = min(part.values())
        for n in logs:
            logs[n].append(math.log(_ratio(part[n], lowest)) if lowest > 0
                           else 0.0 if part[n] == 0 else math.inf)
    return {n: float(math.exp(np.mean(v))) for n, v in logs.items()}


def _fold_reason(best: str, relative: dict[str, float], scores: dict[str, dict[str, Any]],
                 targets: int, folds: int) -> str:
    """Why ``best`` was kept when the choice read earlier folds too."""
    lowest = min(relative, key=relative.get)
    if len(relative) == 1:
        head = "the only candidate fitted"
    elif lowest != best:
        head = (f"relative RMSE {relative[best]:.3f}, within {100 * TIE:.0f} % of {lowest}'s "
                f"{relative[lowest]:.3f}: a tie, so the simpler model is kept")
    else:
        head = f"lowest relative RMSE: {relative[best]:.3f} against " + ", ".join(
            f"{n} {r:.3f}" for n, r in relative.items() if n != best)
    alone = ", ".join(f"{n} {s['rmse']:.4g}" for n, s in scores.items())
    return (f"{head} (each candidate's RMSE over the best one's on the validation part and "
            f"on {folds} earlier folds, as a geometric mean; validation RMSE alone: {alone} "
            f"on {targets} targets)")


class _ChosenView:
    """What ``plot_forecast`` reads from a Forecaster, for a chosen hybrid or mean: the rnn's
    data and parts, the chosen model's one-step predictions."""

    def __init__(self, auto: AutoForecaster):
        frame, model = auto._frame, auto.chosen
        self._data, self.columns = frame._data, frame.columns
        self.target_idx, self.conformal = frame.target_idx[:1], {}
        errors = getattr(model, "intervals", None)                             # the band
        self.interval_how = (f"from the {auto.choice.kind}'s last {len(errors.errors)} "
                             "validation and test errors" if errors is not None
                             and errors.through else
                             f"from the {auto.choice.kind}'s validation errors")
        combined = isinstance(model, CombinedForecaster)
        inner = model.base if combined else model
        members = inner.members.values() if isinstance(inner, MeanForecaster) else [inner]
        cfg = inner.members["hybrid"].config if isinstance(inner, MeanForecaster) \
            else inner.config
        rnn = frame.config
        cell = (f"mean of {rnn.cell}({rnn.units}) and ES-RNN hybrid, {cfg.cell}"
                if isinstance(inner, MeanForecaster) else f"ES-RNN hybrid, {cfg.cell}"
                if isinstance(inner, HybridForecaster) else cfg.cell)
        if combined:
            cell = f"mean of {model.model} and {cell}"     # the title appends "(units)"
        self.config = SimpleNamespace(cell=cell, units=cfg.units, layers=1,
                                      window=frame.config.window,
                                      difference=frame.config.difference,
                                      horizon=frame.config.horizon, strategy="chosen by auto")
        # the first origin every member can forecast from (a combined's statistical model:
        # from the end of the training rows, where it was fitted)
        self._first = max(m._context_rows() if isinstance(m, Forecaster) else m.config.window
                          for m in members) - 1
        if combined:
            self._first = max(self._first, model.starts[0])
        self._frame, self._model = frame, model

    def one_step_predictions(self) -> tuple[np.ndarray, np.ndarray]:
        origin = np.arange(self._first, len(self._data.values) - 1)
        first = _forecast_at(self._model, self._frame, origin)[:, 0, :1]     # (M, 1)
        return origin + 1, first
