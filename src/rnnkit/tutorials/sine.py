"""Sine from scratch (Analytics Vidhya, "Build a Recurrent Neural Network from Scratch in
Python", 2019): sin(x) for x = 0..199, windows of 50 values -> the 51st, 100 training and
50 validation windows, hidden 100, truncated BPTT of 5 steps, gradients clipped to ±10.
The article reports a validation RMSE of 0.127.

Its published code computes wrong gradients (the backward pass multiplies by the
pre-activation instead of the activation's derivative, the weight gradients ignore the
inputs) and never defines ``max_val``.  Here the same model is trained with correct,
hand-written BPTT in NumPy (``rnnkit.reference``), first with the article's settings, then
with sensible ones, and beside rnnkit's torch engines on the same task.
"""

from __future__ import annotations

import time

import numpy as np

from ..tasks.forecast import rmse
from . import Report, Row, conclude, epochs, fit_options, verdict

NAME = "sine-numpy"
TITLE = "Sine from scratch in NumPy: 50 values -> the 51st"
ARTICLE = ("NumPy, correct BPTT", "article's")          # (system, settings start) of its row
SENSIBLE = [("NumPy, correct BPTT", "tanh"), ("rnnkit SimpleRNN, loop", ""),
            ("rnnkit SimpleRNN, torch", "")]
PUBLISHED = {"val_rmse": 0.127}


def data():
    wave = np.sin(np.arange(200.0))
    windows = np.stack([wave[i:i + 50] for i in range(150)])[..., None]   # (150, 50, 1)
    targets = wave[50:200, None]                                          # (150, 1)
    return windows[:100], targets[:100], windows[100:], targets[100:]



def _numpy_run(seed: int, epochs: int, tutorial_settings: bool):
    from .. import reference as ref
    x, y, xv, yv = data()
    rng = np.random.default_rng(seed)
    if tutorial_settings:   # sigmoid, U(0, 1) weights, SGD 1e-4, batch 1
        cell = ref.Cell("simple", activation="sigmoid")
        params = {"weight_ih": rng.uniform(0, 1, (100, 1)),
                  "weight_hh": rng.uniform(0, 1, (100, 100)), "bias": np.zeros(100),
                  "head.weight": rng.uniform(0, 1, (1, 100)), "head.bias": np.zeros(1)}
        opt, batch = ref.SGD(1e-4), 1
    else:                   # tanh, U(-0.1, 0.1), Adam 1e-3, batch 10
        cell = ref.Cell("simple")
        params = ref.init_params(cell, 1, 100, K=1, seed=seed, scale=0.1)
        opt, batch = ref.Adam(1e-3), 10
    t0 = time.perf_counter()
    ref.fit(cell, params, x, y, epochs=epochs, batch_size=batch, optimizer=opt, truncate=5,
            clip_value=10.0, seed=seed)
    return time.perf_counter() - t0, rmse(ref.predict(cell, params, xv), yv)


def _rnnkit_run(seed: int, n_epochs: int, engine: str):
    import torch

    import rnnkit as rk
    x, y, xv, yv = (torch.from_numpy(a).float() for a in data())
    rk.set_seed(seed)
    model = rk.Sequential([rk.SimpleRNN(100, input_size=1, engine=engine),
                           rk.Dense(1, input_size=100)])
    t0 = time.perf_counter()
    model.fit(x, y, epochs=n_epochs, batch_size=10, lr=1e-3, tbptt=5, clip_value=10.0,
              seed=seed, **fit_options(f"sine-{engine}-seed{seed}"))
    seconds = time.perf_counter() - t0
    return seconds, rmse(model.predict(xv).numpy(), yv.numpy())


def run(seeds: list[int], quick: bool = False, out=None) -> Report:
    n = epochs(3 if quick else 25)
    report = Report(f"{TITLE} ({n} epochs, seeds {','.join(map(str, seeds))}; "
                    "medians [min-max])", ["val RMSE"])
    report.rows.append(Row("article, published", "sigmoid, wrong gradients", [],
                           {"val RMSE": [PUBLISHED["val_rmse"]]}))
    for label, settings, fn in [
        ("NumPy, correct BPTT", "article's: sigmoid, U(0,1) init, SGD 1e-4, batch 1",
         lambda s: _numpy_run(s, n, True)),
        ("NumPy, correct BPTT", "tanh, U(±0.1) init, Adam 1e-3, batch 10",
         lambda s: _numpy_run(s, n, False)),
        ("rnnkit SimpleRNN, loop", "tanh, Keras init, Adam 1e-3, batch 10",
         lambda s: _rnnkit_run(s, n, "loop")),
        ("rnnkit SimpleRNN, torch", "tanh, Keras init, Adam 1e-3, batch 10",
         lambda s: _rnnkit_run(s, n, "torch")),
    ]:
        results = [fn(s) for s in seeds]
        report.rows.append(Row(label, settings, [r[0] for r in results],
                               {"val RMSE": [r[1] for r in results]}))
    _, _, xv, yv = data()
    report.rows.append(Row("baseline: predict 0", "-", [],
                           {"val RMSE": [rmse(np.zeros_like(yv), yv)]}))
    report.rows.append(Row("baseline: repeat last value", "-", [],
                           {"val RMSE": [rmse(xv[:, -1], yv)]}))
    report.notes.append("All rows: truncated BPTT of 5 steps, gradients clipped to ±10, 100 "
                        "train / 50 validation windows.")
    report.quick = quick
    report.notes += conclude(report, conclusions(report))
    return report


def conclusions(report: Report) -> list[str]:
    """What the rows say, computed from them: the article's settings against predicting 0,
    and the best sensible row against the published figure."""
    metric = "val RMSE"
    article = report.row(*ARTICLE).median(metric)
    zero = report.row("baseline: predict 0").median(metric)
    published = report.row("article, published").median(metric)
    if abs(article - zero) <= 0.05 * zero:
        first = (f"With correct gradients the article's settings learn nothing: val RMSE "
                 f"{article:.4f}, about the predict-0 baseline ({zero:.4f}); U(0,1) weights "
                 "saturate the sigmoid and SGD at 1e-4 cannot move them, so its "
                 f"{published:.3f} came from its wrong gradients.")
    elif article > zero:
        first = (f"With correct gradients the article's settings do worse than predicting 0: "
                 f"val RMSE {article:.4f} against {zero:.4f}.")
    else:
        first = (f"With correct gradients the article's settings learn something: val RMSE "
                 f"{article:.4f} against {zero:.4f} for predicting 0; it "
                 f"{verdict(article, published)} the published {published:.4f}.")
    system, settings = min(SENSIBLE, key=lambda k: report.row(*k).median(metric))
    best = report.row(system, settings).median(metric)
    name = f"{system} ({report.row(system, settings).settings})"
    if best < published:
        second = (f"With sensible settings the lowest error, {name}, is {best:.4f}: "
                  f"{published / best:.0f} times lower than the published {published:.4f}.")
    else:
        second = (f"With sensible settings the lowest error, {name}, is {best:.4f}: not below "
                  f"the published {published:.4f}.")
    return [first, second]
