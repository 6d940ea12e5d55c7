"""Stock prices (Dot Net Tutorials): 120-day windows of MSFT's adjusted close predict the
next day; 80/20 split in time; SimpleRNN(50) x2 + Dense(25) + Dense(1) against the same
stack of LSTMs.  The tutorial's RMSE formula does not compute an RMSE; here RMSE is
sqrt(mean((prediction - actual)^2)) in dollars over every test day.

The tutorial gives the architecture, windows and split, not the training settings; ours
are stated in the table.  A daily price is close to a random walk: the
honest yardstick is "repeat yesterday's price", which a model of past prices alone can at
best match.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..tasks.forecast import rmse
from . import Report, Row, conclude, epochs, fit_options, verdict

NAME = "stocks"
TITLE = "MSFT adjusted close: the next day from the 120 before it"
PUBLISHED: dict[str, float] = {}
WINDOW = 120


def data():
    from .. import datasets
    s = datasets.load("stocks", symbol="MSFT")
    return s, s.column("Adj Close")



def tutorial_stack(cell: str, seed: int, n_epochs: int):
    """The tutorial's architecture; MinMax on the training 80 %, Adam, batch 32."""
    import rnnkit as rk

    from ..data import MinMaxScaler, make_windows
    _, price = data()
    split = int(len(price) * 0.8)
    scaler = MinMaxScaler().fit(price[:split, None])
    scaled = scaler.transform(price[:, None])
    x_tr, y_tr = make_windows(scaled[:split], WINDOW)
    x_te, y_te = make_windows(scaled[split - WINDOW:], WINDOW)
    make = {"simple": rk.SimpleRNN, "lstm": rk.LSTM}[cell]
    rk.set_seed(seed)
    model = rk.Sequential([make(50, return_sequences=True), make(50), rk.Dense(25),
                           rk.Dense(1)])
    t0 = time.perf_counter()
    model.fit(x_tr, y_tr[:, 0], epochs=n_epochs, batch_size=32, seed=seed,
              **fit_options(f"stack-{cell}-seed{seed}"))
    seconds = time.perf_counter() - t0
    pred = scaler.inverse_transform(model.predict(x_te).numpy())
    return seconds, pred[:, 0], scaler.inverse_transform(y_te[:, 0])[:, 0]


def recommended(seed: int, n_epochs: int):
    from ..tasks import Forecaster
    series, price = data()
    f = Forecaster(cell="gru", units=32, window=60, difference=True, scaler="standard")
    f.fit(series.select(["Adj Close"]), epochs=n_epochs, batch_size=64, val=0.1, test=0.2,
          patience=5, seed=seed, **fit_options(f"recommended-seed{seed}"))
    split = int(len(price) * 0.8)
    rows = np.arange(split, len(price))
    x = np.stack([price[r - 61:r] for r in rows])[..., None]
    return f.fit_seconds, f.predict_windows(x)[:, 0, 0], price[rows], f


def run(seeds: list[int], quick: bool = False, out: str | Path | None = None) -> Report:
    n = epochs(1 if quick else 10)
    report = Report(f"{TITLE} (seeds {','.join(map(str, seeds))}; medians [min-max]; "
                    "test = last 20 %, every day)", ["test RMSE $", "test MAE $"])
    best = None
    for label, settings, fn in [
        ("tutorial stack, SimpleRNN", f"SimpleRNN(50)x2+Dense(25)+Dense(1), {n} ep",
         lambda s: tutorial_stack("simple", s, n)),
        ("tutorial stack, LSTM", f"LSTM(50)x2+Dense(25)+Dense(1), {n} ep",
         lambda s: tutorial_stack("lstm", s, n)),
        ("rnnkit, recommended", "GRU(32), 60 days, differenced, early stop",
         lambda s: recommended(s, epochs(3 if quick else 60))),
    ]:
        runs = [fn(s) for s in seeds]
        report.rows.append(Row(label, settings, [r[0] for r in runs],
                               {"test RMSE $": [rmse(r[1], r[2]) for r in runs],
                                "test MAE $": [float(np.mean(np.abs(r[1] - r[2])))
                                               for r in runs]}))
        if label.startswith("rnnkit"):
            best = runs[0][3]
    _, price = data()
    split = int(len(price) * 0.8)
    last = price[split - 1:-1]
    report.rows.append(Row("naive: yesterday's price", "-", [],
                           {"test RMSE $": [rmse(last, price[split:])],
                            "test MAE $": [float(np.mean(np.abs(last - price[split:])))]}))
    report.notes.append("Training settings of the tutorial stacks (the tutorial does not give "
                        "them): MinMax fitted on the training 80 %, Adam 1e-3, batch 32.")
    report.quick = quick
    report.notes += conclude(report, conclusions(report))
    if out is not None and best is not None:
        best.report(out, future=20)
        best.save(Path(out) / "model")
    return report


def conclusions(report: Report) -> list[str]:
    """Each model against "yesterday's price" (a random walk's forecast), from the rows."""
    m = "test RMSE $"
    naive = report.row("naive: yesterday's price").median(m)
    lines = []
    for r in report.rows:
        if r.seconds:
            value = r.median(m)
            lines.append(f"{r.system}: test RMSE {value:.4f}, {value / naive:.2f} times "
                         f"yesterday's price ({naive:.4f}): it {verdict(value, naive)} it.")
    return lines
