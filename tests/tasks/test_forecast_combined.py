"""auto's "combined" candidate (``tasks/forecast_auto.py``, ``CombinedForecaster``): the
mean of the rnnkit choice and the statsforecast model best on validation.  statsforecast is
installed by ``make test``, so it is imported here, never skipped."""

import json
import sys
from dataclasses import replace

import numpy as np
import pytest
import statsforecast  # noqa: F401  the combined candidate needs it: a missing one fails here

from rnnkit.tasks import stats_baselines as sb
from rnnkit.tasks.forecast import ForecastConfig, rmse
from rnnkit.tasks.forecast_auto import (
    AUTO_FILE,
    COMBINED_FILE,
    NOT_INSTALLED,
    TIE,
    AutoForecaster,
    CombinedForecaster,
    _predictions,
    score,
)
from rnnkit.tasks.hybrid import hybrid_preset
from rnnkit.types import Choice

from ..helpers import airline_like


def _cfg(**kw):
    return ForecastConfig(**{"cell": "gru", "units": 4, "window": 12, "lr": 3e-3, "season": 12,
                             **kw})


def _fit(auto, y, epochs=2):
    auto.fit(y, epochs=epochs, batch_size=16, verbose=0, seed=0)
    return auto


@pytest.fixture(scope="module")
def fitted():
    """The rnn, the hybrid, their mean and the combined on one series, fitted once, chosen
    on the validation part alone (folds=0: tests/tasks/test_forecast_folds.py has the
    rule with earlier folds)."""
    hybrid = replace(hybrid_preset("y", season=12, window=12, rows=150), epochs=2)
    return _fit(AutoForecaster(_cfg(), hybrid, folds=0), airline_like())


def _as_combined(auto):
    """A copy of ``auto`` whose choice is the combined (to reach its predict/save paths)."""
    out = AutoForecaster(auto.config, auto.hybrid_preset, folds=0)
    out.__dict__.update(auto.__dict__)
    out.candidates = dict(auto.candidates)
    out.chosen, out.choice = auto.candidates["combined"], Choice("combined", "set by the test")
    return out


def test_the_combined_is_the_mean_of_its_members_on_validation_and_test(fitted):
    c = fitted.candidates["combined"]
    base = fitted.candidates[c.base_kind]
    assert c.model in sb.AUTO_MODELS and c.season == 12
    y, frame = c.series, fitted._frame
    for part in ("val", "test"):
        o, pred, true = _predictions(c, part)
        ob, pb, tb = _predictions(base, part)
        start, _ = frame.origins_and_targets(part)      # fitted before the part's first target
        stat, _, _ = sb.rolling_forecasts(y, o, 1, c.model, 12, fit_until=int(start[0]))
        np.testing.assert_array_equal(o, ob)
        np.testing.assert_allclose(pred, (pb + stat) / 2, rtol=1e-12)
        np.testing.assert_allclose(true, tb)
    v = fitted.validation["combined"]
    o, pred, true = _predictions(c, "val")
    assert v["rmse"] == pytest.approx(rmse(pred, true), rel=1e-12)
    assert v["base"] == c.base_kind and v["settings"].startswith(f"mean of {c.base_kind} and ")
    # its statistical model is the one of the three best on validation
    scored = {n: r for n, r in v["stats_rmse"].items() if isinstance(r, float)}
    assert c.model == min(scored, key=scored.get)
    # on test, chosen: the mean of the base's forecast and the --stats table's own forecasts
    auto = _as_combined(fitted)
    m = auto.evaluate("test", stats=[c.model])
    origin, truth = frame.origins_and_targets("test")
    table = sb.statistical_forecasts(y, origin, 1, 12, [c.model])[c.model]["forecasts"]
    ob, pb, _ = _predictions(base, "test")
    want = (pb[np.isin(ob, origin)] + table[:, :, 0]) / 2
    assert m["rmse"] == pytest.approx(rmse(want, truth[:, :, 0]), rel=1e-9)
    assert m["stats"][c.model]["rmse"] == pytest.approx(rmse(table, truth), rel=1e-12)
    assert m["auto"]["scores_on_test"]["combined"]["rmse"] == pytest.approx(m["rmse"])


