"""Pictures of the inside of a recurrent cell: hidden units and gates over time, the
gradient reaching each step, and how saturated the gates are."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["plot_explanation"]

LABELS = {"a": "pre-activation a", "i": "input gate i", "f": "forget gate f",
          "g": "candidate g", "o": "output gate o", "c": "cell state c", "r": "reset gate r",
          "z": "update gate z", "n": "candidate n"}
BOUNDED = {"i", "f", "o", "r", "z"}


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise ValueError("plots need matplotlib: pip install 'rnnkit[plots]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def integer_ticks(n: int, most: int = 10) -> list[int]:
    """About ``most`` whole-number ticks in 1..n, always within it, the first and last
    included unless crowded (1-based, as the text counts steps t = 1..T and units 1..H).

    Example:
        >>> integer_ticks(3), integer_ticks(40)
        ([1, 2, 3], [1, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40])
    """
    from matplotlib.ticker import MaxNLocator
    values = MaxNLocator(nbins=most, integer=True, min_n_ticks=1).tick_values(1, n)
    ticks = sorted({int(round(v)) for v in values if 1 <= v <= n})
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1
    ends = [e for e in (1, n) if all(abs(e - t) * 2 >= step for t in ticks)]   # first, last
    return sorted(set(ticks) | set(ends)) or [1]


def _heatmap(ax, data: np.ndarray, title: str, vmin=None, vmax=None, cmap="RdBu_r"):
    """data (T, H) drawn as units (rows) over time (columns), both numbered from 1: the cell
    of step t and unit j is centred on (t, j)."""
    if vmin is None:
        bound = float(np.abs(data).max()) or 1.0
        vmin, vmax = -bound, bound
    T, H = data.shape
    im = ax.imshow(data.T, aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax,
                   interpolation="nearest", extent=(0.5, T + 0.5, H + 0.5, 0.5))
    ax.set_xticks(integer_ticks(T))
    ax.set_yticks(integer_ticks(H, 8))
    ax.set(title=title, xlabel="time step t", ylabel="unit")
    ax.figure.colorbar(im, ax=ax, fraction=0.046)


def _done(plt, fig, figures: list | None) -> None:
    if figures is not None:
        figures.append(fig)
    plt.close(fig)


def plot_explanation(exp, out_dir: str | Path, figures: list | None = None) -> list[Path]:
    """Write hidden.png, gates.png, gradients.png (when computed); return the paths.
    ``figures``, when given, receives each figure before it is closed (for inspection)."""
    plt = _pyplot()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    fig, ax = plt.subplots(figsize=(8, 3))
    _heatmap(ax, exp.hidden, f"hidden state h_t ({exp.cell.kind}, H={exp.hidden.shape[1]})")
    fig.tight_layout()
    paths.append(out / "hidden.png")
    fig.savefig(paths[-1], dpi=110)
    _done(plt, fig, figures)

    names = list(exp.gates)
    sat = exp.saturation()
    fig, axes = plt.subplots(len(names), 1, figsize=(8, 2.4 * len(names)), squeeze=False)
    for ax, name in zip(axes[:, 0], names):
        title = LABELS.get(name, name)
        if name in sat:
            title += f"   ({sat[name]:.0%} saturated)"
        if name in BOUNDED:
            _heatmap(ax, exp.gates[name], title, 0.0, 1.0, cmap="viridis")
        else:
            _heatmap(ax, exp.gates[name], title)
    fig.tight_layout()
    paths.append(out / "gates.png")
    fig.savefig(paths[-1], dpi=110)
    _done(plt, fig, figures)

    if exp.dh_norms is not None:
        from ..explain import gradient_trend
        T = len(exp.dh_norms)
        fig, ax = plt.subplots(figsize=(8, 3))
        ax.semilogy(np.arange(1, T + 1), np.maximum(exp.dh_norms, 1e-300), marker=".")
        ax.set_xticks(integer_ticks(T))
        ax.set_xlim(0.5, T + 0.5)
        title = "gradient reaching each step: ||dL/dh_t||, L = the output"
        if T > 1:
            _, factor, label = gradient_trend(exp.dh_norms)
            title += f"\nper-step factor r = {factor:.3f}: {label}"
        ax.set(title=title, xlabel="time step t", ylabel="norm (log scale)")
        ax.grid(True, which="both", alpha=0.3)
        fig.tight_layout()
        paths.append(out / "gradients.png")
        fig.savefig(paths[-1], dpi=110)
        _done(plt, fig, figures)
    return paths
