"""forecast.png shades the forecast's interval, at the values future() reports."""

import matplotlib
import numpy as np
import pytest

import rnnkit as rk
from rnnkit.tasks import Forecaster

matplotlib.use("Agg")


def test_interval_band_is_drawn_where_the_forecast_is(tmp_path, figures):
    series = rk.datasets.load("sine", length=240, step=0.3, noise=0.2, seed=0)
    f = Forecaster(cell="gru", units=4, window=12, horizon=4, quantiles=[0.1, 0.5, 0.9])
    f.fit(series, epochs=2, verbose=0)
    metrics = f.report(tmp_path, future=6)
    n = len(f._targets("val")[0])         # the band after the data: rolled through the test
    label = f"80 % interval (calibrated on the last {n} validation and test scores)"
    assert metrics["plot"]["interval"] == {"coverage": 80, "steps": 4, "label": label}
    low = figures[0].axes[1]
    bands = [c for c in low.collections if c.get_label().startswith("80 % interval")]
    assert len(bands) == 1
    band = metrics["future"]["intervals"]["sine"]["80"]
    ys = bands[0].get_paths()[0].vertices[:, 1]
    assert ys.min() == pytest.approx(min(band["lower"])) and \
        ys.max() == pytest.approx(max(band["upper"]))
    xs = bands[0].get_paths()[0].vertices[:, 0]
    assert xs.min() == len(series.values) and xs.max() == len(series.values) + 3
    labels = [t.get_text() for t in low.get_legend().get_texts()]
    assert label in labels


def test_no_band_without_quantiles(tmp_path, figures):
    series = rk.datasets.load("sine", length=200, step=0.3, seed=0)
    f = Forecaster(cell="gru", units=4, window=12)
    f.fit(series, epochs=1, verbose=0)
    metrics = f.report(tmp_path)
    assert "interval" not in metrics["plot"] and "intervals" not in metrics["future"]
    assert not any("interval" in c.get_label() for c in figures[0].axes[1].collections)
    assert np.isfinite(metrics["test"]["rmse"])
