"""Statistical baselines (statsforecast) on exactly the Forecaster's targets and origins."""

import sys

import numpy as np
import pandas as pd
import pytest
from statsforecast import StatsForecast
from statsforecast import models as sf

import rnnkit as rk
from rnnkit.tasks import Forecaster
from rnnkit.tasks import stats_baselines as sb


def _seasonal(n=120, seed=0):
    t = np.arange(n)
    rng = np.random.default_rng(seed)
    return 50 + 0.3 * t + 8 * np.sin(2 * np.pi * t / 12) + rng.normal(size=n)


def test_rolling_forecasts_equal_statsforecast_cross_validation():
    y, h, windows = _seasonal(), 3, 12
    df = pd.DataFrame({"unique_id": "s", "ds": np.arange(len(y)), "y": y})
    built = [sf.AutoARIMA(season_length=12), sf.AutoETS(season_length=12),
             sf.AutoTheta(season_length=12), sf.Naive(), sf.SeasonalNaive(season_length=12)]
    cv = StatsForecast(models=built, freq=1).cross_validation(
        df=df, h=h, n_windows=windows, step_size=1, refit=False)
    origins = np.arange(len(y) - h - windows, len(y) - h)
    assert (cv["cutoff"].unique() == origins).all()           # the same origins
    for name in sb.MODELS:
        ours, seconds, _ = sb.rolling_forecasts(y, origins, h, name, season=12)
        np.testing.assert_allclose(ours, cv[name].to_numpy().reshape(windows, h), rtol=1e-9,
                                   err_msg=name)
        assert seconds >= 0


def _fitted(**options):
    series = rk.datasets.load("sine", length=260, step=0.3, noise=0.05, seed=3)
    f = Forecaster(cell="gru", units=4, window=12, **options)
    f.fit(series, epochs=1, verbose=0)
    return f


@pytest.mark.parametrize("options", [dict(horizon=1, season=21),
                                     dict(horizon=4, season=21, difference=True),
                                     dict(horizon=3, season=2)])
def test_statsforecast_naive_models_equal_rnnkits_baselines(options):
    """The same targets and origins: statsforecast's Naive and SeasonalNaive reproduce the
    Forecaster's own naive baselines."""
    f = _fitted(**options)
    m = f.evaluate("test", stats=["Naive", "SeasonalNaive"])
    for ours, theirs in (("baseline_last_value", "Naive"),
                         ("baseline_seasonal_naive", "SeasonalNaive")):
        for metric in ("rmse", "mae", "mape"):
            assert m["stats"][theirs][metric] == pytest.approx(m[ours][metric], abs=1e-6)
    # the forecasts themselves, not only their scores
    _, _, origin, y = f._targets("test")
    found = sb.statistical_forecasts(f._data.values[:, f.target_idx], origin,
                                     f.config.horizon, f.config.season,
                                     ["Naive", "SeasonalNaive"])
    naive = f._naive(origin)
    np.testing.assert_allclose(found["Naive"]["forecasts"], naive["last_value"], atol=1e-6)
    np.testing.assert_allclose(found["SeasonalNaive"]["forecasts"], naive["seasonal_naive"],
                               atol=1e-6)
    assert found["Naive"]["forecasts"].shape == y.shape


def test_evaluate_scores_every_model_and_says_what_they_read():
    weather = rk.datasets.load("weather", origin="JFK").select(["temp", "humid"])
    values, times, _ = rk.data.fill_missing(weather.values, "ffill", times=weather.times)
    series = rk.datasets.Series("w", times[:400], values[:400], weather.columns)
    f = Forecaster(cell="gru", units=4, window=24, targets=("temp",), season=24)
    f.fit(series, epochs=1, verbose=0)
    m = f.evaluate("test", stats="fast")
    assert set(m["stats"]) == {"AutoETS", "AutoTheta", "Naive", "SeasonalNaive", "_note"}
    for name in ("AutoETS", "AutoTheta"):
        r = m["stats"][name]
        assert np.isfinite(r["rmse"]) and r["seconds"] > 0
        assert r["rmse"] != m["stats"]["Naive"]["rmse"]          # a model, not a copy
    assert "univariate" in m["stats"]["_note"] and "humid" in m["stats"]["_note"]


