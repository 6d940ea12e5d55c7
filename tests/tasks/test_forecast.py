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
                                 "--difference", "--dry-run", "--out", str(tmp_path / "dry")])
    assert result.exit_code == 0, result.output
    assert "dry run: forecast airline" in result.output and "nothing trained" in result.output
    assert "changed: --units 8, --window 12" in result.output
    assert not (tmp_path / "dry").exists()
    csv = tmp_path / "prices.csv"
    rows = "\n".join(f"{np.datetime64('2020-01-01') + i},{100 + i + (i % 7)},{i}"
                     for i in range(120))
    csv.write_text("Date,Close,Volume\n" + rows + "\n")
    out = tmp_path / "run"
    result = runner.invoke(app, ["forecast", str(csv), "--column", "Close", "--features",
                                 "Volume", "--date-column", "Date", "--window", "10",
                                 "--epochs", "2", "--units", "4", "--strategy", "direct",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test"]["windows"] > 0 and (out / "forecast.png").exists()
    assert metrics["training_step"]["kind"] == "cpp"          # a 4-unit model qualifies
    assert "cpp training step" in result.output
    assert (out / "training.png").exists() and (out / "model" / "weights.safetensors").exists()


@pytest.mark.parametrize("args, match", [
    (["forecast", "nowhere.csv", "--column", "x"], "neither a series dataset"),
    (["forecast", "stocks", "--symbol", "XYZ"], "unknown symbol 'XYZ'"),
    (["forecast", "weather", "--column", "temp,pressure", "--fill", "error", "--dry-run"],
     "missing values"),
    (["forecast", "sine", "--strategy", "magic"], "strategy must be one of"),
    (["forecast", "airline", "--window", "140", "--no-difference", "--dry-run"],
     "training part has 100 rows"),
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


# ---------------------------------------------------------------- seasons, presets, horizons
def _dates(start, step, n):
    return [str(d) for d in np.datetime64(start) + np.arange(n) * np.timedelta64(*step)]


@pytest.mark.parametrize("times, season, frequency", [
    ([f"{2000 + i // 12}-{i % 12 + 1:02d}" for i in range(30)], 12, "monthly"),
    ([f"{2000 + i // 4}-{3 * (i % 4) + 1:02d}-01" for i in range(12)], 4, "quarterly"),
    (_dates("2020-01-06", (7, "D"), 20), 52, "weekly"),
    (_dates("2020-01-01", (1, "D"), 20), 7, "daily"),
    ([str(d) for d in np.busday_offset("2020-01-06", np.arange(30))], 5, "weekday"),
    ([d.replace("T", " ") for d in _dates("2020-01-01T00:00", (1, "h"), 50)], 24, "hourly"),
    ([str(1950 + i) for i in range(20)], None, "annual"),
])
def test_season_is_inferred_from_each_frequency(times, season, frequency):
    from rnnkit.tasks.forecast import future_times, infer_season
    got, why = infer_season(times)
    assert got == season and frequency in why
    labels = future_times(times, 3)
    assert len(labels) == 3 and len(labels[0]) == len(times[-1]) and labels[0] > times[-1]


def test_season_not_inferred_from_labels_that_are_not_dates():
    from rnnkit.tasks.forecast import future_times, infer_season
    assert infer_season([str(i) for i in range(30)]) == (None, "the time labels are not dates")
    assert infer_season(["2020-01", "2019-12", "2020-02"])[0] is None
    assert future_times(["a", "b"], 2) == ["+1", "+2"]
    from rnnkit.tasks.forecast import future_times as ft
    assert ft(["2020-01-31", "2020-02-29"], 2) == ["2020-03-31", "2020-04-30"]   # month ends


def test_presets_for_shipped_series_and_a_general_one():
    from rnnkit.tasks.forecast import dataset_preset, general_preset
    sun = dataset_preset("sunspots")
    assert (sun.cell, sun.units, sun.window, sun.stride, sun.difference) == ("gru", 32, 24, 1,
                                                                             False)
    assert dataset_preset("stocks").window == 60 and dataset_preset("stocks").difference
    assert dataset_preset("airline").difference and dataset_preset("sine") is None
    assert dataset_preset("weather", horizon=24).window == 48
    trend = np.arange(200.0) + np.sin(np.arange(200.0))
    p = general_preset(trend, season=12)
    assert p.window == 24 and p.difference and "differenced" in p.why[-3]
    # the changes of a differenced series are scaled to zero mean, unit variance
    assert p.scaler == "standard" and "standard scaler" in p.why[-2]
    assert "standard scaler" in p.describe()
    # 140 training rows hold 115 windows of 24 (+1 to difference), 4 batches of 32: early
    # stopping waits 200 steps (50 epochs) and may run 2,000 (500 epochs)
    assert (p.patience, p.epochs) == (50, 500)
    assert "115 training windows, 4 batches of 32 an epoch" in p.why[-1]
    assert "patience 50, at most 500 epochs" in p.describe()
    flat = general_preset(np.sin(np.arange(200.0)), season=None)
    assert flat.window == 24 and not flat.difference and "not differenced" in flat.why[-2]
    assert flat.scaler == "minmax" and "scaler" not in flat.describe()
    # a long series keeps 10 epochs of patience and 100 at most: they are already more steps
    long = general_preset(np.sin(np.arange(3000.0)), season=None)
    assert (long.patience, long.epochs) == (10, 100) and "batches" not in long.why[-1]
    short = general_preset(np.arange(60.0), season=52)          # 104 would not fit
    assert short.window < 104 and "shortened" in short.why[1]


def _monthly_csv(path, n=150):
    t = np.arange(n)
    values = 100 + 2.0 * t + 10 * np.sin(2 * np.pi * t / 12)
    rows = "\n".join(f"{2000 + i // 12}-{i % 12 + 1:02d},{v:.3f}" for i, v in zip(t, values))
    path.write_text("Month,Sales\n" + rows + "\n")
    return path


def test_cli_csv_preset_season_and_horizons_agree(tmp_path):
    csv = _monthly_csv(tmp_path / "sales.csv")
    out = tmp_path / "run"
    result = runner.invoke(app, ["forecast", str(csv), "--column", "Sales", "--date-column",
                                 "Month", "--quick", "--quiet", "--threads", "1",
                                 "--strategy", "direct", "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = result.output
    assert "preset: general (GRU(32), window 24, stride 1, differenced" in text
    assert "changed: --quick: GRU(8), at most 2 epochs" in text       # what --quick changed
    assert "season 12 (inferred from monthly dates; --season to override)" in text
    assert "quick run:" in text and "rnnkit GRU (quick)" in text
    assert "naive: seasonal naive" in text
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["preset"]["name"] == "general" and metrics["quick"] is True
    assert metrics["preset"]["changed"] == ["--quick: GRU(8), at most 2 epochs"]
    assert metrics["config"]["units"] == 8
    assert metrics["season"]["value"] == 12
    assert metrics["config"]["difference"] is True and metrics["config"]["window"] == 24
    # the printed forecast, metrics.json's and the plot's are the same steps
    line = next(ln for ln in text.splitlines() if "next " in ln and " after " in ln)
    printed = [float(v) for v in line.split(": ", 1)[1].split(", ")]
    future = metrics["future"]
    assert future["steps"] == 12 == len(printed) == len(future["values"]["Sales"])
    assert metrics["plot"]["future_steps"] == future["steps"]
    assert future["times"][0] == "2012-07" and future["times"][-1] == "2013-06"
    assert f"({future['times'][0]} to {future['times'][-1]})" in line
    assert future["times"][-1] in metrics["plot"]["x_labels"]          # dates on the axis
    np.testing.assert_allclose(printed, future["values"]["Sales"], rtol=1e-3)
    assert metrics["config"]["horizon"] == metrics["horizon"] == 1


def test_cli_season_and_preset_overrides(tmp_path):
    csv = _monthly_csv(tmp_path / "sales.csv")
    result = runner.invoke(app, ["forecast", str(csv), "--column", "Sales", "--date-column",
                                 "Month", "--season", "6", "--cell", "lstm", "--no-difference",
                                 "--horizon", "3", "--future", "5", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "season 6 (--season)" in result.output
    assert "changed: --cell lstm, --no-difference" in result.output
    assert "5 steps after 2012-06" in result.output and "3 steps per window" in result.output
    result = runner.invoke(app, ["forecast", str(csv), "--column", "Sales", "--dry-run"])
    assert "season: none (no --date-column" in result.output


def test_report_plot_draws_the_future_it_records(tmp_path):
    f = Forecaster(cell="gru", units=4, window=10, horizon=2)
    f.fit(_sine(120), epochs=1, verbose=0)
    metrics = f.report(tmp_path, future=7)
    assert metrics["future"]["steps"] == metrics["plot"]["future_steps"] == 7
    assert metrics["future"]["times"] == [f"+{k}" for k in range(1, 8)]
    assert json.loads((tmp_path / "metrics.json").read_text())["future"]["steps"] == 7


def test_dry_run_plan_of_a_csv_is_compact(tmp_path):
    """The preset's reasons are one row's value, not row names that widen every row."""
    csv = _monthly_csv(tmp_path / "sales.csv", n=60)
    result = runner.invoke(app, ["forecast", str(csv), "--column", "Sales", "--date-column",
                                 "Month", "--epochs", "1", "--dry-run"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()[1:-1]
    keys = [ln[2:].split("  ")[0] for ln in lines]
    assert max(map(len, keys)) <= 12, keys
    assert all("   " not in ln[2:].split("  ", 1)[1].lstrip() for ln in lines)
    why = next(ln for ln in lines if ln.startswith("  preset why"))
    assert "window 24 = 2 seasons of 12" in why and "differenced" in why
    assert "at most 1 epoch of batch" in result.output and "1 epochs" not in result.output


def test_quick_preset_line_lists_what_quick_changed():
    result = runner.invoke(app, ["forecast", "sunspots", "--quick", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "changed: --quick: the last 500 of 2820 rows, GRU(8), at most 2 epochs" \
        in result.output
    assert "GRU(8) x1" in result.output


def test_quick_counts_the_missing_values_of_the_rows_it_keeps():
    from rnnkit.cli.forecast import load_series
    raw = rk.datasets.load("weather", origin="JFK").select(["temp", "humid", "pressure"])
    gaps = np.isnan(raw.values)
    full = load_series("weather", "temp", "humid,pressure", None, "MSFT", "JFK", "ffill")
    assert full[2] == f"{int(gaps.sum())} missing values handled by --fill ffill"
    series, _, note, rows = load_series("weather", "temp", "humid,pressure", None, "MSFT",
                                        "JFK", "ffill", keep=720)
    assert len(series.values) == 720 and rows == len(raw.values)
    assert note == f"{int(gaps[-720:].sum())} missing values handled by --fill ffill"
    series, _, note, _ = load_series("weather", "temp", "humid,pressure", None, "MSFT",
                                     "JFK", "drop", keep=720)
    assert len(series.values) == 720
    first = np.flatnonzero(~gaps.any(1))[-720]
    assert note.startswith(f"{int(gaps[first:].any(1).sum())} missing value")


def test_history_beyond_float32_is_refused_by_name():
    """Values that scale past float32's range would become inf inside the network (and a
    numpy overflow warning on the way): predict refuses them, naming the problem."""
    f = Forecaster(cell="gru", units=4, window=10, horizon=3)
    f.fit(rk.datasets.load("sine", length=120), epochs=1, verbose=0)
    for value in (1e308, -6.9e38):
        with pytest.raises(ValueError, match="too large for this model.*float32"):
            f.predict(series=np.full(10, value))
    assert np.isfinite(f.predict(series=np.full(10, 1e30))).all()     # large, but it fits
