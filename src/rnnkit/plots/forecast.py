"""Forecast and training-curve plots for ``Forecaster.report``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .internals import _pyplot

__all__ = ["plot_forecast", "plot_training"]

PART_COLORS = {"train": "#f2f2f2", "val": "#fff3d6", "test": "#e3f0ff"}


def _ticks(ax, labels: list[str], lo: int, n: int) -> None:
    """Integer ticks from ``lo`` to the last drawn step, labelled with their time labels:
    about five evenly spaced, the last forecast step, and the first (``n``) when it is not
    too close to the last."""
    end = len(labels) - 1
    gap = (end - lo) / 10
    fixed = {end} | ({n} if end - n > gap else set())         # two labels must not overlap
    even = np.linspace(lo, end, min(end - lo + 1, 5)).round().astype(int)
    idx = sorted(fixed | {int(i) for i in even if all(abs(i - f) > gap for f in fixed)})
    ax.set_xticks(idx)
    ax.set_xticklabels([labels[i] for i in idx], rotation=0, fontsize=8)


def plot_forecast(path: str | Path, forecaster, future: dict, label: str = "") -> dict:
    """Top: actual vs one-step predictions over the whole series, parts shaded.  Bottom: the
    last stretch and the forecast after the end (first target column).

    ``future`` is ``forecaster.future(steps)``: exactly those steps are drawn, at their time
    labels.  Returns what was drawn: {"future_steps", "future_from", "future_to", "horizon",
    "x_labels"} (the bottom axis's tick labels)."""
    plt = _pyplot()
    data, cfg = forecaster._data, forecaster.config
    j = forecaster.target_idx[0]
    name = forecaster.columns[j]
    n = len(data.values)
    rows, pred = forecaster.one_step_predictions()
    fut = np.asarray(future["values"][name], dtype=np.float64)
    steps = len(fut)
    labels = [str(t) for t in data.times] + list(future["times"])
    t_fut = np.arange(n, n + steps)
    starts = {"train": 0}
    for part in ("val", "test"):
        if part in data.parts:
            starts[part] = data.parts[part][0] + cfg.window + int(cfg.difference)
    bounds = sorted(starts.items(), key=lambda kv: kv[1]) + [("end", n)]
    fig, (top, low) = plt.subplots(2, 1, figsize=(10, 6.5), height_ratios=[1, 1])
    zoom = max(n - 4 * max(cfg.window, steps), 0)
    span = f"{future['times'][0]} to {future['times'][-1]}" if steps > 1 \
        else future["times"][0]
    drawn = None
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
        ax.axvspan(n - 0.5, n + steps - 0.5, color="#e8f6e8", zorder=0)
        (drawn,) = ax.plot(t_fut, fut, color="tab:green", marker=".", lw=1.2,
                           label=f"forecast after the data: {steps} step"
                           f"{'s' if steps != 1 else ''} ({span})")
        _ticks(ax, labels, lo, n)
        ax.set_ylabel(name)
    dated = not future["times"][0].startswith("+")
    low.set_xlabel("date" if dated else "step (+k: k steps after the data)")
    top.set_title(f"{name}: {cfg.cell.upper()}({cfg.units}) x{cfg.layers}, window "
                  f"{cfg.window}, horizon {cfg.horizon}, {cfg.strategy}"
                  + (f" ({label})" if label else ""))
    low.set_title(f"the end of the series and {steps} step{'s' if steps != 1 else ''} "
                  "forecast after it", fontsize=10)
    low.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    info = {"future_steps": int(len(drawn.get_xdata())), "future_from": future["times"][0],
            "future_to": future["times"][-1], "horizon": cfg.horizon,
            "x_labels": [t.get_text() for t in low.get_xticklabels()]}
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return info


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
