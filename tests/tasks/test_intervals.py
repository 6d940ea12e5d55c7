"""Prediction intervals of point forecasters from their validation errors
(``tasks/intervals.py``): the hybrid, the mean, and ``strategy="auto"`` with quantiles."""

import json
from dataclasses import replace

import numpy as np
import pytest
from typer.testing import CliRunner

import rnnkit as rk
from rnnkit.cli.main import app
from rnnkit.tasks.forecast import ForecastConfig, Forecaster
from rnnkit.tasks.forecast_auto import AUTO_FILE, AutoForecaster, _forecast_at
from rnnkit.tasks.hybrid import HybridForecaster, hybrid_preset
from rnnkit.tasks.intervals import (
    ErrorIntervals,
    check_levels,
    least_errors,
    rolling_quantiles,
)
from rnnkit.types import Choice

from ..helpers import airline_like

Q = (0.1, 0.5, 0.9)


def _noisy_sine(n=400, seed=3):
    return rk.datasets.load("sine", length=n, step=0.3, noise=0.3, seed=seed).values.reshape(-1)


def _auto(quantiles=Q, epochs=2):
    hybrid = replace(hybrid_preset("y", season=12, window=12, rows=150), epochs=epochs)
    cfg = ForecastConfig(cell="gru", units=4, window=12, lr=3e-3, season=12,
                         quantiles=quantiles)
    return AutoForecaster(cfg, hybrid)


def _force(auto, kind):
    auto.chosen, auto.choice = auto.candidates[kind], Choice(kind, "set by the test")


# ---------------------------------------------------------------------- the helper
def test_bad_levels_are_refused_with_the_problem_named():
    assert check_levels([0.9, 0.5, 0.1]) == Q and check_levels(True) == Q
    for bad, words in [([0.0, 0.5], "strictly between 0 and 1"), ([0.5, 1.0], "strictly"),
                       ([1.5], "strictly"), ([], "strictly"), (["0.1"], "strictly"),
                       ([True], "strictly"), ([0.5, 0.1, 0.5], "repeat"),
                       (0.1, "list of levels")]:
        with pytest.raises(ValueError, match=words):
            check_levels(bad)


def test_too_few_errors_are_refused_with_the_number_needed():
    assert least_errors(Q) == 9 and least_errors((0.05, 0.5, 0.95)) == 19
    assert least_errors((0.25, 0.75)) == 3 and least_errors((0.5,)) == 0
    e = ErrorIntervals(np.zeros((8, 1, 1)), source="8 forecasts")
    with pytest.raises(ValueError, match="at least 9 validation errors.*8 forecasts gave 8"):
        e.bands(np.ones((1, 1)), Q)
    assert e.bands(np.ones((1, 1)), (0.25, 0.5, 0.75)).shape == (1, 1, 3)
    with pytest.raises(ValueError, match="do not fit"):
        e.bands(np.ones((2, 1)), (0.25, 0.75))         # 2 steps ahead, errors for 1
    with pytest.raises(ValueError, match=r"quantile 1e-300 needs at least 1e\+300 validation"):
        e.bands(np.ones((1, 1)), (1e-300, 0.5))        # the count in short, not 300 digits
    with pytest.raises(ValueError, match="at least 9,999 validation"):
        e.bands(np.ones((1, 1)), (1e-4,))


def test_quantiles_are_ordered_and_the_median_is_the_point():
    rng = np.random.default_rng(0)
    levels = (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)
    for shift in (0.0, 5.0, -5.0):             # unbiased, and errors all on one side
        e = ErrorIntervals(rng.normal(shift, 1.0, (40, 3, 2)))
        point = rng.normal(0, 10, (7, 3, 2))
        b = e.bands(point, levels)
        assert b.shape == (7, 3, 2, 7) and (np.diff(b, axis=-1) >= 0).all()
        np.testing.assert_array_equal(b[..., 3], point)
        assert (b[..., :3] <= point[..., None]).all() and (b[..., 4:] >= point[..., None]).all()
    # e_(q (n+1)) of n = 19 errors -9..9; the same bands whether 0.5 is asked or not
    e = ErrorIntervals(np.arange(-9.0, 10.0).reshape(19, 1, 1))
    np.testing.assert_allclose(e.bands(np.zeros((1, 1)), (0.1, 0.9))[0, 0], [-8.0, 8.0])
    np.testing.assert_allclose(e.bands(np.zeros((1, 1)), Q)[0, 0], [-8.0, 0.0, 8.0])


