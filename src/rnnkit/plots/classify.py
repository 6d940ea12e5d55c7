"""Plots for ``SequenceClassifier.report``: the confusion matrix and the training curve."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .internals import _pyplot

__all__ = ["plot_confusion", "plot_curves"]


def plot_confusion(cm: np.ndarray, classes: Sequence[str], path: str | Path,
                   title: str = "") -> None:
    """Counts, rows = true class, columns = predicted; the diagonal is what was right."""
    plt = _pyplot()
    C = len(classes)
    fig, ax = plt.subplots(figsize=(1.2 + 0.55 * max(C, 3), 1.0 + 0.5 * max(C, 3)))
    share = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(C):
        for j in range(C):
            if cm[i, j]:
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if share[i, j] > 0.5 else "black")
    ax.set_xticks(range(C), [str(c)[:12] for c in classes], rotation=45 if C > 6 else 0,
                  fontsize=8)
    ax.set_yticks(range(C), [str(c)[:12] for c in classes], fontsize=8)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_curves(history: dict[str, list[float]], path: str | Path) -> None:
    """Loss and accuracy per epoch, training and validation."""
    plt = _pyplot()
    keys = [k for k in ("loss", "accuracy") if k in history or f"val_{k}" in history]
    fig, axes = plt.subplots(1, len(keys), figsize=(4.5 * len(keys), 3.3), squeeze=False)
    for ax, key in zip(axes[0], keys):
        for name in (key, f"val_{key}"):
            if name in history:
                ax.plot(np.arange(1, len(history[name]) + 1), history[name], marker=".",
                        label=name.replace("_", " "))
        ax.set(xlabel="epoch", title=key)
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
