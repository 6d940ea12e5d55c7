import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import rnnkit as rk
from rnnkit.cli.main import app
from rnnkit.tasks import Forecaster

runner = CliRunner()


def _sine(n=300, noise=0.05):
    return rk.datasets.load("sine", length=n, step=0.3, noise=noise, seed=1)


def test_rnn_beats_the_naive_baselines_on_sine():
    f = Forecaster(cell="gru", units=16, window=20, horizon=1, season=21, lr=5e-3)
    f.fit(_sine(), epochs=40, batch_size=16, verbose=0)
    m = f.evaluate("test")
    assert m["rmse"] < 0.7 * m["baseline_last_value"]["rmse"]
    assert set(m) >= {"rmse", "mae", "mape", "rmse_scaled", "baseline_seasonal_naive"}


@pytest.mark.parametrize("strategy", ["direct", "recursive", "seq2seq"])
def test_strategies_shapes_and_forecasting_past_the_horizon(strategy):
    f = Forecaster(cell="lstm", units=8, window=12, horizon=4, strategy=strategy)
    f.fit(_sine(150), epochs=2, verbose=0)
    assert f.predict().shape == (4, 1) and f.predict(steps=10).shape == (10, 1)
    m = f.evaluate("val")
    assert len(m["rmse_by_step"]) == 4
    out_shape = f.model(torch.zeros(1, 12, 1)).shape
    assert out_shape == {"direct": (1, 4), "recursive": (1, 1), "seq2seq": (1, 12, 1)}[strategy]


def test_multivariate_direct_and_recursive_needs_all_targets():
    weather = rk.datasets.load("weather", origin="JFK").select(["temp", "humid", "pressure"])
    values, times, _ = rk.data.fill_missing(weather.values, "ffill", times=weather.times)
    series = rk.datasets.Series("w", times[:600], values[:600], weather.columns)
    f = Forecaster(cell="gru", units=8, window=24, horizon=3, targets=("temp",))
    f.fit(series, epochs=1, verbose=0)
    assert f.predict().shape == (3, 1)
    with pytest.raises(ValueError, match="feeds predictions back"):
        f.predict(steps=5)
    with pytest.raises(ValueError, match="every input column must be a target"):
        Forecaster(strategy="recursive", targets=("temp",)).fit(series, epochs=1, verbose=0)


def test_scaler_sees_only_training_rows():
    values = np.concatenate([np.linspace(0, 1, 200), np.linspace(5, 6, 100)])
    f = Forecaster(cell="simple", units=4, window=5, scaler="minmax")
    f.fit(values, epochs=1, val=0.15, test=0.2, verbose=0)
    a, b = f._data.parts["train"]
    assert b == 195 and np.isclose(f.scaler.inverse_transform(np.array([[1.0]]))[0, 0],
                                   values[:b].max())


def test_difference_beats_levels_on_a_trend():
    trend = np.arange(400.0) * 0.5 + np.sin(np.arange(400.0) * 0.4) * 3
    scores = {}
    for diff in (False, True):
        f = Forecaster(cell="gru", units=16, window=16, difference=diff, lr=5e-3)
        f.fit(trend, epochs=30, verbose=0)
        scores[diff] = f.evaluate("test")["rmse"]
    assert scores[True] < 0.5 * scores[False]        # levels leave the training range


def test_save_load_gives_identical_predictions(tmp_path):
    f = Forecaster(cell="lstm", units=8, window=10, horizon=2, difference=True, scaler="standard")
    f.fit(_sine(120), epochs=2, verbose=0)
    f.save(tmp_path / "f")
    g = Forecaster.load(tmp_path / "f")
    np.testing.assert_array_equal(g.predict(steps=6), f.predict(steps=6))
    series = _sine(200).values[-40:]
    np.testing.assert_array_equal(g.predict(series=series), f.predict(series=series))
    with pytest.raises(ValueError, match="not a saved Forecaster"):
        Forecaster.load(tmp_path / "nothing")


@pytest.mark.parametrize("kwargs, match", [
    ({"cell": "rnn"}, "cell must be one of"),
    ({"strategy": "magic"}, "strategy must be one of"),
    ({"window": 0}, "window must be a positive int"),
    ({"scaler": "log"}, "scaler must be 'minmax', 'standard' or None"),
    ({"bidirectional": True, "strategy": "seq2seq"}, "would let each step see"),
])
def test_bad_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Forecaster(**kwargs)


def test_bad_series():
    with pytest.raises(ValueError, match="too few for window \\+ horizon = 13"):
        Forecaster(window=12).fit(np.arange(10.0), verbose=0)
    with pytest.raises(ValueError, match="contains NaN"):
        Forecaster(window=2).fit([1.0, np.nan, 3.0, 4.0, 5.0], verbose=0)
    with pytest.raises(ValueError, match="targets \\['nope'\\] are not columns"):
        Forecaster(window=2, targets=("nope",)).fit(_sine(50), verbose=0)
    with pytest.raises(ValueError, match="not trained yet"):
        Forecaster().predict()


def test_cli_forecast_dataset_and_csv(tmp_path):
    result = runner.invoke(app, ["forecast", "airline", "--window", "12", "--units", "8",
                                 "--difference", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "naive: last value" in result.output and "naive: seasonal naive" in result.output
    csv = tmp_path / "prices.csv"
    rows = "\n".join(f"2020-01-{i % 28 + 1:02d},{100 + i + (i % 7)},{i}" for i in range(120))
    csv.write_text("Date,Close,Volume\n" + rows + "\n")
    out = tmp_path / "run"
    result = runner.invoke(app, ["forecast", str(csv), "--column", "Close", "--features",
                                 "Volume", "--date-column", "Date", "--window", "10",
                                 "--epochs", "2", "--units", "4", "--out", str(out)])
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test"]["windows"] > 0 and (out / "forecast.png").exists()
    assert metrics["training_step"].startswith("compiled: ")     # a 4-unit model qualifies
    assert "compiled training step" in result.output
    assert (out / "training.png").exists() and (out / "model" / "weights.safetensors").exists()


@pytest.mark.parametrize("args, match", [
    (["forecast", "nowhere.csv", "--column", "x"], "neither a series dataset"),
    (["forecast", "stocks", "--symbol", "XYZ"], "unknown symbol 'XYZ'"),
    (["forecast", "weather", "--column", "temp,pressure", "--dry-run"], "missing values"),
    (["forecast", "sine", "--strategy", "magic"], "strategy must be one of"),
    (["forecast", "airline", "--window", "140", "--dry-run"], "training part has 100 rows"),
])
def test_cli_forecast_errors(args, match):
    result = runner.invoke(app, args)
    assert result.exit_code != 0 and match in result.output, result.output


def test_weather_with_fill_policy_runs():
    result = runner.invoke(app, ["forecast", "weather", "--column", "temp", "--features",
                                 "humid,pressure", "--fill", "ffill", "--window", "24",
                                 "--horizon", "24", "--units", "8", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "missing values handled by --fill ffill" in result.output