def test_the_weibull_rule_gives_nominal_expected_coverage():
    """Exchangeable errors: an 80 % band from n = 21 covers 80 % of new errors on average,
    where the conservative split-conformal order statistics would cover 18/22 = 81.8 %."""
    rng = np.random.default_rng(1)
    n, trials = 21, 40_000
    errors = rng.standard_normal((trials, n))
    lo, hi = np.quantile(errors, [0.1, 0.9], axis=1, method="weibull")
    new = rng.standard_normal(trials)
    assert abs(np.mean((new >= lo) & (new <= hi)) - 0.8) < 0.01
    srt = np.sort(errors, axis=1)                  # e_(2) and e_(20): the conservative rule
    assert np.mean((new >= srt[:, 1]) & (new <= srt[:, 19])) > 0.81


def test_relative_bands_scale_with_the_level():
    e = ErrorIntervals.from_forecasts(np.full((19, 1, 1), 50.0),
                                      np.linspace(40, 60, 19).reshape(19, 1, 1), relative=True)
    assert e.relative and e.errors.min() == pytest.approx(-0.2)
    small, large = (e.bands(np.array([[p]]), Q)[0, 0] for p in (100.0, 300.0))
    assert (large[2] - large[0]) == pytest.approx(3 * (small[2] - small[0]))
    absolute = ErrorIntervals(e.errors * 50)
    small, large = (absolute.bands(np.array([[p]]), Q)[0, 0] for p in (100.0, 300.0))
    assert (large[2] - large[0]) == pytest.approx(small[2] - small[0])
    with pytest.raises(ValueError, match="every forecast > 0"):
        ErrorIntervals.from_forecasts(np.zeros((3, 1, 1)), np.ones((3, 1, 1)), relative=True)


# ---------------------------------------------------------------------- rolling calibration
def test_rolling_quantiles_never_read_a_target_after_the_origin():
    """Step j of forecast k is known at origin i once origin[k] + j + 1 <= origin[i]: poison
    every later error whose target lies after origin i, and origin i's quantiles stay."""
    rng = np.random.default_rng(0)
    past, later = rng.normal(size=(30, 3, 2)), rng.normal(size=(25, 3, 2))
    origin = 100 + np.arange(25)
    q = rolling_quantiles(past, later, origin, [0.1, 0.9])
    assert q.shape == (25, 3, 2, 2)
    for i in (0, 1, 5, 24):
        for j in range(3):
            poisoned = later.copy()
            unseen = origin + j + 1 > origin[i]
            poisoned[unseen, j] = 1e6
            np.testing.assert_array_equal(
                rolling_quantiles(past, poisoned, origin, [0.1, 0.9])[i, j], q[i, j])
    # the first origin knows the validation errors alone; later ones a pool of the same size
    np.testing.assert_allclose(q[0], np.moveaxis(
        np.quantile(past, [0.1, 0.9], axis=0, method="weibull"), 0, -1))
    pool = np.concatenate([past[:, 2], later[:10, 2]])[-30:]          # origin 112, step 3
    np.testing.assert_allclose(q[12, 2], np.quantile(pool, [0.1, 0.9], axis=0,
                                                     method="weibull").T)
    with pytest.raises(ValueError, match="ascending"):
        rolling_quantiles(past, later, origin[::-1], [0.5])
    with pytest.raises(ValueError, match="must agree"):
        rolling_quantiles(past, later[:, :2], origin, [0.5])


def test_rolled_bands_widen_when_the_later_part_is_noisier():
    """Validation errors of size 1, later errors of size 5: the static band keeps missing
    them, the rolled one learns them as they are observed."""
    rng = np.random.default_rng(2)
    e = ErrorIntervals(rng.normal(0, 1, (100, 1, 1)))
    point = np.zeros((300, 1, 1))
    true = rng.normal(0, 5, (300, 1, 1))
    origin = np.arange(300)
    rolled, how = e.rolling_bands(point, true, origin, Q)
    static = e.bands(point, Q)
    cover = [float(np.mean((true >= b[..., 0]) & (true <= b[..., 2]))) for b in (rolled, static)]
    assert cover[1] < 0.4 < 0.7 < cover[0], cover
    assert "rolled: at each origin the last 100 errors" in how
    np.testing.assert_array_equal(rolled[0], static[0])       # nothing known yet
    assert (np.diff(rolled, axis=-1) >= 0).all()
    rel = ErrorIntervals(np.full((20, 1, 1), 0.1), relative=True)
    _, how = rel.rolling_bands(np.full((3, 1, 1), -1.0), np.ones((3, 1, 1)), np.arange(3), Q)
    assert "not rolled" in how
    assert rel.extended(np.full((3, 1, 1), -1.0), np.ones((3, 1, 1)), "test forecasts") is rel
    end = e.extended(point, true, "test forecasts")          # after the data: the last 100
    np.testing.assert_array_equal(end.errors, true[-100:])
    np.testing.assert_array_equal(end.past, e.errors)
    np.testing.assert_array_equal(end.validation_only().errors, e.errors)
    assert end.validation_only().describe() == e.describe()
    assert "then its 300 test forecasts, the last 100 kept" in end.describe()
    back = ErrorIntervals.from_dict(end.to_dict())
    np.testing.assert_array_equal(back.past, e.errors)
    assert back.describe() == end.describe()


