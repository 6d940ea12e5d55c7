"""Sunspots (Machine Learning Mastery, "Understanding Simple Recurrent Neural Networks in
Keras"): SimpleRNN(3, tanh) + Dense(1, tanh) reads 12 monthly values and predicts the
next; non-overlapping windows, MinMax to [0, 1] fitted on the whole series, 80/20 split,
Adam, 20 epochs of batch 1.  Published: train RMSE 0.058, test RMSE 0.077 (scaled).

The recommended settings are rnnkit's Forecaster: overlapping windows of 24 months (about
ten times more training windows), a GRU, a scaler fitted on training rows only, and early
stopping on a validation stretch taken from the end of the training part.  Both are scored
on the tutorial's own 46 test targets, in the tutorial's scaled units.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np

from ..tasks.forecast import rmse
from . import Report, Row, conclude, fit_options, verdict
from . import epochs as capped_epochs

NAME = "sunspots"
TITLE = "Sunspots: the next month from the months before it"
PUBLISHED = {"train RMSE": 0.058, "test RMSE": 0.077}
KERAS_TF = {"train RMSE": [0.062, 0.059, 0.064], "test RMSE": [0.090, 0.088, 0.096]}
WINDOW, RECOMMENDED_WINDOW = 12, 24


def data():
    """The tutorial's arrays: (series, scaler, split, x_train, y_train, x_test, y_test, test
    target rows), all scaled as the tutorial scales them."""
    from .. import datasets
    from ..data import MinMaxScaler, tutorial_windows
    series = datasets.load("sunspots").values
    scaler = MinMaxScaler().fit(series[:, None])          # the tutorial fits on everything
    scaled = scaler.transform(series[:, None])[:, 0]
    split = int(len(series) * 0.8)
    x_tr, y_tr = tutorial_windows(scaled[:split], WINDOW)
    x_te, y_te = tutorial_windows(scaled[split:], WINDOW)
    rows_tr = np.arange(WINDOW, WINDOW * len(y_tr) + 1, WINDOW)
    rows_te = split + np.arange(WINDOW, WINDOW * len(y_te) + 1, WINDOW)
    return series, scaler, split, x_tr, y_tr, x_te, y_te, rows_tr, rows_te



def tutorial_recipe(seed: int, epochs: int = 20, step: str = "auto"):
    """The tutorial's model and training; returns (seconds, train RMSE, test RMSE, model).

    ``step`` as in ``Trainer.fit``: "auto" takes the C++ training step for this model.
    """
    import torch

    import rnnkit as rk
    _, _, _, x_tr, y_tr, x_te, y_te, _, _ = data()
    from ..engines._ext import kernels
    # Neither of these one-off costs is fit time: a first run on a machine compiles the C++
    # kernels, and the first torch optimizer in a process imports torch._dynamo (about 2.7 s
    # here).  The project's anchor scripts, too, time PyTorch after building its optimizer.
    kernels()
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])
    rk.set_seed(seed)
    model = rk.Sequential([rk.SimpleRNN(3), rk.Dense(1, activation="tanh")])
    t0 = time.perf_counter()
    model.fit(x_tr, y_tr, epochs=epochs, batch_size=1, loss="mse", optimizer="adam",
              seed=seed, step=step, **fit_options(f"recipe-seed{seed}"))
    seconds = time.perf_counter() - t0
    return (seconds, rmse(model.predict(x_tr).numpy(), y_tr),
            rmse(model.predict(x_te).numpy(), y_te), model)


def recommended(seed: int, epochs: int = 100):
    """rnnkit's Forecaster on the same series; returns (seconds, train, test RMSE, forecaster)
    with RMSEs on the tutorial's targets in its scaled units."""
    from .. import datasets
    from ..tasks import Forecaster
    series, scaler, split, _, y_tr, _, y_te, rows_tr, rows_te = data()
    f = Forecaster(cell="gru", units=32, window=RECOMMENDED_WINDOW, horizon=1, season=132,
                   lr=3e-3)
    # test = the tutorial's last 20 % exactly; validation from the end of its training part
    test = (len(series) - split) / len(series)
    f.fit(datasets.load("sunspots"), epochs=epochs, batch_size=32, val=0.12, test=test,
          patience=8, seed=seed, **fit_options(f"recommended-seed{seed}"))

    def score(rows, y):
        rows = rows[rows >= RECOMMENDED_WINDOW]
        x = np.stack([series[r - RECOMMENDED_WINDOW:r] for r in rows])[..., None]
        pred = f.predict_windows(x)[:, 0, 0]
        return rmse(scaler.transform(pred[:, None])[:, 0], y[-len(rows):])
    return f.fit_seconds, score(rows_tr, y_tr), score(rows_te, y_te), f


