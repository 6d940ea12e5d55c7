"""``strategy="auto"``: fit the candidates, keep the one with the lowest validation RMSE.

The candidates (``AutoForecaster.candidates`` after ``fit``):
    rnn         the Forecaster as configured (a preset's settings, strategy "direct")
    recursive   the same network with strategy="recursive", only at horizon K > 1 with
                every input column a target (at K = 1 the two are one model)
    hybrid      the ES-RNN HybridForecaster (``tasks/hybrid.py``) on the first target; left
                out for several targets (it forecasts one)
    mean        the average of the rnn's and the hybrid's forecasts, in original units
                (``MeanForecaster``); nothing more is fitted, so it is there whenever both are

With quantiles (``ForecastConfig(quantiles=...)``) the rnn is the quantile Forecaster (its
median is its point forecast), and the hybrid and the mean, which forecast one point per
step, get their quantiles from their own validation errors (``tasks/intervals.py``).  The
choice still reads the point forecasts' validation RMSE; the chosen model's intervals are
then reported, whichever it is.

Each is trained with early stopping on the validation part, then scored there in original
units on the origins all candidates share.  The lowest RMSE wins, unless a candidate listed
before it is within ``TIE`` (1 %) of it: then the first such one, the simpler model, is
kept (the RNN predicts in milliseconds, exports to ONNX and serves sessions; the hybrid
and the mean serve /forecast only), since a difference that small on one validation part is not
evidence.  The choice is a ``Choice(kind, reason)`` and every candidate's validation score
is kept beside it (``evaluate``, ``report`` and the CLI print them).

Why a mean: the rnn and the hybrid make different errors (one models the scaled or
differenced window, the other what exponential smoothing leaves of it), and an average of
forecasts with different errors is often better than either.  Combinations were among
the most accurate entries of the M4 competition (Makridakis et al. 2020, IJF 36(1)), and
Smyl's winning ES-RNN itself averaged several networks' forecasts.

Nothing fitted or scored before the choice reads the test part's values: the scalers and
the smoothing start on training rows, early stopping and the choice read validation rows.
The one fact taken from the whole series is the hybrid's "every value > 0" (multiplicative
or additive seasonality, ``HybridConfig.seasonality="auto"``), a property of the kind of
data rather than a fitted number.  ``tests/tasks/test_forecast_auto.py`` replaces the test
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

from ..types import Choice
from .forecast import (
    ForecastConfig,
    Forecaster,
    _folds,
    _metrics,
    _rmse,
    future_times,
    interval_pairs,
)
from .hybrid import SMOOTHING_FILE, HybridForecaster, HybridPreset
from .intervals import DEFAULT_LEVELS, ErrorIntervals, check_levels, interval_scores

__all__ = ["AutoForecaster", "MeanForecaster", "AUTO_FILE", "KINDS", "MEMBERS", "saved_kind",
           "score", "pick"]

TIE = 0.01    # a candidate listed earlier (simpler) is kept within 1 % of the lowest RMSE

KINDS = ("rnn", "recursive", "hybrid", "mean")
MEMBERS = ("rnn", "hybrid")          # what the mean averages; saved in these subfolders
AUTO_FILE = "auto.json"
RULE = ("the lowest RMSE on the validation part, in original units, on the same targets; "
        f"within {100 * TIE:g} % of it, the simpler candidate (rnn before recursive before "
        "hybrid before mean)")


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
        relative = any(isinstance(m, HybridForecaster) and m.multiplicative
                       for m in self.members.values()) and bool((pred > 0).all())
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
            levels = check_levels(quantiles)
            if self.intervals is None:
                raise ValueError(f"this mean has no prediction intervals: {self.no_intervals}")
            self.intervals.check(levels)
            k = self.config_horizon
            if isinstance(steps, int) and not isinstance(steps, bool) and steps > k:
                raise ValueError(f"quantiles reach horizon={k} steps at most (the validation "
                                 f"errors are per step ahead), got steps={steps}")
            return self.intervals.bands(self.predict(steps, series), levels)
        return np.mean([m.predict(steps, series) for m in self.members.values()], axis=0)


class AutoForecaster:
    """Fit an RNN Forecaster and the ES-RNN hybrid; keep the one, or their mean, that
    forecasts the validation part best.  The API of ``Forecaster``: fit, predict, evaluate,
    report, save, load.

    Args:
        rnn: the Forecaster's settings (its strategy must be "direct").
        hybrid: the hybrid's settings and training (``hybrid_preset``), or None for none.
        recursive: also try strategy="recursive" when it differs from direct (K > 1).
        mean: also try the average of the rnn's and the hybrid's forecasts.

    Example:
        >>> import numpy as np
        >>> from rnnkit.tasks.hybrid import HybridConfig
        >>> t = np.arange(160.0)
        >>> y = 10 + t / 20 + np.sin(2 * np.pi * t / 12)
        >>> hybrid = HybridPreset(HybridConfig(units=4, window=12, season=12), epochs=2)
        >>> auto = AutoForecaster(ForecastConfig(cell="gru", units=4, window=12), hybrid)
        >>> _ = auto.fit(y, epochs=2, verbose=0)
        >>> auto.choice.kind in ("rnn", "hybrid", "mean"), sorted(auto.validation)
        (True, ['hybrid', 'mean', 'recursive', 'rnn'])
        >>> auto.validation["recursive"]
        {'skipped': 'horizon 1: the same model as direct'}
        >>> auto.predict(steps=3).shape
        (3, 1)
    """

    def __init__(self, rnn: ForecastConfig | None = None, hybrid: HybridPreset | None = None,
                 *, recursive: bool = True, mean: bool = True):
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
        self.config, self.hybrid_preset, self.recursive = rnn, hybrid, recursive
        self.mean = mean
        self.candidates: dict[str, Forecaster | HybridForecaster | MeanForecaster] = {}
        self.validation: dict[str, dict[str, Any]] = {}    # name -> score, or {"skipped": why}
        self.choice: Choice | None = None
        self.chosen: Forecaster | HybridForecaster | MeanForecaster | None = None
        self.fit_seconds = math.nan                         # every candidate's fit
        self._frame: Forecaster | None = None               # the rnn: data, parts, targets
        self._options: dict[str, Any] = {}                  # what fit() ran with (backtest)
        self._val_span: dict[str, Any] = {}                 # the targets the choice read

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
        self.fit_seconds = time.perf_counter() - t0
        self._frame, self._options = frame, {"val": val, "seed": seed, "threads": threads}
        self._choose(skipped)
        return self.validation

    def _choose(self, skipped: dict[str, str]) -> None:
        """Score every candidate on the validation origins they share; keep the best."""
        scores, common = score(self.candidates, "val")
        best = pick(scores)
        self.chosen = self.candidates[best]
        times, k = self._frame._data.times, self.config.horizon
        self._val_span = {"targets": len(common), "from": str(times[min(common) + 1]),
                          "to": str(times[max(common) + k])}
        self.validation = {**scores, **{n: {"skipped": why} for n, why in skipped.items()}}
        self.choice = Choice(best, _reason(best, scores, len(common)))

    # ------------------------------------------------------------------ delegation
    def _require(self) -> Forecaster | HybridForecaster | MeanForecaster:
        if self.chosen is None:
            raise ValueError("this AutoForecaster is not fitted yet: call fit() or load()")
        return self.chosen

    @property
    def kind(self) -> str:
        """The chosen candidate's name: "rnn", "recursive", "hybrid" or "mean"."""
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
        hybrid's or the mean's from their validation errors, where True means the levels
        this AutoForecaster was given (0.1, 0.5, 0.9 when none were)."""
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
        result = frame.evaluate(part, stats=stats)          # baselines on the same targets
        origin, y = frame.origins_and_targets(part)
        pred = _forecast_at(model, frame, origin)
        for key in ("rmse_scaled", "mae_scaled", "rmse_by_step", "quantiles", "pinball",
                    "coverage", "intervals"):        # the rnn's, not the chosen model's
            result.pop(key, None)
        result.update(_metrics(pred, y))
        if self.config.quantiles:
            levels = self.config.quantiles
            result.update(interval_scores(model.intervals.bands(pred, levels), y, levels))
            result["intervals"] = model.intervals.describe()
        if frame.config.horizon > 1:
            result["rmse_by_step"] = [_rmse(pred[:, j], y[:, j])
                                      for j in range(frame.config.horizon)]
        if backtest is not None:
            result["backtest"] = bt = self._backtest(backtest, refit, part)
            if "stats" in result:
                _, forecasts = frame._stats(origin, y, stats)
                for fold, idx in zip(bt["folds"], _folds(len(origin), backtest)):
                    fold["stats_rmse"] = {n: _rmse(f[idx], y[idx]) for n, f in forecasts.items()}
        result["auto"] = self._part_record(part)
        return result

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
                    "rmse": _rmse(pred[keep], true[keep]),
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
        if isinstance(model, Forecaster):
            return model._refit_until(origin)
        spec, opts = self.hybrid_preset, self._options
        h = HybridForecaster(model.config)
        h.fit(model.series[:origin + 1], epochs=spec.epochs, batch_size=spec.batch_size,
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
        folds, preds = [], []
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
                          **_metrics(pred, y[idx]), "naive_rmse": _rmse(naive, y[idx]),
                          "forecast": pred[0, :, 0].tolist(), "fit_seconds": seconds})
        rmses = [f["rmse"] for f in folds]
        overall = {**_metrics(np.concatenate(preds), y), "rmse_mean": float(np.mean(rmses)),
                   "rmse_sd": float(np.std(rmses)), "rmse_min": min(rmses),
                   "rmse_max": max(rmses)}
        return {"part": part, "origins": int(origins), "refit": bool(refit), "folds": folds,
                "overall": overall}

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
        mean = isinstance(model, MeanForecaster)
        step = getattr(model, "training_step", None)
        metrics = {"config": ({n: asdict(m.config) for n, m in model.members.items()} if mean
                              else asdict(model.config)),
                   "kind": self.choice.kind,
                   "fit_seconds": model.fit_seconds, "auto_fit_seconds": self.fit_seconds,
                   "training_step": step._asdict() if step is not None else None,
                   "epochs_run": ({n: len(m.history.get("loss", []))
                                   for n, m in model.members.items()} if mean
                                  else len(model.history.get("loss", [])))}
        held = [p for p in ("val", "test") if p in self._frame._data.parts]
        for part in held:
            last = part == held[-1]
            metrics[part] = self.evaluate(part, stats=stats if last else False,
                                          backtest=backtest if last else None, refit=refit)
        metrics["future"] = ahead = self.future(future or self.default_future())
        drawn = plot_forecast(out / "forecast.png", model if rnn else _ChosenView(self), ahead,
                              label=label)
        metrics["plot"] = {"file": "forecast.png", **drawn}
        metrics["auto"] = self.record()
        metrics.update(extra or {})
        if mean:                      # the curve of the rnn, the member fitted with Trainer
            curve, loss = model.members["rnn"].history, "MSE of the mean's rnn member"
        else:
            curve = model.history
            loss = ("pinball loss" if model.config.quantiles else "MSE") if rnn \
                else f"{model.config.loss.upper()}, normalised"
        plot_training(out / "training.png", curve, loss)
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
        return metrics

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> None:
        """The chosen model's folder (``Forecaster.save`` or ``HybridForecaster.save``) and
        auto.json: the choice and every candidate's validation score.  A chosen mean saves
        each member in its own subfolder (rnn/, hybrid/) and nothing else beside auto.json,
        so no tool mistakes the folder for one of its members.

        The new folder is written beside ``path`` first and then takes its place, so a save
        that fails or is interrupted leaves the earlier folder as it was, and the folder
        never mixes two saves.  A folder holding files none of these models writes is
        refused (nothing is deleted that rnnkit did not write)."""
        from ..saving import checked_path
        model, path = self._require(), checked_path(path, "save")
        if os.path.lexists(path) and not path.is_dir():
            raise ValueError(f"{path} is a file, not a model folder; choose a folder path "
                             "(rnnkit does not replace files it did not write)")
        foreign = _foreign_files(path) if path.is_dir() else []
        if foreign:
            raise ValueError(f"{path} holds files an AutoForecaster did not write "
                             f"({', '.join(foreign)}); save into a new or empty folder")
        path.parent.mkdir(parents=True, exist_ok=True)
        fresh = path.parent / f".{path.name}.saving-{os.getpid()}"
        shutil.rmtree(fresh, ignore_errors=True)
        try:
            if isinstance(model, MeanForecaster):
                fresh.mkdir()
                for name, member in model.members.items():
                    _save_member(member, fresh / name)
            else:
                _save_member(model, fresh)
            rec = {**self.record(), "quantiles": list(self.config.quantiles or [])}
            if isinstance(model, MeanForecaster) and model.intervals is not None:
                rec["mean_intervals"] = model.intervals.to_dict()   # nowhere else to keep them
            (fresh / AUTO_FILE).write_text(json.dumps(rec, indent=2))
        except BaseException:
            shutil.rmtree(fresh, ignore_errors=True)
            raise
        old = path.parent / f".{path.name}.replaced-{os.getpid()}"
        if path.is_dir():
            os.replace(path, old)
        os.replace(fresh, path)
        shutil.rmtree(old, ignore_errors=True)

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
    values = frame._data.values
    if isinstance(model, HybridForecaster):       # the target column: the hybrid's series
        return _hybrid_from(model, values[:, frame.target_idx[0]], origin)
    need = model._context_rows()
    return model.predict_windows(np.stack([values[o - need + 1:o + 1] for o in origin]))


def _predictions(model: Forecaster | HybridForecaster | MeanForecaster, part: str
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(origins (M,), forecasts (M, K·nt), targets (M, K·nt)) of a part, original units;
    a mean's on the origins all its members forecast."""
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


