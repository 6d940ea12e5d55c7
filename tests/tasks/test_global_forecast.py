import numpy as np
import pandas as pd
import pytest
import torch

from rnnkit.datasets.series import Series
from rnnkit.tasks import Forecaster
from rnnkit.tasks.global_forecast import GlobalConfig, GlobalForecaster


def _series(n=150, seed=0):
    """Three related series on very different scales."""
    t = np.arange(n)
    rng = np.random.default_rng(seed)
    return {"a": np.sin(t / 5) + 0.05 * rng.standard_normal(n),
            "b": 500 + 80 * np.sin(t / 7) + 4 * rng.standard_normal(n),
            "c": -3 + 0.01 * t + 0.2 * np.cos(t / 4)}


def _fitted(series=None, epochs=2, fit=None, **options):
    options = {"units": 6, "window": 8} | options
    g = GlobalForecaster(**options)
    g.fit(_series() if series is None else series, epochs=epochs, verbose=0,
          **(fit or {}))
    return g


def _weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("scaler", ["standard", "minmax", "mean"])
@pytest.mark.parametrize("difference", [False, True])
def test_per_series_scaling_inverts_exactly(scaler, difference):
    g = _fitted(scaler=scaler, difference=difference, epochs=1)
    for key, y in _series().items():
        rows = np.diff(y)[:, None] if difference else y[:, None]
        back = g.unscale(key, g.scale(key, rows))
        np.testing.assert_allclose(back, rows, rtol=1e-12, atol=1e-12)
        a, b = g._series[key].parts["train"]                    # its training rows
        train = g.scale(key, rows[a:b])
        if scaler == "standard":                 # each series by its own mean and sd
            assert abs(train.mean()) < 1e-9 and abs(train.std() - 1) < 1e-9
        elif scaler == "minmax":
            assert abs(train.min()) < 1e-12 and abs(train.max() - 1) < 1e-12
        else:
            assert abs(np.abs(train).mean() - 1) < 1e-9


@pytest.mark.parametrize("scaler", ["standard", "mean"])
def test_a_series_scaled_by_1000_gets_forecasts_1000_times_as_large(scaler):
    base = _series()
    shift = 5.0 if scaler == "standard" else 0.0          # "mean" divides, never shifts
    bigger = base | {"b": 1000 * base["b"] + shift}
    g1, g2 = (_fitted(s, scaler=scaler, id_embedding=2) for s in (base, bigger))
    np.testing.assert_allclose(g2.predict("b", steps=1), 1000 * g1.predict("b", steps=1)
                               + shift, rtol=1e-4)
    np.testing.assert_allclose(g2.predict("a", steps=1), g1.predict("a", steps=1), rtol=1e-4)


@pytest.mark.parametrize("difference", [False, True])
def test_test_targets_never_enter_training(difference):
    clean = _series()
    g1 = _fitted(clean, difference=difference, id_embedding=2, epochs=3)
    poisoned = {}
    for key, y in clean.items():
        origin, _ = g1.origins_and_targets(key, "test")
        y = y.copy()
        y[origin[0] + 1:] = 1e6                  # every test target of every series
        poisoned[key] = y
    g2 = _fitted(poisoned, difference=difference, id_embedding=2, epochs=3)
    w1, w2 = _weights(g1.model), _weights(g2.model)
    assert all(torch.equal(w1[k], w2[k]) for k in w1)
    assert g1.history == g2.history
    for key in clean:
        assert g1.scalers[key].to_dict() == g2.scalers[key].to_dict()
    assert g1.evaluate("val") == g2.evaluate("val")
    assert g2.evaluate("test")["overall"]["rmse"] > 1e5     # the poison is in the targets


def test_id_embedding_changes_predictions_per_id():
    g = _fitted(id_embedding=3, epochs=2)
    x = g.scale("a", _series()["a"][:8, None])[None]         # one window, read as each id
    out = [g._forecast_scaled(x, np.array([i]), 1) for i in range(3)]
    assert not np.allclose(out[0], out[1]) and not np.allclose(out[1], out[2])
    blind = _fitted(id_embedding=0, epochs=2)
    same = [blind._forecast_scaled(x, np.array([i]), 1) for i in range(3)]
    assert np.array_equal(same[0], same[1]) and np.array_equal(same[1], same[2])
    assert g.model.ids.weight.shape == (3, 3)


@pytest.mark.parametrize("horizon", [1, 3])
@pytest.mark.parametrize("difference", [False, True])
def test_same_targets_as_a_per_series_forecaster(horizon, difference):
    g = _fitted(horizon=horizon, difference=difference, epochs=1)
    for key, y in _series().items():
        f = Forecaster(g.config.forecast_config())
        f.fit(Series(key, np.arange(len(y)).astype(str), y, ("x0",)), epochs=1, verbose=0)
        for part in ("val", "test"):
            o1, y1 = f.origins_and_targets(part)
            o2, y2 = g.origins_and_targets(key, part)
            assert np.array_equal(o1, o2) and np.array_equal(y1, y2)
    r = g.evaluate()
    assert set(r["series"]) == {"a", "b", "c"}
    assert r["overall"]["windows"] == sum(v["windows"] for v in r["series"].values())


def test_one_series_without_ids_is_the_per_series_forecaster():
    y = _series()["b"]
    s = Series("b", np.arange(len(y)).astype(str), y, ("x0",))
    g = _fitted({"b": s}, scaler="minmax", epochs=3)
    f = Forecaster(g.config.forecast_config())
    f.fit(s, epochs=3, verbose=0)
    np.testing.assert_allclose(g.predict("b", steps=1), f.predict(steps=1), rtol=1e-6)
    assert g.evaluate()["series"]["b"]["rmse"] == pytest.approx(f.evaluate()["rmse"], rel=1e-6)