def test_it_is_kept_only_when_more_than_tie_better(fitted):
    c, v = fitted.candidates["combined"], fitted.validation
    kept = fitted.kind == "combined"
    assert kept == (v[c.base_kind]["rmse"] > v["combined"]["rmse"] * (1 + TIE))
    assert v["combined"]["verdict"].startswith("kept" if kept else "not kept")
    # the same fit, the base's validation RMSE moved to either side of the threshold
    auto = _as_combined(fitted)
    auto.validation = json.loads(json.dumps(v))
    common = score({n: m for n, m in fitted.candidates.items() if n != "combined"}, "val")[1]
    for factor, want in ((0.999, c.base_kind), (1.001, "combined")):
        auto.chosen = fitted.candidates[c.base_kind]
        auto.choice = Choice(c.base_kind, "the rnnkit choice")
        auto.validation[c.base_kind]["rmse"] = v["combined"]["rmse"] * (1 + TIE) * factor
        auto._combine(common)
        assert auto.kind == want, factor
        assert ("is kept:" if want == "combined" else f"(mean of {c.base_kind} and {c.model}) "
                f"was not more than {100 * TIE:g} % better") in auto.choice.reason


def test_skipped_with_the_reason_when_not_asked_or_not_installed(monkeypatch):
    y = airline_like(100)
    auto = _fit(AutoForecaster(_cfg(), None, stats=False), y, epochs=1)
    assert auto.validation["combined"] == {"skipped": "not asked for (stats=False)"}
    assert auto.kind == "rnn"
    monkeypatch.setitem(sys.modules, "statsforecast", None)      # the import now fails
    with pytest.raises(ValueError, match=r"stats=True needs statsforecast.*rnnkit\[stats\]"):
        AutoForecaster(_cfg(), None, stats=True)
    auto = _fit(AutoForecaster(_cfg(), None), y, epochs=1)      # "auto": skipped, says why
    assert auto.validation["combined"] == {"skipped": NOT_INSTALLED}
    assert NOT_INSTALLED == "statsforecast not installed: pip install 'rnnkit[stats]'"
    with pytest.raises(ValueError, match="stats must be 'auto', True or False"):
        AutoForecaster(_cfg(), None, stats="yes")


def test_seasons_and_long_series_follow_the_stats_tables_rules(monkeypatch):
    # a season > 24 is fitted without one, as --stats fits it, and the note says so
    auto = _fit(AutoForecaster(_cfg(season=30), None), airline_like(150), epochs=1)
    c = auto.candidates["combined"]
    assert c.season == 30 and "season 30 > 24: fitted without a season" in c.describe()
    # a seasonal AutoARIMA on a long history is left out, with --stats' reason
    monkeypatch.setattr(sb, "SEASONAL_ARIMA_ROWS", 50)
    auto = _fit(AutoForecaster(_cfg(), None), airline_like(100), epochs=1)
    skipped = auto.validation["combined"]["stats_rmse"]["AutoARIMA"]["skipped"]
    assert skipped == "seasonal (m=12) on 100 rows would take many minutes (over 50 rows)"
    assert auto.candidates["combined"].model in ("AutoETS", "AutoTheta")
    # nor is one fitted on a longer history sent later (a served request): refused by name
    c = _with_model(auto.candidates["combined"], "AutoARIMA")
    with pytest.raises(ValueError, match="AutoARIMA: seasonal .* send at most 50 rows"):
        c.predict(2, airline_like(120))


def _with_model(c, model):
    """``c`` with another statistical member (what a combined chosen elsewhere would hold)."""
    return CombinedForecaster(c.base, c.base_kind, model, c.season, c.series, c.column,
                              c.starts)


def test_horizon_two_combines_every_step():
    auto = _fit(AutoForecaster(_cfg(horizon=2), None), airline_like(100), epochs=1)
    c = auto.candidates["combined"]
    o, pred, _ = _predictions(c, "val")
    _, pb, _ = _predictions(c.base, "val")
    stat = sb.rolling_forecasts(c.series, o, 2, c.model, 12, fit_until=c.starts[0])[0]
    assert pred.shape == (len(o), 2)
    np.testing.assert_allclose(pred, (pb + stat) / 2, rtol=1e-12)
    assert c.predict(4).shape == (4, 1)


def test_a_chosen_combined_of_horizon_two_reports(tmp_path):
    """forecast.png draws one-step forecasts up to the last row: the statistical member
    forecasts past the series there (it was refused: 'origins must lie in ...')."""
    auto = _as_combined(_fit(AutoForecaster(_cfg(horizon=2), None), airline_like(100), epochs=1))
    metrics = auto.report(tmp_path / "r", future=3)
    assert auto.kind == "combined" and len(metrics["future"]["values"]["x0"]) == 3
    assert (tmp_path / "r" / "forecast.png").is_file() and np.isfinite(metrics["test"]["rmse"])


