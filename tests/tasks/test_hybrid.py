from contextlib import nullcontext

import numpy as np
import pytest
import torch

import rnnkit as rk
from rnnkit.tasks import Forecaster
from rnnkit.tasks.hybrid import HybridConfig, HybridForecaster, Smoothing, _FastSmoothing
from rnnkit.training import using_threads


def _seasonal(n=96, trend=1.0, amp=0.2, offset=100.0, noise=0.02, seed=0):
    """A trending series with a season of 12 whose swing grows with the level."""
    t = np.arange(n)
    rng = np.random.default_rng(seed)
    return (offset + trend * t) * (1 + amp * np.sin(2 * np.pi * t / 12)) \
        * (1 + noise * rng.standard_normal(n))


def _fitted(y=None, epochs=1, **options):
    options = {"season": 12, "units": 4, "window": 6} | options
    f = HybridForecaster(**options)
    f.fit(_seasonal() if y is None else y, epochs=epochs, verbose=0)
    return f


@pytest.mark.parametrize("seasonality", ["multiplicative", "additive"])
@pytest.mark.parametrize("horizon", [1, 15])
def test_normalisation_is_invertible(seasonality, horizon):
    f = _fitted(_seasonal(150), seasonality=seasonality, horizon=horizon, epochs=2)
    y = torch.as_tensor(f.series)
    with torch.no_grad():
        level, season = f.smoothing(y)
        o = np.arange(f.config.window - 1, len(y) - horizon)
        x, z = f._normalise(y, level, season, o, horizon)
    rows = o[:, None] + np.arange(-f.config.window + 1, 1)
    lt = level[o][:, None]
    back = f._from_normal(x[..., 0], lt, season[rows]).numpy()
    np.testing.assert_allclose(back, f.series[rows], rtol=0, atol=1e-6)
    ahead = o[:, None] + (np.arange(horizon) % 12) + 1       # phase as known at the origin
    targets = f._from_normal(z, lt, season[ahead]).numpy()
    np.testing.assert_allclose(targets, f.series[o[:, None] + np.arange(1, horizon + 1)],
                               rtol=0, atol=1e-6)
    assert not np.allclose(x.numpy(), 0)                     # it did normalise something


def test_multiplicative_factors_stay_positive_and_coefficients_in_unit_interval():
    f = _fitted(lr=1.0, smoothing_lr=50.0, epochs=4, loss="mae")    # huge steps on purpose
    parts = f.components()
    start = Smoothing(12, True)                              # alpha 0.3, gamma 0.2 at the start
    assert abs(parts["alpha"] - float(start.alpha.detach())) > 0.05    # the steps moved them
    assert np.isfinite(parts["season"]).all() and (parts["season"] > 0).all()
    assert (parts["level"] > 0).all()
    assert 0 < parts["alpha"] < 1 and 0 < parts["gamma"] < 1
    # even at the logits' extremes, where a plain sigmoid rounds to exactly 0 or 1
    es = Smoothing(period=4, multiplicative=True)
    with torch.no_grad():
        es.alpha_logit.fill_(80.0)
        es.gamma_logit.fill_(-80.0)
        es.season_logit.copy_(torch.tensor([30.0, -30.0, 5.0, -5.0]))
        level, season = es(torch.arange(1.0, 21.0, dtype=torch.float64))
        assert 0 < float(es.alpha) < 1 and 0 < float(es.gamma) < 1
    assert torch.isfinite(level).all() and (season > 0).all()


def test_smoothing_matches_the_plain_recurrence():
    """The block-vectorised smoothing equals the textbook loop, one step at a time."""
    y = torch.as_tensor(_seasonal(50))
    es = Smoothing(period=12, multiplicative=True, alpha=0.4, gamma=0.3,
                   factors=np.linspace(-0.2, 0.2, 12))
    with torch.no_grad():
        level, season = es(y)
        a, g = float(es.alpha), float(es.gamma)
        s = list(es.initial_season().numpy())                # s[t] for t < 12
        ll = []
        for t in range(len(y)):
            u = float(y[t]) / s[t]
            ll.append(u if t == 0 else a * u + (1 - a) * ll[-1])
            s.append(g * float(y[t]) / ll[t] + (1 - g) * s[t])    # s[t + 12]
    np.testing.assert_allclose(level.numpy(), ll, rtol=1e-10)
    np.testing.assert_allclose(season.numpy(), s, rtol=1e-10)


def test_forecasts_never_see_their_targets():
    f = _fitted()
    y = f.series.copy()
    t = 70
    before = f._forecast(y, np.array([t]))
    y[t + 1:] *= 3.0                                         # change every value after t
    np.testing.assert_array_equal(f._forecast(y, np.array([t])), before)