def run(seeds: list[int], quick: bool = False, out: str | Path | None = None) -> Report:
    series, scaler, _, x_tr, y_tr, x_te, y_te, _, rows_te = data()
    report = Report(f"{TITLE} (seeds {','.join(map(str, seeds))}; medians [min-max]; RMSE "
                    "on the tutorial's targets, scaled to [0, 1] as it does)",
                    ["train RMSE", "test RMSE"])
    report.rows.append(Row("tutorial, published", "SimpleRNN(3), 12 months, batch 1", [],
                           {k: [v] for k, v in PUBLISHED.items()}))
    report.rows.append(Row("Keras 3/TF, tutorial's code",
                           "measured on this machine (the project's anchor scripts)", [],
                           KERAS_TF))
    n = capped_epochs(2 if quick else 20)
    runs = [tutorial_recipe(s, n) for s in seeds]
    report.rows.append(Row("rnnkit, tutorial recipe",
                           f"SimpleRNN(3), 12 months, batch 1, {n} ep",
                           [r[0] for r in runs], {"train RMSE": [r[1] for r in runs],
                                                  "test RMSE": [r[2] for r in runs]}))
    best = [recommended(s, capped_epochs(3 if quick else 100)) for s in seeds]
    report.rows.append(Row("rnnkit, recommended", "GRU(32), 24 months, stride 1, early stop",
                           [r[0] for r in best], {"train RMSE": [r[1] for r in best],
                                                  "test RMSE": [r[2] for r in best]}))
    report.rows.append(Row("naive: repeat last value", "-", [],
                           {"train RMSE": [rmse(x_tr[:, -1, 0], y_tr)],
                            "test RMSE": [rmse(x_te[:, -1, 0], y_te)]}))
    report.quick = quick
    said = conclusions(report)          # the first compares published figures only
    report.notes += said[:1] + conclude(report, said[1:])
    report.notes.append("Recommended: a scaler fitted on training rows only (no look at the "
                        "test range), about 1,900 overlapping windows instead of 187, and "
                        "early stopping.")
    if out is not None:
        forecaster = best[len(best) // 2][3] if len(best) > 1 else best[0][3]
        forecaster.report(out, future=24)
        forecaster.save(Path(out) / "model")
        report.notes.append(f"wrote {out}/metrics.json, forecast.png, training.png, model/")
    return report


def conclusions(report: Report) -> list[str]:
    """What the test RMSE column says, computed from the rows."""
    m = "test RMSE"
    published = report.row("tutorial, published").median(m)
    keras = report.row("Keras 3/TF, tutorial's code").scores[m]
    recipe = report.row("rnnkit, tutorial recipe").median(m)
    best = report.row("rnnkit, recommended").median(m)
    naive = report.row("naive: repeat last value").median(m)
    lo, hi = min(keras), max(keras)
    where = ("below" if published < lo else "above" if published > hi else "within")
    return [
        f"The published {published:.4f} is {where} the range Keras gives over seeds "
        f"({lo:.4f}-{hi:.4f})" + ("; a lucky seed." if where == "below" else "."),
        f"The tutorial's recipe in rnnkit ({recipe:.4f}) {verdict(recipe, naive)} repeating "
        f"the last value ({naive:.4f}); in Keras ({statistics.median(keras):.4f}) it "
        f"{verdict(statistics.median(keras), naive)} it.",
        f"rnnkit's recommended forecaster ({best:.4f}) {verdict(best, naive)} the last "
        f"value and {verdict(best, published)} the published figure.",
    ]
