"""Datasets shipped inside the package (or generated), each with SOURCE, LICENSE and a NOTE.

Loading reads ``files/`` through importlib.resources and never touches the network.
"""

from __future__ import annotations

import importlib
from typing import Any

from .series import Series

__all__ = ["Series", "load", "names", "info"]

_NAMES = ("sunspots", "airline", "stocks", "weather", "sine")


def names() -> tuple[str, ...]:
    return _NAMES


def info(name: str):
    """The dataset's module: TITLE, SOURCE, LICENSE, NOTE, FILE, SEASON and ``load``."""
    if name not in _NAMES:
        raise ValueError(f"unknown dataset {name!r}; available: {', '.join(_NAMES)}")
    return importlib.import_module(f"{__name__}.{name}")


def load(name: str, **options: Any) -> Series:
    """Load a dataset by name, e.g. ``load("stocks", symbol="MSFT")``."""
    return info(name).load(**options)