def test_a_long_table_fits_as_the_dict_does():
    series = _series()
    table = pd.DataFrame({"id": np.repeat(list(series), 150),
                          "t": np.tile(np.arange(150), 3),
                          "y": np.concatenate(list(series.values()))})
    g1 = _fitted(series, id_embedding=2)
    g2 = _fitted(table, id_embedding=2, fit={"id_column": "id", "time_column": "t"})
    assert g2.ids == ["a", "b", "c"]
    w1, w2 = _weights(g1.model), _weights(g2.model)
    assert all(torch.equal(w1[k], w2[k]) for k in w1)
    frames = {k: pd.DataFrame({"y": v}) for k, v in series.items()}    # DataFrames too
    assert _fitted(frames, epochs=1).columns == ("y",)


@pytest.mark.parametrize("id_embedding", [0, 3])
def test_save_load_round_trip_gives_identical_predictions(tmp_path, id_embedding):
    g = _fitted(id_embedding=id_embedding, difference=True, scaler="mean")
    g.save(tmp_path / "m")
    h = GlobalForecaster.load(tmp_path / "m")
    assert h.ids == g.ids and h.config == g.config
    for key, y in _series().items():
        assert np.array_equal(h.predict(key, steps=4), g.predict(key, steps=4))
        assert np.array_equal(h.predict(key, series=y[:60]), g.predict(key, series=y[:60]))
    assert not (tmp_path / "m" / "weights.safetensors").read_bytes().startswith(b"\x80")
    if id_embedding:
        (tmp_path / "m" / "ids.safetensors").unlink()
        with pytest.raises(ValueError, match="ids.safetensors"):
            GlobalForecaster.load(tmp_path / "m")
    with pytest.raises(ValueError, match="global_forecaster.json is missing"):
        GlobalForecaster.load(tmp_path)


def test_integer_ids_survive_save_and_load(tmp_path):
    g = _fitted({7: _series()["a"], 9: _series()["b"]}, id_embedding=2, epochs=1)
    g.save(tmp_path / "m")
    h = GlobalForecaster.load(tmp_path / "m")
    assert h.ids == [7, 9]
    assert np.array_equal(h.predict(9), g.predict(9))


def _raises(match, series, **options):
    with pytest.raises(ValueError, match=match):
        _fitted(series, epochs=1, **options)


def test_bad_series_are_refused_naming_the_problem():
    s = _series()
    _raises("series is empty", {})
    _raises("dict id -> series", [s["a"], s["b"]])
    _raises("dict id -> series", s["a"])
    _raises("same columns.*'a'.*'b'", {"a": pd.DataFrame({"y": s["a"]}),
                                       "b": pd.DataFrame({"z": s["b"]})})
    _raises("same columns", {"a": s["a"], "b": np.stack([s["b"], s["b"]], axis=1)})
    _raises("series 'short': the training part has 6 rows", {"a": s["a"], "short": s["b"][:10]})
    _raises("series 'tiny' has 5 rows, too few", {"a": s["a"], "tiny": s["b"][:5]})
    nan = s["b"].copy()
    nan[40] = np.nan
    _raises("'b'.*NaN.*row 41", {"a": s["a"], "b": nan})
    _raises("ids must be strings or ints", {1.5: s["a"]})
    _raises("must be numbers", {"a": ["x"] * 150})
    _raises("targets", {"a": s["a"]}, targets="missing")
    table = pd.DataFrame({"id": ["a"] * 150, "y": s["a"]})
    with pytest.raises(ValueError, match="id_column='key' is not a column"):
        GlobalForecaster().fit(table, id_column="key", verbose=0)
    with pytest.raises(ValueError, match="long table"):
        GlobalForecaster().fit(s, id_column="id", verbose=0)


def test_bad_options_and_calls_are_refused():
    for bad in (-1, True, 1.5):
        with pytest.raises(ValueError, match="id_embedding"):
            GlobalConfig(id_embedding=bad)
    with pytest.raises(ValueError, match="scaler"):
        GlobalConfig(scaler="robust")
    with pytest.raises(ValueError, match="window"):
        GlobalConfig(window=0)
    with pytest.raises(ValueError, match="not trained yet"):
        GlobalForecaster().predict_windows("a", np.zeros((1, 24, 1)))
    g = _fitted(epochs=1)
    with pytest.raises(ValueError, match="unknown series id 'z'.*'a', 'b', 'c'"):
        g.predict("z")
    with pytest.raises(ValueError, match="unknown series id"):
        g.origins_and_targets("z")
    with pytest.raises(ValueError, match="steps"):
        g.predict("a", steps=0)
    with pytest.raises(ValueError, match="at least 8 finite rows"):
        g.predict("a", series=np.ones(3))
    with pytest.raises(ValueError, match="part must be one of"):
        g.evaluate("future")
    with pytest.raises(ValueError, match="windows must be"):
        g.predict_windows("a", np.zeros((2, 5, 1)))


def test_report_writes_metrics_and_training_plot(tmp_path):
    import json
    g = _fitted({3: _series()["a"], "b": _series()["b"]}, id_embedding=2)
    metrics = g.report(tmp_path / "r", future=5)
    saved = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert saved["test"]["series"]["b"]["rmse"] == metrics["test"]["series"]["b"]["rmse"]
    assert len(saved["future"]["3"]) == 5 and set(saved["val"]["series"]) == {"3", "b"}
    assert (tmp_path / "r" / "training.png").stat().st_size > 0


def test_history_beyond_float32_is_refused_by_name():
    g = _fitted(epochs=1)
    with pytest.raises(ValueError, match="too large for this model.*float32"):
        g.predict("a", series=np.full(20, 1e300))
    assert np.isfinite(g.predict("a", series=np.full(20, 1e20))).all()
