"""Statistical forecasts on exactly a Forecaster's own targets and origins.

A forecasting user's real alternative is not another RNN but statsforecast's AutoARIMA,
AutoETS and AutoTheta: fitted in seconds, hard to beat on short seasonal series.  This
module runs them (and Naive, SeasonalNaive) the way statsforecast's
``cross_validation(h=K, step_size=1, refit=False)`` does:

    fit once on y[: origins[0] + 1]            (train + validation, for the test part)
    at each origin o:  forward(y[: o + 1], h=K)   the fitted parameters are kept; the state
                                                  is updated with every new observation

so every forecast made at origin o reads nothing after o.  The loop is ours (origins need not
end at the series' end, and each model is timed); ``tests/tasks/test_forecast_baselines.py``
checks it against ``StatsForecast.cross_validation`` itself.

Univariate only: each target column is forecast from its own history; extra input features
are not read.  statsforecast is an optional extra (``pip install 'rnnkit[stats]'``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["MODELS", "AUTO_MODELS", "SLOW", "MAX_AUTO_SEASON", "SEASONAL_ARIMA_ROWS", "INSTALL",
           "available", "require", "resolve_models", "rolling_forecasts",
           "statistical_forecasts", "forecast_after", "too_slow"]

MODELS = ("AutoARIMA", "AutoETS", "AutoTheta", "Naive", "SeasonalNaive")
AUTO_MODELS = MODELS[:3]    # the ones that fit parameters: what AutoForecaster combines with
SLOW = ("AutoARIMA",)     # AutoARIMA, season 12, ~3,000 points: ~100 s; the others: seconds
# statsforecast's AutoETS drops a season longer than 24 (its own rule), and AutoARIMA's
# seasonal search with one (sunspots' 132 months) takes far too long: the Auto models then
# run without a season.  SeasonalNaive keeps the full season, as rnnkit's own baseline does.
MAX_AUTO_SEASON = 24
# A seasonal AutoARIMA search grows steeply with the history: season 24 on 1,000 hourly
# values took 100 s on this project's 2-core machine.  "all" skips it past this many rows,
# and says so; naming AutoARIMA explicitly runs it anyway.
SEASONAL_ARIMA_ROWS = 2000
INSTALL = "pip install 'rnnkit[stats]'"


def available() -> bool:
    """Whether statsforecast can be imported."""
    try:
        import statsforecast  # noqa: F401
    except ImportError:
        return False
    return True


def require() -> None:
    """Raise an ImportError that says how to install statsforecast when it is missing."""
    if not available():
        raise ImportError(f"statistical baselines need statsforecast: {INSTALL}")


def resolve_models(which: Any) -> tuple[str, ...]:
    """The model names ``which`` asks for: True or "all" = every model, "fast" = all but
    the slow ones (AutoARIMA), False/None/"none" = none, or a list of names.

    Example:
        >>> resolve_models("fast")
        ('AutoETS', 'AutoTheta', 'Naive', 'SeasonalNaive')
        >>> resolve_models(["Naive"])
        ('Naive',)
    """
    if which is None or which is False or which == "none":
        return ()
    if which is True or which == "all":
        return MODELS
    if which == "fast":
        return tuple(m for m in MODELS if m not in SLOW)
    if isinstance(which, str):
        which = [w.strip() for w in which.split(",") if w.strip()]
    try:
        names = tuple(which)
    except TypeError:
        names = None
    if not names or not all(isinstance(n, str) for n in names):
        raise ValueError(f"stats must be True/'all', 'fast', False/'none' or model names "
                         f"from {', '.join(MODELS)}; got {which!r}")
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        raise ValueError(f"unknown statistical model {', '.join(map(repr, unknown))}; "
                         f"choose from {', '.join(MODELS)}")
    return tuple(dict.fromkeys(names))


def _build(name: str, season: int | None) -> tuple[Any, str]:
    """A statsforecast model and a note on the season it uses ("" when nothing to say)."""
    from statsforecast import models as sf
    m = season or 1
    if name == "Naive":
        return sf.Naive(), ""
    if name == "SeasonalNaive":
        return sf.SeasonalNaive(season_length=m), ""
    note = ""
    if m > MAX_AUTO_SEASON:
        note = f"season {m} > {MAX_AUTO_SEASON}: fitted without a season"
        m = 1
    return getattr(sf, name)(season_length=m), note


def too_slow(name: str, season: int | None, rows: int) -> str:
    """Why fitting ``name`` on ``rows`` values would take too long ("" when it would not):
    a seasonal AutoARIMA on more than ``SEASONAL_ARIMA_ROWS`` rows."""
    seasonal = season is not None and 1 < season <= MAX_AUTO_SEASON
    if name == "AutoARIMA" and seasonal and rows > SEASONAL_ARIMA_ROWS:
        return (f"seasonal (m={season}) on {rows:,} rows would take many minutes (over "
                f"{SEASONAL_ARIMA_ROWS:,} rows)")
    return ""


def _check_origins(n: int, origins: Any, horizon: int, targets: bool = True) -> np.ndarray:
    """Origins as int64 row indices, each with a history of two values or more and, with
    ``targets``, its ``horizon`` targets inside the n values (to score them)."""
    o = np.asarray(origins)
    if o.ndim != 1 or len(o) == 0 or not np.issubdtype(o.dtype, np.integer):
        raise ValueError(f"origins must be a non-empty 1-D array of row indices, got {o!r}")
    if (np.diff(o) <= 0).any():
        raise ValueError("origins must be strictly increasing")
    last = n - 1 - horizon if targets else n - 1
    if o[0] < 1 or o[-1] > last:
        raise ValueError(f"origins must lie in 1..{last} (a history of at least two values"
                         + (f" and {horizon} target(s) after each" if targets else "")
                         + f") for {n} values; got {int(o[0])}..{int(o[-1])}")
    return o.astype(np.int64)


def _fit_row(origins: np.ndarray, fit_until: int | None) -> int:
    """The last row the model is fitted on: ``fit_until``, or the first origin."""
    if fit_until is None:
        return int(origins[0])
    if isinstance(fit_until, bool) or not isinstance(fit_until, (int, np.integer)) \
            or not 1 <= fit_until <= origins[0]:
        raise ValueError(f"fit_until must be a row from 1 to the first origin "
                         f"{int(origins[0])}, got {fit_until!r}")
    return int(fit_until)


def rolling_forecasts(y: Any, origins: Any, horizon: int, name: str,
                      season: int | None = None, fit_until: int | None = None
                      ) -> tuple[np.ndarray, float, str]:
    """One model's forecasts (M, horizon) of y[o+1 .. o+horizon] made at each origin o, the
    seconds they took (fit and every update) and a note ("" or what changed).  The targets
    are not read: an origin near the end forecasts past the values given.

    Fitted once on y[: fit_until + 1] (default: y[: origins[0] + 1]); then ``forward`` on
    y[: o + 1] at each origin.  ``fit_until`` earlier than the first origin fits on a part's
    history while scoring only some of its origins (a backtest fold, a shared subset)."""
    require()
    y = np.asarray(y, dtype=np.float64).ravel()
    origins = _check_origins(len(y), origins, horizon, targets=False)
    fit_row = _fit_row(origins, fit_until)
    if name not in MODELS:
        raise ValueError(f"unknown statistical model {name!r}; choose from {', '.join(MODELS)}")
    if name == "SeasonalNaive" and (season is None or season > fit_row + 1):
        raise ValueError(f"SeasonalNaive needs a season of at most {fit_row + 1} steps (the "
                         f"history it is fitted on), got {season}")
    model, note = _build(name, season)
    out = np.empty((len(origins), horizon))
    t0 = time.perf_counter()
    fitted = model.fit(y=y[: fit_row + 1])
    for i, o in enumerate(origins):
        out[i] = fitted.forward(y=y[: o + 1], h=horizon)["mean"]
    return out, time.perf_counter() - t0, note


def statistical_forecasts(values: Any, origins: Any, horizon: int, season: int | None,
                          models: Sequence[str] = MODELS, guard: bool = True,
                          fit_until: int | None = None) -> dict[str, dict[str, Any]]:
    """Every model's forecasts of every column of ``values`` (N,) or (N, nt), each column on
    its own: {name: {"forecasts": (M, horizon, nt), "seconds", "note"}}.  Each is fitted on
    the rows up to ``fit_until`` (default: the first origin), as ``rolling_forecasts``.

    Left out, with {"skipped": why}: SeasonalNaive without a season (or with one reaching
    back past the history), and with ``guard`` a seasonal AutoARIMA on more than
    ``SEASONAL_ARIMA_ROWS`` rows.  A model statsforecast cannot fit gets {"error": message}."""
    require()
    v = np.asarray(values, dtype=np.float64)
    v = v[:, None] if v.ndim == 1 else v
    origins = _check_origins(len(v), origins, horizon)
    fit_row = _fit_row(origins, fit_until)
    out: dict[str, dict[str, Any]] = {}
    for name in resolve_models(list(models)) if models else ():
        if name == "SeasonalNaive" and (season is None or season > fit_row + 1):
            out[name] = {"skipped": "no season" if season is None else
                         f"season {season} reaches back past the history"}
            continue
        slow = too_slow(name, season, fit_row + 1)
        if guard and slow:
            out[name] = {"skipped": f"{slow}; name it to run it anyway"}
            continue
        try:
            runs = [rolling_forecasts(v[:, j], origins, horizon, name, season, fit_row)
                    for j in range(v.shape[1])]
        except (ValueError, ArithmeticError, np.linalg.LinAlgError) as err:
            out[name] = {"error": f"{type(err).__name__}: {err}"}
            continue
        out[name] = {"forecasts": np.stack([r[0] for r in runs], axis=-1),
                     "seconds": sum(r[1] for r in runs),
                     "note": "; ".join(dict.fromkeys(r[2] for r in runs if r[2]))}
    return out


def forecast_after(y: Any, steps: int, name: str, season: int | None = None
                   ) -> tuple[np.ndarray, str]:
    """``name`` fitted on all of y, forecasting the ``steps`` values after it: ((steps,),
    note), the season handled as in ``rolling_forecasts``."""
    require()
    y = np.asarray(y, dtype=np.float64).ravel()
    if name not in MODELS:
        raise ValueError(f"unknown statistical model {name!r}; choose from {', '.join(MODELS)}")
    if len(y) < 2 or not np.isfinite(y).all():
        raise ValueError(f"{name} needs at least two finite values, got {len(y)} values")
    model, note = _build(name, season)
    return np.asarray(model.fit(y=y).predict(h=steps)["mean"], dtype=np.float64), note
