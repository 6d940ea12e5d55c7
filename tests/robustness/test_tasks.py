"""Bad input to the Forecaster: every case is a ValueError raised before any training, whose
message names the option, the column or the sizes."""

import numpy as np
import pytest

import rnnkit as rk
from rnnkit.datasets import Series
from rnnkit.tasks import ForecastConfig, Forecaster


def _sine(n=120):
    return rk.datasets.load("sine", length=n, step=0.3, noise=0.0, seed=1)


def _no_training(monkeypatch):
    """Fail the test if a case reaches the training loop: errors must come first."""
    def refuse(*args, **kwargs):
        raise AssertionError("training started before the bad input was refused")
    monkeypatch.setattr(rk.training.Trainer, "fit", refuse)


def _raises(call, *needles):
    with pytest.raises(ValueError) as info:
        call()
    for needle in needles:
        assert needle in str(info.value), f"{needle!r} not in {str(info.value)!r}"


# ---------------------------------------------------------------- the configuration

@pytest.mark.parametrize("season, needle", [
    (-12, "season must be a positive int"),
    (0, "season must be a positive int"),
    (2.5, "got 2.5"),
    (True, "got True"),
    ("12", "got '12'"),
])
def test_bad_season(season, needle):
    _raises(lambda: Forecaster(season=season), needle)


def test_negative_season_never_reaches_the_baseline():
    """The reviewers' case: season=-1 used to compare the targets with themselves."""
    with pytest.raises(ValueError, match="season"):
        ForecastConfig(season=-1)


def test_huge_season_is_refused_before_training(monkeypatch):
    _no_training(monkeypatch)
    _raises(lambda: Forecaster(window=5, season=10_000).fit(_sine(), verbose=0),
            "season=10000", "120 rows")


@pytest.mark.parametrize("kwargs, needle", [
    ({"units": 0}, "units must be a positive int, got 0"),
    ({"units": 2.0}, "units must be a positive int, got 2.0"),
    ({"layers": -1}, "layers must be a positive int, got -1"),
    ({"horizon": 0}, "horizon must be a positive int, got 0"),
    ({"window": -3}, "window must be a positive int, got -3"),
    ({"stride": 0}, "stride must be a positive int, got 0"),
    ({"cell": "transformer"}, "cell must be one of simple, lstm, gru, got 'transformer'"),
    ({"cell": None}, "cell must be one of"),
    ({"strategy": "greedy"}, "strategy must be one of"),
    ({"dropout": 1.0}, "dropout must be a number in [0, 1), got 1.0"),
    ({"dropout": -0.1}, "dropout must be a number in [0, 1)"),
    ({"lr": 0}, "lr must be a positive number, got 0"),
    ({"lr": float("nan")}, "lr must be a positive number, got nan"),
    ({"scaler": "robust"}, "scaler must be 'minmax', 'standard' or None, got 'robust'"),
    ({"targets": ()}, "targets must be one or more column names"),
    ({"targets": (1,)}, "targets must be one or more column names"),
    ({"targets": ("a", "a")}, "targets name 'a' more than once"),
])
def test_bad_config(kwargs, needle):
    _raises(lambda: Forecaster(**kwargs), needle)


def test_a_single_target_name_is_one_column():
    assert ForecastConfig(targets="temp").targets == ("temp",)


# ---------------------------------------------------------------- fit(): fractions and sizes

@pytest.mark.parametrize("val, test, needle", [
    (1.0, 0.1, "val fraction must be a number in [0, 1), got 1.0"),
    (-0.2, 0.1, "val fraction must be a number in [0, 1), got -0.2"),
    (0.1, 1.2, "test fraction must be a number in [0, 1), got 1.2"),
    (0.5, 0.5, "leaves nothing for training"),
    (0.45, 0.45, "the training part has 12 rows, fewer than window + 1 = 21"),
    (0.001, 0.1, "val=0.001 of 120 rows is no row"),
])
def test_fractions_are_checked_before_training(monkeypatch, val, test, needle):
    _no_training(monkeypatch)
    _raises(lambda: Forecaster(window=20).fit(_sine(), val=val, test=test, verbose=0),
            needle)