def saved_kind(path: Path) -> str | None:
    """The kind ("rnn", "recursive", "hybrid" or "mean") recorded in the auto.json of the
    folder ``path``, or None when it holds no valid one."""
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


# what the three kinds of saved folder hold: a Forecaster's (config.json, weights,
# forecaster.json), a HybridForecaster's (also hybrid.json, smoothing), a mean's (rnn/ and
# hybrid/, each one of those), and auto.json
_WRITTEN = {AUTO_FILE, "config.json", "weights.safetensors", "forecaster.json", "hybrid.json",
            SMOOTHING_FILE}


def _foreign_files(path: Path, members: bool = True) -> list[str]:
    """Names in ``path`` (and in its member subfolders) that no AutoForecaster save writes."""
    out = []
    for p in sorted(path.iterdir()):
        if members and p.name in MEMBERS and p.is_dir():
            out += [f"{p.name}/{n}" for n in _foreign_files(p, members=False)]
        elif p.name not in _WRITTEN or not p.is_file():
            out.append(p.name)
    return out


def _describe(name: str, model: Forecaster | HybridForecaster | MeanForecaster) -> str:
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
    preds = {name: _predictions(m, part) for name, m in candidates.items()}
    common = set.intersection(*(set(p[0].tolist()) for p in preds.values()))
    if not common:
        raise ValueError(f"the candidates share no {part} origin to compare them on: "
                         f"{', '.join(f'{n} {p[0][0]}..{p[0][-1]}' for n, p in preds.items())}")
    scores = {}
    for name, (origin, pred, true) in preds.items():
        keep = np.isin(origin, sorted(common))
        m = candidates[name]
        scores[name] = {"rmse": _rmse(pred[keep], true[keep]),
                        "mae": float(np.mean(np.abs(pred[keep] - true[keep]))),
                        "targets": int(keep.sum()), "fit_seconds": m.fit_seconds,
                        "settings": _describe(name, m)}
    return scores, common


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


