"""Forecast and training-curve plots for ``Forecaster.report``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .internals import _pyplot

__all__ = ["plot_forecast", "plot_training", "predicted_label"]

PART_COLORS = {"train": "#f2f2f2", "val": "#fff3d6", "test": "#e3f0ff"}


TICK_FONT = 8              # points
AXES_WIDTH = 0.8           # of the figure's width, about, after tight_layout


def _ticks(ax, labels: list[str], lo: int, n: int) -> None:
    """Integer ticks from ``lo`` to the last drawn step, labelled with their time labels:
    the last forecast step, the first (``n``) and about five evenly spaced ones, each kept
    only where its label cannot overprint another's (the gap comes from the labels' width:
    "2013-12-30 19:00" needs more room than "1983-12")."""
    end = len(labels) - 1
    chars = max(len(labels[i]) for i in range(lo, end + 1))
    width_pt = ax.figure.get_figwidth() * AXES_WIDTH * 72
    label_pt = chars * 0.62 * TICK_FONT + 2 * TICK_FONT        # a label and a space
    gap = max((end - lo) * label_pt / width_pt, (end - lo) / 10)
    idx = [end]
    for i in [n, *np.linspace(lo, end, min(end - lo + 1, 5)).round().astype(int)]:
        if lo <= i <= end and all(abs(int(i) - j) > gap for j in idx):
            idx.append(int(i))
    idx.sort()
    ax.set_xticks(idx)
    ax.set_xticklabels([labels[i] for i in idx], rotation=0, fontsize=TICK_FONT)


def predicted_label(horizon: int) -> str:
    """The legend of the predictions drawn: always the first step of each forecast."""
    if horizon == 1:
        return "predicted, one step ahead"
    return f"predicted, one step ahead (the first of each window's {horizon} steps)"


def plot_forecast(path: str | Path, forecaster, future: dict, label: str = "") -> dict:
    """Top: actual vs one-step predictions over the whole series, parts shaded.  Bottom: the
    last stretch and the forecast after the end (first target column), with its widest
    central interval shaded when the forecaster has quantiles ("interval" in the result).

    ``future`` is ``forecaster.future(steps)``: exactly those steps are drawn, at their time
    labels.  Returns what was drawn: {"future_steps", "future_from", "future_to", "horizon",
    "x_labels"} (the bottom axis's tick labels), and "interval" when a band is drawn."""
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
    fig, (top, low) = plt.subplots(2, 1, figsize=(10, 7), height_ratios=[1, 1])
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
                label=predicted_label(cfg.horizon))
        ax.axvspan(n - 0.5, n + steps - 0.5, color="#e8f6e8", zorder=0)
        (drawn,) = ax.plot(t_fut, fut, color="tab:green", marker=".", lw=1.2,
                           label=f"forecast after the data: {steps} step"
                           f"{'s' if steps != 1 else ''} ({span})")
        band = _band(ax, future, name, n, forecaster)
        _ticks(ax, labels, lo, n)
        ax.set_ylabel(name)
    dated = not future["times"][0].startswith("+")
    low.set_xlabel("date" if dated else "step (+k: k steps after the data)")
    top.set_title(f"{name}: {cfg.cell.upper()}({cfg.units}) x{cfg.layers}, window "
                  f"{cfg.window}, horizon {cfg.horizon}, {cfg.strategy}"
                  + (f" ({label})" if label else ""))
    low.set_title(f"the end of the series and {steps} step{'s' if steps != 1 else ''} "
                  "forecast after it", fontsize=10)
    # below the axes, where it covers neither the data nor the parts' names
    low.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=3, fontsize=8,
               frameon=False)
    fig.tight_layout()
    info = {"future_steps": int(len(drawn.get_xdata())), "future_from": future["times"][0],
            "future_to": future["times"][-1], "horizon": cfg.horizon,
            "x_labels": [t.get_text() for t in low.get_xticklabels()]}
    if band:
        info["interval"] = band
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return info


def _band(ax, future: dict, name: str, n: int, forecaster) -> dict | None:
    """Shade the widest central interval of the forecast after the data (its first
    ``horizon`` steps); returns {"coverage", "steps", "label"} or None without quantiles."""
    intervals = future.get("intervals", {}).get(name)
    if not intervals:
        return None
    cover = max(intervals, key=int)                      # the widest interval, e.g. "80"
    lower = np.asarray(intervals[cover]["lower"], dtype=np.float64)
    upper = np.asarray(intervals[cover]["upper"], dtype=np.float64)
    how = getattr(forecaster, "interval_how", None) or (     # a chosen hybrid or mean: its own
        "calibrated on validation" if forecaster.conformal else "not calibrated")
    label = f"{cover} % interval ({how})"
    steps = np.arange(n, n + len(lower))
    ax.fill_between(steps, lower, upper, color="tab:green", alpha=0.2, lw=0, label=label)
    if len(steps) == 1:              # a band one step wide has no area: draw a bar
        ax.vlines(steps, lower, upper, color="tab:green", alpha=0.6, lw=3)
    return {"coverage": int(cover), "steps": len(lower), "label": label}


def plot_training(path: str | Path, history: dict[str, list[float]], loss: str = "MSE"
                  ) -> None:
    """Training and validation loss per epoch (log scale); ``loss`` names it in the title."""
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for key in ("loss", "val_loss"):
        if key in history:
            ax.semilogy(np.arange(1, len(history[key]) + 1), history[key], marker=".",
                        label=key.replace("_", " "))
    ax.set(title=f"training curve ({loss} on scaled values)", xlabel="epoch", ylabel="loss")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))       # epochs are whole numbers
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
