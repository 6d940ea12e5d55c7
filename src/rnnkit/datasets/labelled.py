"""Labelled sequences: images read row by row (each row one time step), or any (N, T, D)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._options import check_fraction, check_seed

__all__ = ["Labelled"]


@dataclass(frozen=True)
class Labelled:
    """``x`` (N, T, D) float32, ``y`` (N,) int64 class ids, ``classes`` their names."""

    name: str
    x: np.ndarray
    y: np.ndarray
    classes: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.x.ndim != 3 or len(self.x) != len(self.y):
            raise ValueError(f"{self.name}: x must be (N, T, D) with one label per row, got "
                             f"x {self.x.shape} and y {self.y.shape}")

    def __len__(self) -> int:
        return len(self.y)

    def split(self, test: float = 0.2, seed: int = 0) -> tuple[Labelled, Labelled]:
        """(train, test): a seeded shuffle, then the last ``test`` share, per class
        (stratified), so both parts keep the class balance."""
        test = check_fraction("test", test, self.name)
        rng = np.random.default_rng(check_seed(seed, self.name))
        train_idx, test_idx = [], []
        for c in np.unique(self.y):
            idx = rng.permutation(np.flatnonzero(self.y == c))
            cut = len(idx) - max(1, int(round(len(idx) * test)))
            train_idx.append(idx[:cut])
            test_idx.append(idx[cut:])
        a, b = (rng.permutation(np.concatenate(p)) for p in (train_idx, test_idx))
        return self._take(a, "train"), self._take(b, "test")

    def _take(self, idx: np.ndarray, part: str) -> Labelled:
        return Labelled(f"{self.name} ({part})", self.x[idx], self.y[idx], self.classes)

    def preview(self) -> list[str]:
        counts = np.bincount(self.y, minlength=len(self.classes))
        return [f"shape:   x {self.x.shape} (N, T steps, D features), y {self.y.shape}",
                "classes: " + ", ".join(f"{c} ({n})" for c, n in zip(self.classes, counts))]