@pytest.mark.parametrize("difference, horizon", [(True, 1), (False, 1), (True, 3)])
def test_evaluate_scores_the_forecasters_targets(difference, horizon):
    airline = rk.datasets.load("airline")
    f = Forecaster(cell="gru", units=4, window=24, horizon=horizon, difference=difference,
                   season=12)
    f.fit(airline, epochs=1, verbose=0)
    h = HybridForecaster(season=12, units=4, window=12, horizon=horizon,
                         split_rows="changes" if difference else "levels")
    h.fit(airline, epochs=1, verbose=0)
    for part in ("val", "test"):
        mine, theirs = h.evaluate(part), f.evaluate(part)
        check = f.check(airline)[part]
        o = h.origins(part)
        assert mine["windows"] == theirs["windows"] == check["windows"]
        assert airline.times[o[0] + 1] == check["from"] and \
            airline.times[o[-1] + horizon] == check["to"]
        for name in ("last_value", "seasonal_naive"):       # same guesses on the same targets
            for k in ("rmse", "mae"):
                assert mine[f"baseline_{name}"][k] == pytest.approx(
                    theirs[f"baseline_{name}"][k], rel=1e-12)
    assert h.evaluate("test")["windows"] == (22 - horizon if difference else 23 - horizon)


def test_save_load_round_trip_gives_identical_predictions(tmp_path):
    f = _fitted(horizon=2, epochs=2)
    f.save(tmp_path / "m")
    g = HybridForecaster.load(tmp_path / "m")
    np.testing.assert_array_equal(g.predict(steps=7), f.predict(steps=7))
    assert g.evaluate("test") == f.evaluate("test")
    assert g.config == f.config and g.multiplicative == f.multiplicative
    with pytest.raises(ValueError, match="hybrid.json is missing"):
        HybridForecaster.load(tmp_path)
    (tmp_path / "m" / "smoothing.safetensors").unlink()
    with pytest.raises(ValueError, match="smoothing.safetensors: no such file"):
        HybridForecaster.load(tmp_path / "m")


def test_predict_feeds_back_past_the_horizon_and_level_only_series():
    f = _fitted(horizon=3)
    assert f.predict().shape == (3, 1) and f.predict(steps=8).shape == (8, 1)
    np.testing.assert_allclose(f.predict(steps=8)[:3], f.predict())
    longer = np.concatenate([f.series, f.series[-12:] * 1.1])
    assert np.isfinite(f.predict(steps=4, series=longer)).all()
    walk = np.cumsum(np.random.default_rng(0).standard_normal(120))   # crosses zero
    g = _fitted(walk, season=None, seasonality="auto")
    assert not g.multiplicative and np.isfinite(g.predict(steps=5)).all()
    assert np.isnan(g.components()["gamma"])


