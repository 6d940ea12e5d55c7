"""Datasets shipped inside the package (or generated), each with SOURCE, LICENSE and a NOTE.

Loading reads ``files/`` through importlib.resources and never touches the network.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._options import check_options
from .labelled import Labelled
from .pairs import Pairs, read_pairs
from .series import Series
from .text import Text

__all__ = ["Series", "Labelled", "Text", "Pairs", "read_pairs", "load", "names", "info",
           "SERIES", "SEQUENCES"]

SERIES = ("sunspots", "airline", "stocks", "weather", "sine")        # -> Series
SEQUENCES = ("digits", "mnist5k", "shakespeare", "numbers-fr", "reviews")  # Labelled, Text,
#                                                                   Pairs, Reviews
_NAMES = SERIES + SEQUENCES


def names() -> tuple[str, ...]:
    return _NAMES


def info(name: str):
    """The dataset's module: TITLE, SOURCE, LICENSE, NOTE, FILE, SEASON and ``load``."""
    if not isinstance(name, str) or name not in _NAMES:
        raise ValueError(f"unknown dataset {name!r}; available: {', '.join(_NAMES)}")
    return importlib.import_module(f"{__name__}.{name.replace('-', '_')}")


def load(name: str, **options: Any) -> Series | Labelled | Text | Pairs:
    """Load a dataset by name, e.g. ``load("stocks", symbol="MSFT")``; an option the
    dataset does not take, or a bad value, is a ValueError naming it."""
    module = info(name)
    check_options(name, module.load, options)
    return module.load(**options)