def test_seasonal_arima_is_skipped_on_long_histories_unless_named(monkeypatch):
    monkeypatch.setattr(sb, "SEASONAL_ARIMA_ROWS", 50)
    y = _seasonal(80)
    origins = np.arange(60, 77)
    found = sb.statistical_forecasts(y, origins, 3, 12, ["AutoARIMA", "Naive"])
    assert "skipped" in found["AutoARIMA"] and "61 rows" in found["AutoARIMA"]["skipped"]
    assert found["Naive"]["forecasts"].shape == (17, 3, 1)
    no_season = sb.statistical_forecasts(y, origins, 3, None, ["SeasonalNaive"])
    assert no_season["SeasonalNaive"] == {"skipped": "no season"}


def test_long_seasons_fit_the_auto_models_without_one():
    y = _seasonal(200)
    _, _, note = sb.rolling_forecasts(y, np.arange(150, 160), 1, "AutoETS", season=60)
    assert "without a season" in note
    _, _, note = sb.rolling_forecasts(y, np.arange(150, 160), 1, "SeasonalNaive", season=60)
    assert note == ""


def test_model_names_and_origins_are_checked():
    assert sb.resolve_models(True) == sb.MODELS and sb.resolve_models("none") == ()
    assert "AutoARIMA" not in sb.resolve_models("fast")
    assert sb.resolve_models("Naive,AutoETS") == ("Naive", "AutoETS")
    with pytest.raises(ValueError, match="unknown statistical model 'Arima'"):
        sb.resolve_models(["Arima"])
    with pytest.raises(ValueError, match="stats must be"):
        sb.resolve_models(3)
    with pytest.raises(ValueError, match=r"origins must lie in 1\.\.19 \(a history"):
        sb.rolling_forecasts(np.arange(20.0), np.array([10, 20]), 3, "Naive")
    # the targets are not read: the last row forecasts past the values (a combined's plot)
    late, _, _ = sb.rolling_forecasts(np.arange(20.0), np.array([10, 19]), 3, "Naive")
    np.testing.assert_array_equal(late, [[10.0] * 3, [19.0] * 3])
    with pytest.raises(ValueError, match=r"1\.\.16 \(a history of at least two values and "
                                         "3 target"):
        sb.statistical_forecasts(np.arange(20.0), np.array([10, 18]), 3, None, ["Naive"])
    with pytest.raises(ValueError, match="strictly increasing"):
        sb.rolling_forecasts(np.arange(20.0), np.array([10, 9]), 1, "Naive")
    with pytest.raises(ValueError, match="SeasonalNaive needs a season"):
        sb.rolling_forecasts(np.arange(20.0), np.array([5, 6]), 1, "SeasonalNaive", 12)


def test_missing_statsforecast_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "statsforecast", None)     # import now fails
    assert not sb.available()
    with pytest.raises(ImportError, match=r"pip install 'rnnkit\[stats\]'"):
        sb.require()
    f = _fitted(horizon=1)
    with pytest.raises(ImportError, match="statsforecast"):
        f.evaluate("test", stats=True)
    assert "stats" not in f.evaluate("test")                    # off by default


def test_backtest_folds_carry_the_statistical_models_on_the_same_windows():
    f = _fitted(horizon=2, season=21)
    m = f.evaluate("test", stats=["Naive", "AutoETS"], backtest=3)
    for fold in m["backtest"]["folds"]:
        assert set(fold["stats_rmse"]) == {"Naive", "AutoETS"}
        assert fold["stats_rmse"]["Naive"] == pytest.approx(fold["naive_rmse"], abs=1e-9)
    assert "stats_rmse" not in f.evaluate("test", backtest=3)["backtest"]["folds"][0]


def test_every_target_is_forecast_on_its_own():
    t = np.arange(300.0)
    values = np.stack([np.sin(0.3 * t), 5 + np.cos(0.2 * t)], axis=1)
    f = Forecaster(cell="gru", units=4, window=10, horizon=2, targets=("x0", "x1"), season=21)
    f.fit(values, epochs=1, verbose=0)
    m = f.evaluate("test", stats=["Naive", "SeasonalNaive"])
    assert m["stats"]["Naive"]["rmse"] == pytest.approx(m["baseline_last_value"]["rmse"],
                                                        abs=1e-9)
    assert m["stats"]["SeasonalNaive"]["mae"] == pytest.approx(
        m["baseline_seasonal_naive"]["mae"], abs=1e-9)
    assert "the model also reads" not in m["stats"]["_note"]