@pytest.mark.parametrize("kwargs, needle", [
    ({"epochs": 0}, "epochs must be an int >= 1, got 0"),
    ({"batch_size": 0}, "batch_size must be an int >= 1, got 0"),
    ({"patience": -1}, "patience must be None or an int >= 0, got -1"),
    ({"seed": -5}, "seed must be an int >= 0, got -5"),
])
def test_bad_fit_options(monkeypatch, kwargs, needle):
    _no_training(monkeypatch)
    _raises(lambda: Forecaster(window=5).fit(_sine(), verbose=0, **kwargs), needle)


def test_window_longer_than_the_series_names_the_series(monkeypatch):
    _no_training(monkeypatch)
    _raises(lambda: Forecaster(window=200).fit(_sine(), verbose=0),
            "the series 'sine' has 120 rows", "window + horizon = 201")
    _raises(lambda: Forecaster(window=1).fit([1.0], verbose=0),
            "the series has 1 row,", "window + horizon = 2")


def test_unknown_dataset():
    _raises(lambda: rk.datasets.load("nosuchdata"), "nosuchdata")


def test_unknown_target_column(monkeypatch):
    _no_training(monkeypatch)
    _raises(lambda: Forecaster(window=5, targets=("price",)).fit(_sine(), verbose=0),
            "'price'", "not columns", "sine")


def test_nan_in_a_numpy_series_names_the_column_and_row(monkeypatch):
    _no_training(monkeypatch)
    values = np.ones((50, 2))
    values[7, 1] = np.nan
    _raises(lambda: Forecaster(window=5).fit(values, verbose=0),
            "contains NaN or inf", "column 'x1'", "row 8")


def test_nan_in_a_series_names_its_column_and_time(monkeypatch):
    _no_training(monkeypatch)
    s = _sine(60)
    values = s.values.copy()
    values[10] = np.inf
    bad = Series("wave", s.times, values, s.columns)
    _raises(lambda: Forecaster(window=5).fit(bad, verbose=0), "'wave'",
            f"column '{s.columns[0]}'", f"({s.times[10]})")


def test_series_with_mismatched_features(monkeypatch):
    _no_training(monkeypatch)
    bad = Series("w", np.arange(40).astype(str), np.ones((40, 3)), ("a", "b"))
    _raises(lambda: Forecaster(window=5).fit(bad, verbose=0),
            "names 2 columns (a, b) but its values have 3")
    short = Series("w", np.arange(10).astype(str), np.ones((40, 2)), ("a", "b"))
    _raises(lambda: Forecaster(window=5).fit(short, verbose=0), "10 time labels for 40 rows")


def test_ragged_and_non_numeric_arrays(monkeypatch):
    _no_training(monkeypatch)
    _raises(lambda: Forecaster(window=1).fit([[1.0, 2.0], [3.0]], verbose=0),
            "same number of features")
    _raises(lambda: Forecaster(window=1).fit(["a", "b", "c"], verbose=0), "numbers")
    _raises(lambda: Forecaster(window=1).fit(np.ones((5, 2, 2)), verbose=0), "(5, 2, 2)")
    _raises(lambda: Forecaster(window=1).fit(np.empty((0,)), verbose=0), "N > 0")


def test_predict_with_a_series_of_other_features():
    f = Forecaster(cell="simple", units=2, window=5)
    f.fit(_sine(60), epochs=1, verbose=0)
    _raises(lambda: f.predict(series=np.ones((20, 2))), "trained on 1 columns", "got 2")
    _raises(lambda: f.predict(steps=0), "steps must be a positive int, got 0")
    _raises(lambda: f.predict(series=np.ones(3)), "need at least 5 rows", "got 3")
    _raises(lambda: f.evaluate("holdout"), "part must be one of", "'holdout'")


def test_evaluate_a_part_that_fit_left_out():
    f = Forecaster(cell="simple", units=2, window=5)
    f.fit(_sine(60), epochs=1, val=0.2, test=0.0, verbose=0)
    _raises(lambda: f.evaluate("test"), "got 'test'", "test=0")
