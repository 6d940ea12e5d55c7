"""Checks for dataset options, shared by every ``load`` and ``split``: each bad value is a
ValueError (TypeError for a value of the wrong kind) naming the option, the dataset and
the value, raised before any NumPy call could fail with its own words."""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np

MAX_LENGTH = 10_000_000     # generated series: a length of 10**12 is refused here, not by RAM


def _who(name: str, dataset: str | None) -> str:
    return f"{dataset}: {name}" if dataset else name


def check_int(name: str, value: Any, minimum: int = 0, maximum: int | None = None,
              dataset: str | None = None) -> int:
    """An int (NumPy ints too; bools and floats are not) in [minimum, maximum]."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{_who(name, dataset)} must be an int, got {value!r} "
                        f"({type(value).__name__})")
    if value < minimum or (maximum is not None and value > maximum):
        span = f">= {minimum}" if maximum is None else f"in {minimum}..{maximum}"
        raise ValueError(f"{_who(name, dataset)} must be an int {span}, got {value!r}")
    return int(value)


def check_seed(value: Any, dataset: str | None = None, name: str = "seed") -> int:
    """A random seed: an int >= 0."""
    return check_int(name, value, 0, dataset=dataset)


def check_number(name: str, value: Any, *, minimum: float | None = None,
                 above: float | None = None, below: float | None = None,
                 dataset: str | None = None) -> float:
    """A finite real number (not a bool), >= ``minimum``, > ``above``, < ``below``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{_who(name, dataset)} must be a number, got {value!r} "
                        f"({type(value).__name__})")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{_who(name, dataset)} must be a finite number, got {value!r}")
    if minimum is not None and v < minimum:
        raise ValueError(f"{_who(name, dataset)} must be >= {minimum:g}, got {value!r}")
    if above is not None and not v > above:
        raise ValueError(f"{_who(name, dataset)} must be > {above:g}, got {value!r}")
    if below is not None and not v < below:
        raise ValueError(f"{_who(name, dataset)} must be < {below:g}, got {value!r}")
    return v


def check_fraction(name: str, value: Any, dataset: str | None = None) -> float:
    """A share strictly between 0 and 1 (a test or held-out part)."""
    v = check_number(name, value, dataset=dataset)
    if not 0 < v < 1:
        raise ValueError(f"{_who(name, dataset)} must be in (0, 1), got {value!r}")
    return v


def check_choice(name: str, value: Any, choices: tuple[str, ...], dataset: str) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"unknown {name} {value!r}; the {dataset} dataset has "
                         f"{', '.join(choices)}")
    return value


def check_options(dataset: str, load: Callable[..., Any], options: dict[str, Any]) -> None:
    """Refuse an option ``load`` does not take, listing the ones it does."""
    params = inspect.signature(load).parameters
    known = [k for k, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    unknown = [k for k in options if k not in known]
    if unknown:
        takes = f"its options are {', '.join(known)}" if known else "it takes no options"
        raise ValueError(f"the {dataset} dataset has no option "
                         f"{', '.join(map(repr, unknown))}; {takes}")