def test_bad_input_errors():
    with pytest.raises(ValueError, match="too few for 2 seasons of 12"):
        _fitted(_seasonal(30))
    y = _seasonal()
    y[40] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        _fitted(y)
    y = _seasonal() - 90                                     # some values <= 0
    with pytest.raises(ValueError, match="must be > 0.*seasonality='additive'"):
        _fitted(y, seasonality="multiplicative")
    _fitted(y, seasonality="additive")                       # fine additively
    for bad in ({"seasonality": "mult"}, {"season": 0}, {"window": 0}, {"cell": "rnn"},
                {"level_penalty": -1.0}, {"smoothing_lr": 0}, {"loss": "huber"},
                {"split_rows": "diff"}):
        with pytest.raises(ValueError):
            HybridConfig(**bad)
    with pytest.raises(ValueError, match="not trained yet"):
        HybridForecaster(season=12).predict()
    weather = rk.datasets.load("weather", origin="JFK")      # wind_gust is mostly NaN
    part = rk.datasets.Series("w", weather.times[:400], weather.values[:400].copy(),
                              weather.columns)
    assert np.isnan(part.values[:, 5]).any() and np.isfinite(part.values[:, 0]).all()
    assert _fitted(part, season=24, target="temp").column == "temp"   # only temp is read
    part.values[200, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        _fitted(part, season=24, target="temp")
    with pytest.raises(ValueError, match="not a column"):
        _fitted(target="passengers")
    f = _fitted()
    with pytest.raises(ValueError, match="steps must be a positive int"):
        f.predict(steps=0)
    with pytest.raises(ValueError, match="part must be one of"):
        f.evaluate("holdout")
    with pytest.raises(ValueError, match="the val part has 14 target rows, fewer than horizon"):
        _fitted(horizon=15)
    with pytest.raises(ValueError, match="epochs must be an int"):
        f.fit(_seasonal(), epochs=0)


@pytest.mark.parametrize("period, multiplicative, n", [(12, True, 50), (12, False, 61),
                                                       (0, True, 130), (0, False, 64),
                                                       (5, True, 3)])
def test_fast_smoothing_matches_the_readable_one(period, multiplicative, n):
    """The NumPy recurrence with its hand-derived backward (the default on the CPU in
    float64) equals the torch ops differentiated by autograd, values and gradients;
    ``rnnkit.readable()`` selects the latter.  n = 50, 61: a last block shorter than m."""
    rng = np.random.default_rng(1)
    y = torch.as_tensor(_seasonal(n))
    es = Smoothing(period, multiplicative, scale=float(y.std()), alpha=0.4, gamma=0.3,
                   factors=rng.normal(0, 0.1, period) if period else None)
    d_level = torch.as_tensor(rng.standard_normal(n))
    d_season = torch.as_tensor(rng.standard_normal(n + max(period, 1)))
    got = {}
    for name, ctx in (("fast", nullcontext()), ("readable", rk.readable())):
        with ctx:
            level, season = es(y)
        got[name] = (level.detach(), season.detach(), torch.autograd.grad(
            (level * d_level).sum() + (season * d_season).sum(), list(es.parameters()),
            allow_unused=not period))
        got[name + " graph"] = type(level.grad_fn).__name__
    assert got["fast graph"] == "_FastSmoothingBackward" != got["readable graph"]
    (level, season, grads), (level_r, season_r, grads_r) = got["fast"], got["readable"]
    torch.testing.assert_close(level, level_r, rtol=1e-13, atol=0)
    torch.testing.assert_close(season, season_r, rtol=1e-13, atol=1e-13)
    for g, g_r in zip(grads, grads_r):
        torch.testing.assert_close(g, g_r, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("period, multiplicative", [(4, True), (4, False), (0, True)])
def test_fast_smoothing_backward_passes_gradcheck(period, multiplicative):
    """Centred differences in float64 against the hand-derived backward (alpha, gamma and
    the initial factors; 11 rows: two full blocks of 4 and a short one)."""
    y = torch.as_tensor(_seasonal(11, noise=0.1))
    alpha = torch.tensor(0.35, dtype=torch.float64, requires_grad=True)
    gamma = torch.tensor(0.25, dtype=torch.float64, requires_grad=True) if period else None
    s0 = torch.tensor([1.1, 0.9, 1.05, 0.95], dtype=torch.float64,
                      requires_grad=True) if period else None

    def smooth(*inputs):
        return _FastSmoothing.apply(y, *inputs, period, multiplicative)

    inputs = (alpha, gamma, s0) if period else (alpha, None, None)
    assert torch.autograd.gradcheck(smooth, inputs, eps=1e-6, atol=1e-7, rtol=1e-6)


def test_fast_smoothing_refuses_a_second_derivative_it_would_get_wrong():
    """The hand-derived backward is not itself differentiable: asking for d2/dalpha2 is an
    error, not a silently wrong number."""
    y = torch.as_tensor(_seasonal(11, noise=0.1))
    alpha = torch.tensor(0.35, dtype=torch.float64, requires_grad=True)
    level = _FastSmoothing.apply(y, alpha, None, None, 0, True)[0]
    (g,) = torch.autograd.grad(level.sum(), alpha, create_graph=True)
    with pytest.raises(RuntimeError, match="once_differentiable|does not require grad"):
        torch.autograd.grad(g, alpha)


def test_fit_with_the_fast_smoothing_learns_what_the_readable_one_does():
    fast = _fitted(epochs=2)
    with rk.readable():
        readable = _fitted(epochs=2)
    for p, q in zip([*fast.model.parameters(), *fast.smoothing.parameters()],
                    [*readable.model.parameters(), *readable.smoothing.parameters()]):
        torch.testing.assert_close(p, q, rtol=1e-9, atol=1e-11)
    assert fast.history["val_rmse"] == pytest.approx(readable.history["val_rmse"], rel=1e-9)


@pytest.fixture
def loss_threads(monkeypatch):
    """The torch thread count of every training batch of the fits that follow."""
    seen = []
    loss = HybridForecaster._loss

    def spy(self, y, origins):
        seen.append(torch.get_num_threads())
        return loss(self, y, origins)

    monkeypatch.setattr(HybridForecaster, "_loss", spy)
    return seen


def test_fit_runs_a_small_model_on_one_thread(loss_threads):
    """As Forecaster.fit (training/threads.py): torch's thread pool costs a GRU(4) step more
    than it gives, and stalls on a busy machine.  The caller's count comes back after."""
    with using_threads(2):
        _fitted()
        assert torch.get_num_threads() == 2
    assert loss_threads and set(loss_threads) == {1}


def test_fit_takes_the_threads_it_is_given_and_names_a_bad_count(loss_threads):
    h = HybridForecaster(HybridConfig(units=4, window=12, season=12))
    with using_threads(1):
        h.fit(_seasonal(120), epochs=1, verbose=0, threads=2)
        assert torch.get_num_threads() == 1
    assert loss_threads and set(loss_threads) == {2}
    with pytest.raises(ValueError, match="threads must be a positive int or None, got 0"):
        h.fit(_seasonal(120), epochs=1, verbose=0, threads=0)
