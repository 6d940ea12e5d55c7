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