# ---------------------------------------------------------------------- the hybrid
def test_hybrid_intervals_cover_about_their_share_of_a_noisy_series():
    y = _noisy_sine(600) + 5.0                     # iid noise around a wave, all > 0
    h = HybridForecaster(units=8, window=24, horizon=2, seasonality="additive")
    h.fit(y, epochs=8, batch_size=32, verbose=0)
    assert not h.intervals.relative and h.intervals.errors.shape[1:] == (2, 1)
    val = h.evaluate("val", quantiles=True)
    assert 0.75 <= val["coverage"]["80"] <= 0.85, val["coverage"]
    test = h.evaluate("test", quantiles=True)
    assert 0.7 <= test["coverage"]["80"] <= 0.9, test["coverage"]
    assert test["quantiles"] == list(Q) and 0 < test["pinball"] < test["mae"]
    assert test["intervals"].startswith("from the absolute")
    assert 0.5 <= test["coverage_without_rolling"]["80"] <= 1      # the validation's alone
    q = h.predict(quantiles=True)
    assert q.shape == (2, 1, 3) and (np.diff(q, axis=-1) >= 0).all()
    np.testing.assert_array_equal(q[..., 1], h.predict())
    assert h.predict(steps=1, quantiles=[0.25, 0.75]).shape == (1, 1, 2)
    with pytest.raises(ValueError, match="horizon=2 steps at most"):
        h.predict(steps=3, quantiles=True)


def test_multiplicative_hybrid_band_grows_with_the_level():
    h = HybridForecaster(season=12, units=4, window=12)
    h.fit(airline_like(), epochs=2, verbose=0)
    assert h.multiplicative and h.intervals.relative
    q = h.predict(quantiles=True)[0, 0]
    widths = h.intervals.bands(np.array([[[100.0]], [[200.0]]]), Q)[:, 0, 0]
    assert widths[1, 2] - widths[1, 0] == pytest.approx(2 * (widths[0, 2] - widths[0, 0]))
    assert q[0] > 0                                # a relative band stays positive


def test_hybrid_save_load_keeps_the_intervals_and_an_old_model_says_so(tmp_path):
    h = HybridForecaster(season=12, units=4, window=12)
    h.fit(airline_like(), epochs=1, verbose=0)
    h.save(tmp_path / "m")
    back = HybridForecaster.load(tmp_path / "m")
    np.testing.assert_array_equal(back.intervals.errors, h.intervals.errors)
    np.testing.assert_allclose(back.predict(quantiles=True), h.predict(quantiles=True))
    meta_path = tmp_path / "m" / "hybrid.json"
    meta = json.loads(meta_path.read_text())
    del meta["intervals"]                          # as saved before intervals existed
    meta_path.write_text(json.dumps(meta))
    old = HybridForecaster.load(tmp_path / "m")
    np.testing.assert_allclose(old.predict(), h.predict())     # point forecasts still work
    for call in (lambda: old.predict(quantiles=True),
                 lambda: old.evaluate("val", quantiles=True)):
        with pytest.raises(ValueError, match="no prediction intervals.*no validation errors"):
            call()
    none = HybridForecaster(season=12, units=4, window=12)
    none.fit(airline_like(), epochs=1, val=0.0, verbose=0)
    with pytest.raises(ValueError, match="without a validation part"):
        none.predict(quantiles=True)
    none.save(tmp_path / "n")
    with pytest.raises(ValueError, match="without a validation part"):
        HybridForecaster.load(tmp_path / "n").predict(quantiles=True)


