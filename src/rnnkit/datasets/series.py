"""The loaded form of every dataset."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Series:
    """``times`` labels (N,) and ``values`` (N,) or (N, F) with ``columns`` names."""

    name: str
    times: np.ndarray
    values: np.ndarray
    columns: tuple[str, ...]

    def column(self, name: str) -> np.ndarray:
        if not isinstance(name, str) or name not in self.columns:
            raise ValueError(f"{self.name} has no column {name!r}; columns: "
                             f"{', '.join(self.columns)}")
        return self.values if self.values.ndim == 1 else self.values[:, self.columns.index(name)]

    def select(self, names: list[str] | tuple[str, ...]) -> Series:
        """The same series with only ``names`` as columns (in that order)."""
        if isinstance(names, str) or not isinstance(names, (list, tuple)):
            raise TypeError(f"names must be a list of column names, got {names!r:.60}"
                            + (f"; write [{names!r}] for one column" if isinstance(names, str)
                               else ""))
        if not names:
            raise ValueError(f"{self.name}: select needs at least one column name")
        cols = np.stack([self.column(n) for n in names], axis=1)
        return Series(self.name, self.times, cols[:, 0] if len(names) == 1 else cols,
                      tuple(names))
