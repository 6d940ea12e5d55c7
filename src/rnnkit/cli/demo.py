"""``rnnkit demo``: the sunspots tutorial recipe, trained on the shipped series.

SimpleRNN(3, tanh) + Dense(1, tanh) over 12 monthly values predicts the next one; data
split 80/20 in time, MinMax-scaled to [0, 1], Adam, 20 epochs of batch 1.  The scaler is
fitted on the whole series exactly as the tutorial does, so the printed RMSEs compare
with its published ones; that lets the scale see the test range (the test part holds the
1957 maximum), a leak the forecasting task (`rnnkit forecast`) does not have.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import typer

# The tutorial's published figures and the peers we measured (shared/anchors/RESULTS.md).
PUBLISHED = {"train_rmse": 0.058, "test_rmse": 0.077}
KERAS_TF_MEDIAN = {"train_rmse": 0.062, "test_rmse": 0.090}


def _rmse(a: np.ndarray, b: np.ndarray) -> float:
    return math.sqrt(float(np.mean((np.ravel(a) - np.ravel(b)) ** 2)))


def demo(
    epochs: int = typer.Option(20, min=1, help="passes over the training windows"),
    window: int = typer.Option(12, min=1, help="months per input window"),
    seed: int = typer.Option(0, help="seed for weights and shuffling"),
    out: Path = typer.Option(Path("runs/demo"), help="folder for model, metrics.json, plot"),
    dry_run: bool = typer.Option(False, "--dry-run", help="one epoch on 20 windows, no files"),
) -> None:
    """Train SimpleRNN(3) on monthly sunspots and print train/test RMSE beside the tutorial's."""
    import rnnkit as rk

    data = rk.datasets.load("sunspots")
    series = data.values
    split = int(len(series) * 0.8)
    scaler = rk.data.MinMaxScaler().fit(series[:, None])      # the tutorial's recipe
    scaled = scaler.transform(series[:, None])[:, 0]
    x_tr, y_tr = rk.data.tutorial_windows(scaled[:split], window)
    x_te, y_te = rk.data.tutorial_windows(scaled[split:], window)
    if dry_run:
        epochs, x_tr, y_tr = 1, x_tr[:20], y_tr[:20]
    rk.set_seed(seed)
    model = rk.Sequential([rk.SimpleRNN(3), rk.Dense(1, activation="tanh")])
    t0 = time.perf_counter()
    history = model.fit(x_tr, y_tr, epochs=epochs, batch_size=1, loss="mse", optimizer="adam",
                        seed=seed, verbose=1)
    fit_s = time.perf_counter() - t0
    model.summary()
    p_tr, p_te = model.predict(x_tr).numpy(), model.predict(x_te).numpy()
    metrics = {
        "train_rmse": _rmse(p_tr, y_tr), "test_rmse": _rmse(p_te, y_te),
        "test_rmse_naive_last_value": _rmse(x_te[:, -1, 0], y_te),
        "test_rmse_sunspots": _rmse(scaler.inverse_transform(p_te.reshape(-1, 1)),
                                    scaler.inverse_transform(y_te.reshape(-1, 1))),
        "fit_seconds": fit_s, "epochs": epochs, "train_windows": len(y_tr),
        "test_windows": len(y_te), "final_loss": history.history["loss"][-1],
    }
    typer.echo(f"\nsunspots, SimpleRNN(3), {len(y_tr)} train / {len(y_te)} test windows, "
               f"{epochs} epochs in {fit_s:.1f}s")
    typer.echo(f"{'':28s}{'train RMSE':>12s}{'test RMSE':>12s}   (scaled to [0, 1])")
    typer.echo(f"{'rnnkit (this run)':28s}{metrics['train_rmse']:12.3f}"
               f"{metrics['test_rmse']:12.3f}")
    typer.echo(f"{'tutorial, published':28s}{PUBLISHED['train_rmse']:12.3f}"
               f"{PUBLISHED['test_rmse']:12.3f}")
    typer.echo(f"{'Keras/TF, median 3 seeds':28s}{KERAS_TF_MEDIAN['train_rmse']:12.3f}"
               f"{KERAS_TF_MEDIAN['test_rmse']:12.3f}")
    typer.echo(f"{'naive: repeat last value':28s}{'':12s}"
               f"{metrics['test_rmse_naive_last_value']:12.3f}")
    typer.echo(f"test RMSE in sunspot units: {metrics['test_rmse_sunspots']:.1f}  (scaler fitted "
               "on the whole series, as the tutorial does)")
    if dry_run:
        return
    out.mkdir(parents=True, exist_ok=True)
    model.save(str(out / "model"))
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    months = data.times[split + window::window][: len(y_te)]      # each test target's month
    _plot(out / "forecast.png", scaler, months, y_te, p_te)
    typer.echo(f"wrote {out}/model, {out}/metrics.json, {out}/forecast.png")


def _plot(path: Path, scaler, months: np.ndarray, y_te: np.ndarray, p_te: np.ndarray) -> None:
    try:
        import matplotlib
    except ImportError:
        typer.echo("matplotlib not installed (pip install 'rnnkit[plots]'): no plot written")
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    years = np.array([int(m[:4]) + (int(m[5:7]) - 0.5) / 12 for m in months])
    fig, ax = plt.subplots(figsize=(9, 3.5))
    ax.plot(years, scaler.inverse_transform(y_te.reshape(-1, 1)), label="actual", marker=".")
    ax.plot(years, scaler.inverse_transform(p_te.reshape(-1, 1)), label="SimpleRNN(3)",
            marker=".")
    ax.set(title="Sunspots, test part: each point predicted from the 12 months before it",
           xlabel="year", ylabel="mean sunspot number")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
