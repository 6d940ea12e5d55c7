"""Rolling-origin backtests: per-origin and overall figures; no origin sees its future."""

import numpy as np
import pytest

import rnnkit as rk
from rnnkit.tasks import Forecaster

FOLDS = 4


def _series(n=320):
    return rk.datasets.load("sine", length=n, step=0.3, noise=0.1, seed=2).values.astype(float)


def _fit(values, val=0.15):
    f = Forecaster(cell="gru", units=6, window=12, horizon=2, season=21)
    f.fit(values, epochs=3, batch_size=16, val=val, seed=0, verbose=0, threads=1)
    return f


def test_without_refit_the_folds_partition_the_test_windows():
    f = _fit(_series())
    m = f.evaluate("test", backtest=FOLDS)
    bt = m["backtest"]
    assert bt["origins"] == FOLDS and not bt["refit"] and len(bt["folds"]) == FOLDS
    assert sum(fold["windows"] for fold in bt["folds"]) == m["windows"]
    assert bt["overall"]["rmse"] == pytest.approx(m["rmse"], rel=1e-9)
    rmses = [fold["rmse"] for fold in bt["folds"]]
    assert bt["overall"]["rmse_min"] == min(rmses) and bt["overall"]["rmse_max"] == max(rmses)
    origins = [int(fold["origin"]) for fold in bt["folds"]]
    assert origins == sorted(origins) and int(bt["folds"][0]["from"]) == origins[0] + 1
    assert all(len(fold["forecast"]) == 2 for fold in bt["folds"])


@pytest.mark.parametrize("refit", [False, True], ids=["fixed-model", "refit"])
def test_backtest_origins_never_see_their_future(refit):
    """Poison every value after an origin: that origin's forecast (and, with refit, the model
    fitted there) must not change; the next origin, which may read them, does change.
    Without a validation part every row up to an origin trains its refit model (and its
    scaler), so a single leaked row would move that forecast."""
    clean = _series()
    base = _fit(clean, val=0).backtest(FOLDS, refit=refit)
    for i in (1, 2):
        origin = int(base["folds"][i]["origin"])
        poisoned = clean.copy()
        poisoned[origin + 1:] = 1e3
        bt = _fit(poisoned, val=0).backtest(FOLDS, refit=refit)
        assert bt["folds"][i]["origin"] == base["folds"][i]["origin"]
        np.testing.assert_allclose(bt["folds"][i]["forecast"], base["folds"][i]["forecast"],
                                   rtol=1e-6, err_msg=f"origin {origin} saw its future")
        assert not np.allclose(bt["folds"][i + 1]["forecast"],
                               base["folds"][i + 1]["forecast"], rtol=1e-3)


def test_refit_trains_a_model_per_origin_on_the_rows_before_it(monkeypatch):
    f = _fit(_series())
    seen = []
    fit = Forecaster.fit

    def spy(self, series, **kwargs):
        seen.append((len(series.values), kwargs["test"]))
        return fit(self, series, **kwargs)
    monkeypatch.setattr(Forecaster, "fit", spy)
    bt = f.backtest(3, refit=True)
    assert seen == [(int(fold["origin"]) + 1, 0.0) for fold in bt["folds"]]
    assert all(fold["fit_seconds"] > 0 for fold in bt["folds"])
    fixed = f.backtest(3)
    assert fixed["folds"][0]["forecast"] != bt["folds"][0]["forecast"]     # another model


def test_backtest_arguments_are_checked():
    f = _fit(_series(200))
    with pytest.raises(ValueError, match="backtest must be an int from 1"):
        f.evaluate("test", backtest=0)
    with pytest.raises(ValueError, match="backtest must be an int from 1"):
        f.backtest(10_000)
    with pytest.raises(TypeError, match="refit must be True or False"):
        f.backtest(2, refit="yes")
    with pytest.raises(ValueError, match="needs the data of a fit"):
        Forecaster().backtest(2)


def _weighted(folds, key):
    """The folds' coverage (or pinball) weighted by their windows: the whole part's."""
    w = np.array([fold["windows"] for fold in folds], dtype=float)
    return float(np.sum(w * [key(fold) for fold in folds]) / w.sum())


def test_with_quantiles_each_fold_reports_its_coverage_and_pinball():
    """Without refit, a fold's coverage is evaluate's bands on its windows, so the folds'
    windows-weighted mean is the part's coverage; with refit, each fold's comes from the
    bands of the model refitted at its origin."""
    f = Forecaster(cell="gru", units=6, window=12, horizon=2, quantiles=(0.1, 0.5, 0.9))
    f.fit(_series(), epochs=3, batch_size=16, seed=0, verbose=0, threads=1)
    m = f.evaluate("test", backtest=FOLDS)
    bt = m["backtest"]
    assert all(set(fold["coverage"]) == {"80"} for fold in bt["folds"])
    assert _weighted(bt["folds"], lambda d: d["coverage"]["80"]) == pytest.approx(
        m["coverage"]["80"])
    assert _weighted(bt["folds"], lambda d: d["pinball"]) == pytest.approx(m["pinball"])
    assert bt["overall"]["coverage"] == pytest.approx(m["coverage"])
    covers = {fold["coverage"]["80"] for fold in bt["folds"]}
    assert all(0.0 <= c <= 1.0 for c in covers)

    refit = f.backtest(2, refit=True)
    first = refit["folds"][0]
    origin, y = f.origins_and_targets("test")
    idx = np.flatnonzero(origin < int(refit["folds"][1]["origin"]))   # the first fold's
    model = f._refit_until(int(first["origin"]))                     # the same seed: the same
    need = f._context_rows()
    windows = np.stack([f._data.values[o - need + 1:o + 1] for o in origin[idx]])
    bands = model.predict_windows(windows, quantiles=True)
    inside = (y[idx] >= bands[..., 0]) & (y[idx] <= bands[..., 2])
    assert first["coverage"]["80"] == pytest.approx(float(np.mean(inside)))
    assert "coverage" in refit["overall"]


def test_point_forecasts_have_no_coverage_in_their_backtest():
    bt = _fit(_series(200)).backtest(2)
    assert all("coverage" not in fold and "pinball" not in fold for fold in bt["folds"])
    assert "coverage" not in bt["overall"]