# ---------------------------------------------------------------------- auto and the mean
def test_auto_with_quantiles_keeps_hybrid_and_mean_and_reports_the_chosen_band(tmp_path):
    auto = _auto()
    auto.fit(airline_like(), epochs=2, batch_size=16, verbose=0, seed=0)
    assert {"rnn", "hybrid", "mean"} <= set(auto.candidates)
    assert all("rmse" in auto.validation[n] for n in ("rnn", "hybrid", "mean"))
    for kind in ("hybrid", "mean"):
        _force(auto, kind)
        model = auto.chosen
        assert model.intervals.relative           # positive series, multiplicative hybrid
        q = auto.predict(quantiles=True)
        assert q.shape == (1, 1, 3) and (np.diff(q, axis=-1) >= 0).all()
        np.testing.assert_allclose(q[..., 1], auto.predict())
        m = auto.evaluate("test")
        assert m["quantiles"] == list(Q) and set(m["coverage"]) == {"80"}
        assert m["intervals"].startswith("from the relative") and kind in m["intervals"]
        # the chosen model's band on the frame's targets, not the rnn's; rolled: each origin
        # from the last n relative errors known there (horizon 1: the earlier origins')
        origin, y = auto.origins_and_targets("test")
        pred = _forecast_at(model, auto._frame, origin)[:, 0, 0]
        e_val, e_test = model.intervals.errors[:, 0, 0], y[:, 0, 0] / pred - 1
        inside = []
        for i in range(len(pred)):
            pool = np.concatenate([e_val, e_test[:i]])[-len(e_val):]
            lo, hi = np.quantile(pool, [0.1, 0.9], method="weibull")
            inside.append(pred[i] * (1 + min(lo, 0)) <= y[i, 0, 0] <= pred[i] * (1 + max(hi, 0)))
        assert m["coverage"]["80"] == pytest.approx(np.mean(inside))
        assert "rolled: at each origin the last" in m["intervals"]
        lo, hi = np.quantile(e_val, [0.1, 0.9], method="weibull")     # validation alone
        fixed = (pred * (1 + min(lo, 0)) <= y[:, 0, 0]) & (y[:, 0, 0] <= pred * (1 + max(hi, 0)))
        assert m["coverage_without_rolling"]["80"] == pytest.approx(np.mean(fixed))
        assert auto.evaluate("val")["intervals"] == model.intervals.describe()
        metrics = auto.report(tmp_path / kind, future=3)
        assert metrics["test"]["coverage"] == m["coverage"]
        # after the data: the last n of the validation and test errors, saved so
        n = len(e_val)
        np.testing.assert_allclose(model.intervals.errors[:, 0, 0],
                                   np.concatenate([e_val, e_test])[-n:])
        np.testing.assert_array_equal(model.intervals.past[:, 0, 0], e_val)
        assert auto.evaluate("test")["coverage"] == m["coverage"]   # still rolled from e_val
        after = auto.predict(quantiles=True)
        band = metrics["future"]["intervals"]["x0"]["80"]
        assert len(band["lower"]) == 1 and band["lower"][0] <= band["upper"][0]
        assert [band["lower"][0], band["upper"][0]] == pytest.approx(after[0, 0, [0, 2]])
        assert metrics["plot"]["interval"]["label"] == \
            f"80 % interval (from the {kind}'s last {n} validation and test errors)"
        assert f"then its {len(e_test)} test forecasts" in metrics["future"]["intervals_how"]
        auto.save(tmp_path / f"{kind}-model")
        back = AutoForecaster.load(tmp_path / f"{kind}-model")
        assert back.config.quantiles == Q
        np.testing.assert_allclose(back.predict(quantiles=True), after)
        np.testing.assert_allclose(back.chosen.intervals.past, model.intervals.past)
    # a mean saved before its errors were kept: loads, says why it has no intervals
    rec_path = tmp_path / "mean-model" / AUTO_FILE
    rec = json.loads(rec_path.read_text())
    del rec["mean_intervals"]
    rec_path.write_text(json.dumps(rec))
    old = AutoForecaster.load(tmp_path / "mean-model")
    assert old.predict().shape == (1, 1)
    with pytest.raises(ValueError, match="no prediction intervals.*no validation errors"):
        old.predict(quantiles=True)


def test_auto_leaves_out_a_candidate_whose_errors_are_too_few():
    auto = _auto(quantiles=(0.01, 0.5, 0.99), epochs=1)  # needs 99 validation errors
    auto.fit(airline_like(), epochs=1, batch_size=16, verbose=0, seed=0)
    assert set(auto.candidates) == {"rnn"}
    for name in ("hybrid", "mean"):
        assert "at least 99 validation errors" in auto.validation[name]["skipped"]


