"""Forecast and training-curve plots for ``Forecaster.report``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .internals import _pyplot

__all__ = ["plot_forecast", "plot_training"]

PART_COLORS = {"train": "#f2f2f2", "val": "#fff3d6", "test": "#e3f0ff"}


def _ticks(ax, times: np.ndarray, n: int, lo: int = 0) -> None:
    idx = np.linspace(lo, n - 1, min(n - lo, 6)).astype(int)
    ax.set_xticks(idx)
    ax.set_xticklabels([str(times[i]) if i < len(times) else f"+{i - len(times) + 1}"
                        for i in idx], rotation=0, fontsize=8)


def plot_forecast(path: str | Path, forecaster, future: int) -> None:
    """Top: actual vs one-step predictions over the whole series, parts shaded.  Bottom: the
    last stretch and ``future`` steps forecast after the end (first target column)."""
    plt = _pyplot()
    data, cfg = forecaster._data, forecaster.config
    j = forecaster.target_idx[0]
    name = forecaster.columns[j]
    n = len(data.values)
    rows, pred = forecaster.one_step_predictions()
    fut = forecaster.predict(steps=future)
    t_fut = np.arange(n, n + future)
    starts = {"train": 0}
    for part in ("val", "test"):
        if part in data.parts:
            starts[part] = data.parts[part][0] + cfg.window + int(cfg.difference)
    bounds = sorted(starts.items(), key=lambda kv: kv[1]) + [("end", n)]
    fig, (top, low) = plt.subplots(2, 1, figsize=(10, 6.5), height_ratios=[1, 1])
    zoom = max(n - 4 * max(cfg.window, future), 0)
    for ax, lo in ((top, 0), (low, zoom)):
        for (part, a), (_, b) in zip(bounds, bounds[1:]):
            if b > lo:
                ax.axvspan(max(a, lo), b, color=PART_COLORS[part], zorder=0)
                ax.text(max(a, lo) + (b - max(a, lo)) / 2, 0.97, part,
                        transform=ax.get_xaxis_transform(), ha="center", va="top", fontsize=9)
        keep = rows >= lo
        ax.plot(np.arange(lo, n), data.values[lo:, j], color="black", lw=0.9, label="actual")
        ax.plot(rows[keep], pred[keep, 0], color="tab:orange", lw=0.9,
                label="predicted, one step ahead")
        ax.axvspan(n - 0.5, n + future - 0.5, color="#e8f6e8", zorder=0)
        ax.plot(t_fut, fut[:, 0], color="tab:green", marker=".", lw=1.2,
                label=f"forecast after the data, {future} steps")
        _ticks(ax, data.times, n + future, lo)
        ax.set_ylabel(name)
    top.set_title(f"{name}: {cfg.cell.upper()}({cfg.units}) x{cfg.layers}, window "
                  f"{cfg.window}, horizon {cfg.horizon}, {cfg.strategy}")
    low.set_title("the end of the series and the forecast", fontsize=10)
    low.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_training(path: str | Path, history: dict[str, list[float]]) -> None:
    """Training and validation loss per epoch (log scale)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for key in ("loss", "val_loss"):
        if key in history:
            ax.semilogy(np.arange(1, len(history[key]) + 1), history[key], marker=".",
                        label=key.replace("_", " "))
    ax.set(title="training curve (MSE on scaled values)", xlabel="epoch", ylabel="loss")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
