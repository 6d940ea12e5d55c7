"""Datasets shipped inside the package, each with SOURCE, LICENSE and a short note.

Loading reads ``files/`` through importlib.resources and never touches the network.
"""

from __future__ import annotations

import csv
import gzip
import importlib
import io
from dataclasses import dataclass
from importlib import resources

import numpy as np

__all__ = ["Series", "load", "names", "info"]

_NAMES = ("sunspots",)


@dataclass(frozen=True)
class Series:
    """A loaded series: ``times`` labels (N,) and ``values`` (N,) or (N, F) with names."""

    name: str
    times: np.ndarray
    values: np.ndarray
    columns: tuple[str, ...]


def names() -> tuple[str, ...]:
    return _NAMES


def info(name: str):
    """The dataset's module (TITLE, SOURCE, LICENSE, NOTE, FILE)."""
    if name not in _NAMES:
        raise ValueError(f"unknown dataset {name!r}; available: {', '.join(_NAMES)}")
    return importlib.import_module(f"{__name__}.{name}")


def load(name: str) -> Series:
    """Load a shipped dataset by name, e.g. ``load("sunspots").values`` (2820,)."""
    module = info(name)
    raw = resources.files(__name__).joinpath("files", module.FILE).read_bytes()
    rows = list(csv.reader(io.StringIO(gzip.decompress(raw).decode("utf-8"))))
    header, body = rows[0], rows[1:]
    times = np.array([r[0] for r in body])
    values = np.array([[float(v) for v in r[1:]] for r in body])
    if values.shape[1] == 1:
        values = values[:, 0]
    return Series(name, times, values, tuple(header[1:]))