def test_save_load_round_trip_without_pickle(fitted, tmp_path):
    from rnnkit.serve.models import detect_kind
    auto = _as_combined(fitted)
    want, q = auto.predict(5), auto.predict(1, quantiles=True)
    auto.save(tmp_path / "m")
    files = sorted(p.relative_to(tmp_path / "m").as_posix()
                   for p in (tmp_path / "m").rglob("*") if p.is_file())
    assert COMBINED_FILE in files and AUTO_FILE in files
    assert not any(f.endswith((".pkl", ".pickle", ".pt", ".joblib")) for f in files)
    base = auto.chosen.base_kind
    assert all(f.split("/")[0] in ("rnn", "hybrid") for f in files if "/" in f), files
    assert (base != "mean") == (len({f.split("/")[0] for f in files if "/" in f}) == 1)
    back = AutoForecaster.load(tmp_path / "m")
    assert back.kind == "combined" and isinstance(back.chosen, CombinedForecaster)
    assert back.chosen.model == auto.chosen.model and back.chosen.season == 12
    np.testing.assert_allclose(back.predict(5), want, rtol=1e-9)
    np.testing.assert_allclose(back.predict(1, quantiles=True), q, rtol=1e-9)
    # a newer history: both members forecast after it
    longer = airline_like(155)
    np.testing.assert_allclose(back.predict(2, longer), auto.predict(2, longer), rtol=1e-9)
    # serve takes it as a forecaster (/forecast only: tests/serve/test_app.py)
    assert detect_kind(tmp_path / "m") == "forecaster"
    # a corrupt series file and a foreign record are named
    (tmp_path / "m" / COMBINED_FILE).write_bytes(b"\x80\x04not safetensors")
    with pytest.raises(ValueError, match=COMBINED_FILE):
        AutoForecaster.load(tmp_path / "m")
    rec = json.loads((tmp_path / "m" / AUTO_FILE).read_text())
    rec["combined"]["model"] = "Prophet"
    (tmp_path / "m" / AUTO_FILE).write_text(json.dumps(rec))
    with pytest.raises(ValueError, match=f"{AUTO_FILE}.*'combined' is not a valid"):
        AutoForecaster.load(tmp_path / "m")


def test_quantiles_of_a_chosen_combined(fitted):
    auto = _as_combined(fitted)
    q = auto.predict(1, quantiles=True)
    assert q.shape == (1, 1, 3) and (np.diff(q, axis=-1) >= 0).all()
    np.testing.assert_allclose(q[..., 1], auto.predict(1))          # 0.5: the point forecast
    assert "combined's" in auto.chosen.intervals.source
    with pytest.raises(ValueError, match="quantiles reach horizon=1"):
        auto.predict(3, quantiles=True)
    ahead = auto.future(3)
    assert len(ahead["values"]["x0"]) == 3


def test_a_chosen_combined_backtests_and_reports(fitted, tmp_path):
    auto = _as_combined(fitted)
    c = auto.chosen
    m = auto.evaluate("test", stats=[c.model], backtest=2)
    bt = m["backtest"]
    assert bt["overall"]["rmse"] == pytest.approx(m["rmse"], rel=1e-9)
    assert all(c.model in f["stats_rmse"] for f in bt["folds"])
    refit = auto.evaluate("test", backtest=2, refit=True)["backtest"]
    assert refit["refit"] and len(refit["folds"]) == 2
    metrics = auto.report(tmp_path / "r", future=3)
    assert metrics["kind"] == "combined" and (tmp_path / "r" / "forecast.png").is_file()
    assert metrics["config"]["combined"]["stats_model"] == c.model


def test_among_fitted_models_makes_fits_choice(fitted):
    """``AutoForecaster.among`` (what the forecast-baselines tutorial calls) scores the same
    candidates and keeps the same one as ``fit`` did, without fitting the networks again."""
    again = AutoForecaster.among(fitted.candidates["rnn"], fitted.candidates["hybrid"])
    assert again.choice.kind == fitted.choice.kind
    for name in ("rnn", "hybrid", "mean", "combined"):
        assert again.validation[name]["rmse"] == pytest.approx(fitted.validation[name]["rmse"])
    assert again.candidates["rnn"] is fitted.candidates["rnn"]        # nothing refitted
    with pytest.raises(ValueError, match="refitting the hybrid needs its preset"):
        again._refit(fitted.candidates["hybrid"], 100)
