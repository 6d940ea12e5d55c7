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


def _heatmap(ax, data: np.ndarray, title: str, vmin=None, vmax=None, cmap="RdBu_r"):
    """data (T, H) drawn as units (rows) over time (columns)."""
    if vmin is None:
        bound = float(np.abs(data).max()) or 1.0
        vmin, vmax = -bound, bound
    im = ax.imshow(data.T, aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax,
                   interpolation="nearest")
    ax.set(title=title, xlabel="time step t", ylabel="unit")
    ax.figure.colorbar(im, ax=ax, fraction=0.046)


def plot_explanation(exp, out_dir: str | Path) -> list[Path]:
    """Write hidden.png, gates.png, gradients.png (when computed); return the paths."""
    plt = _pyplot()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    fig, ax = plt.subplots(figsize=(8, 3))
    _heatmap(ax, exp.hidden, f"hidden state h_t ({exp.cell.kind}, H={exp.hidden.shape[1]})")
    fig.tight_layout()
    paths.append(out / "hidden.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

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
    plt.close(fig)

    if exp.dh_norms is not None:
        fig, ax = plt.subplots(figsize=(8, 3))
        ax.semilogy(np.arange(len(exp.dh_norms)), np.maximum(exp.dh_norms, 1e-300), marker=".")
        ax.set(title="gradient reaching each step: ||dL/dh_t||, L = the output",
               xlabel="time step t", ylabel="norm (log scale)")
        ax.grid(True, which="both", alpha=0.3)
        fig.tight_layout()
        paths.append(out / "gradients.png")
        fig.savefig(paths[-1], dpi=110)
        plt.close(fig)
    return paths
