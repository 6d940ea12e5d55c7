"""forecast.png and training.png: truthful legends, a legend that covers no data, tick
labels that do not overprint each other, whole-number epochs."""

import matplotlib
import numpy as np

import rnnkit as rk
from rnnkit.plots import forecast as plots
from rnnkit.tasks import Forecaster

matplotlib.use("Agg")


def _hourly(n=400):
    t = np.arange(n)
    start = np.datetime64("2013-12-15T00:00")
    times = [str(start + np.timedelta64(int(k), "h")).replace("T", " ")[:16] for k in t]
    values = 20 + 5 * np.sin(2 * np.pi * t / 24)
    return rk.datasets.Series("hourly", np.array(times), values[:, None], ("temp",))


def _overlaps(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def test_predicted_label_says_which_step_is_drawn():
    assert plots.predicted_label(1) == "predicted, one step ahead"
    assert "24 steps" in plots.predicted_label(24) and "first" in plots.predicted_label(24)


def test_forecast_plot_legend_and_hourly_ticks(tmp_path, figures):
    f = Forecaster(cell="gru", units=4, window=48, horizon=24, season=24)
    f.fit(_hourly(), epochs=1, verbose=0)
    metrics = f.report(tmp_path, future=24)
    fig = figures[0]
    top, low = fig.axes
    renderer = fig.canvas.get_renderer()
    legend = low.get_legend()
    labels = [t.get_text() for t in legend.get_texts()]
    assert any("first of each window's 24 steps" in t for t in labels), labels
    assert not any(t == "predicted, one step ahead" for t in labels)
    box = legend.get_window_extent(renderer)
    assert not _overlaps(box, low.get_window_extent(renderer))      # covers no data
    for ax in (top, low):                                          # no label overprints
        ticks = [t.get_window_extent(renderer) for t in ax.get_xticklabels() if t.get_text()]
        assert len(ticks) >= 3
        for a, b in zip(ticks, ticks[1:]):
            assert a.x1 < b.x0, [t.get_text() for t in ax.get_xticklabels()]
    assert metrics["plot"]["x_labels"][-1] == metrics["future"]["times"][-1]


def test_training_plot_has_whole_epoch_ticks(tmp_path, figures):
    plots.plot_training(tmp_path / "training.png", {"loss": [0.5, 0.3], "val_loss": [0.6, 0.4]})
    ax = figures[0].axes[0]
    ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks), ticks