def test_quantile_forecaster_calibrates_with_the_weibull_rule(tmp_path):
    f = Forecaster(cell="gru", units=4, window=12, quantiles=Q)
    f.fit(_noisy_sine(200), epochs=1, verbose=0)
    x, _, origin, y = f._targets("val")
    raw = f._quantile_levels(f._scale(x), f._data.values[origin][:, f.target_idx],
                             calibrated=False)
    scores = np.maximum(raw[..., 0] - y, y - raw[..., 2])
    np.testing.assert_allclose(f.conformal["0.1"],
                               np.quantile(scores, 0.8, axis=0, method="weibull"))
    # the test part rolled: origin i widens by the 0.8-quantile of the last n scores known
    x, _, origin, y = f._targets("test")
    raw = f._quantile_levels(f._scale(x), f._data.values[origin][:, f.target_idx],
                             calibrated=False)
    later = np.maximum(raw[..., 0] - y, y - raw[..., 2])[:, 0, 0]
    inside = []
    for i in range(len(later)):
        c = np.quantile(np.concatenate([scores[:, 0, 0], later[:i]])[-len(scores):], 0.8,
                        method="weibull")
        lo, med, hi = raw[i, 0, 0]
        inside.append(min(lo - c, med) <= y[i, 0, 0] <= max(hi + c, med))
    m = f.evaluate("test")
    assert m["coverage"]["80"] == pytest.approx(np.mean(inside))
    c = f.conformal["0.1"][0][0]                          # the validation scores alone
    fixed = [min(lo - c, med) <= t <= max(hi + c, med)
             for (lo, med, hi), t in zip(raw[:, 0, 0], y[:, 0, 0])]
    assert m["coverage_without_rolling"]["80"] == pytest.approx(np.mean(fixed))
    assert "coverage_without_rolling" not in f.evaluate("val")
    assert f"last {len(scores)} scores known there" in m["intervals"]
    assert "rolled" not in f.evaluate("val")["intervals"]
    # after the data: the last n of the validation and test scores, saved so
    f.roll_to_end("test")
    end = np.quantile(np.concatenate([scores[:, 0, 0], later])[-len(scores):], 0.8,
                      method="weibull")
    assert f.conformal["0.1"][0][0] == pytest.approx(end)
    assert f.interval_how == f"calibrated on the last {len(scores)} validation and test scores"
    assert f.evaluate("test")["coverage"] == m["coverage"]            # still rolled from val
    f.save(tmp_path / "q")
    back = Forecaster.load(tmp_path / "q")
    assert back.interval_how == f.interval_how and back.conformal == f.conformal
    np.testing.assert_allclose(back.predict(steps=1, series=_noisy_sine(200), quantiles=True),
                               f.predict(steps=1, series=_noisy_sine(200), quantiles=True))


def test_cli_auto_with_quantiles_fits_every_candidate_and_prints_the_coverage(tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["forecast", "airline", "--quick", "--quiet", "--stats",
                                      "none", "--quantiles", "0.1,0.5,0.9", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "left out" not in result.output and "80 % interval (quick): covers" in result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert all("rmse" in metrics["auto"]["validation"][n] for n in ("rnn", "hybrid", "mean"))
    assert "80" in metrics["test"]["coverage"] and metrics["plot"]["interval"]["coverage"] == 80
    alone = 100 * metrics["test"]["coverage_without_rolling"]["80"]
    assert f"({alone:.1f} % with the validation errors alone at every origin)" in result.output


def test_auto_backtest_folds_report_the_chosen_bands_coverage():
    """The hybrid or the mean chosen: each backtest fold's coverage is the rolled band's on
    its windows (the folds' windows-weighted mean is evaluate's); refitted, each fold has
    the refitted model's own."""
    auto = _auto()
    auto.fit(airline_like(), epochs=2, batch_size=16, verbose=0, seed=0)
    for kind in ("hybrid", "mean"):
        _force(auto, kind)
        m = auto.evaluate("test", backtest=3)
        folds = m["backtest"]["folds"]
        w = np.array([fold["windows"] for fold in folds], dtype=float)
        cover = np.array([fold["coverage"]["80"] for fold in folds])
        assert float(np.sum(w * cover) / w.sum()) == pytest.approx(m["coverage"]["80"])
        assert m["backtest"]["overall"]["coverage"] == pytest.approx(m["coverage"])
        assert m["backtest"]["overall"]["pinball"] == pytest.approx(m["pinball"])
    refit = auto.evaluate("test", backtest=2, refit=True)["backtest"]
    assert all(0.0 <= fold["coverage"]["80"] <= 1.0 for fold in refit["folds"])