class _ChosenView:
    """What ``plot_forecast`` reads from a Forecaster, for a chosen hybrid or mean: the rnn's
    data and parts, the chosen model's one-step predictions."""

    def __init__(self, auto: AutoForecaster):
        frame, model = auto._frame, auto.chosen
        self._data, self.columns = frame._data, frame.columns
        self.target_idx, self.conformal = frame.target_idx[:1], {}
        self.interval_how = f"from the {auto.choice.kind}'s validation errors"   # the band
        members = model.members.values() if isinstance(model, MeanForecaster) else [model]
        cfg = model.members["hybrid"].config if isinstance(model, MeanForecaster) \
            else model.config
        rnn = frame.config
        cell = (f"mean of {rnn.cell}({rnn.units}) and ES-RNN hybrid, {cfg.cell}"
                if isinstance(model, MeanForecaster) else f"ES-RNN hybrid, {cfg.cell}")
        self.config = SimpleNamespace(cell=cell, units=cfg.units, layers=1,
                                      window=frame.config.window,
                                      difference=frame.config.difference,
                                      horizon=cfg.horizon, strategy="chosen by auto")
        # the first origin every member can forecast from
        self._first = max(m._context_rows() if isinstance(m, Forecaster) else m.config.window
                          for m in members) - 1
        self._frame, self._model = frame, model

    def one_step_predictions(self) -> tuple[np.ndarray, np.ndarray]:
        origin = np.arange(self._first, len(self._data.values) - 1)
        first = _forecast_at(self._model, self._frame, origin)[:, 0, :1]     # (M, 1)
        return origin + 1, first
