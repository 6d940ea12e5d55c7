"""Checks shared by the task classes (classify, generate, translate): configuration fields,
sampling and decoding arguments, and the consistency of a loaded folder.  Every message
names the argument, field or file, what it must be, and the value given.

Wrong types are TypeErrors (a bool is not an int, a string is not a number; NumPy integers
and floats are accepted and turned into Python ones), values out of range ValueErrors."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from .._checks import MAX_UNITS

__all__ = ["int_field", "number_field", "choice_field", "flag_field", "units_field",
           "decoding_args", "check_share", "check_structure"]


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))


def _is_real(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))


def int_field(name: str, value: Any, *, minimum: int = 1, maximum: int | None = None,
              none: bool = False) -> int | None:
    """An int in [minimum, maximum] (or None when ``none``), as a Python int."""
    if value is None and none:
        return None
    if minimum == 1 and maximum is None:
        what = "a positive int"
    elif minimum == 0 and maximum is None:
        what = "a non-negative int"
    elif minimum == 1:
        what = f"a positive int no larger than {maximum:,}"
    elif maximum is None:
        what = f"an int >= {minimum}"
    else:
        what = f"an int in [{minimum}, {maximum:,}]"
    what += " or None" if none else ""
    if not _is_int(value):
        raise TypeError(f"{name} must be {what}, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return int(value)


def number_field(name: str, value: Any, *, low: float = 0.0, high: float = math.inf,
                 low_open: bool = True, high_open: bool = True, none: bool = False,
                 what: str | None = None) -> float | None:
    """A finite real number in the interval (``low_open`` / ``high_open`` say whether the
    ends are excluded), or None when ``none``, as a Python float."""
    if value is None and none:
        return None
    if what is None:
        what = ("(" if low_open else "[") + f"{low:g}, {high:g}" + (")" if high_open else "]")
        what = f"a finite number in {what}" if math.isfinite(high) else \
            ("a positive finite number" if low == 0 and low_open else
             f"a finite number {'>' if low_open else '>='} {low:g}")
    what += " or None" if none else ""
    if not _is_real(value):
        raise TypeError(f"{name} must be {what}, got {value!r}")
    v = float(value)
    if math.isnan(v) or math.isinf(v) or v < low or v > high or (low_open and v == low) \
            or (high_open and v == high):
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return v


def choice_field(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; "
                         f"got {value!r}")
    return value


def flag_field(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def units_field(name: str, value: Any) -> int:
    return int_field(name, value, maximum=MAX_UNITS)


# ---------------------------------------------------------------- sampling and decoding

def _temperature(name: str, value: Any, vocabulary: int | None) -> float:
    return number_field(name, value, low=0.0, low_open=False,
                        what="a finite number >= 0 (0 = greedy)")


def _top_k(name: str, value: Any, vocabulary: int | None) -> int | None:
    return int_field(name, value, none=True)


def _top_p(name: str, value: Any, vocabulary: int | None) -> float | None:
    return number_field(name, value, low=0.0, high=1.0, high_open=False, none=True)


def _seed(name: str, value: Any, vocabulary: int | None) -> int | None:
    seed = int_field(name, value, minimum=0, none=True)
    if seed is not None and seed >= 2 ** 64:
        raise ValueError(f"{name} must be below 2**64, got {value!r}")
    return seed


MAX_GENERATED = 1_000_000   # tokens one call may produce: 10**9 would run for days


def _length(name: str, value: Any, vocabulary: int | None) -> int:
    n = int_field(name, value, minimum=0)
    if n > MAX_GENERATED:
        raise ValueError(f"{name} must be at most {MAX_GENERATED:,}, got {n:,}")
    return n


def _max_length(name: str, value: Any, vocabulary: int | None) -> int | None:
    n = int_field(name, value, none=True)
    if n is not None and n > MAX_GENERATED:
        raise ValueError(f"{name} must be at most {MAX_GENERATED:,}, got {n:,}")
    return n


def _beam(name: str, value: Any, vocabulary: int | None) -> int:
    beam = int_field(name, value)
    if vocabulary is not None and beam > vocabulary:
        raise ValueError(f"{name}={beam} is larger than the target vocabulary, which has "
                         f"{vocabulary} tokens a translation can hold; use {name} <= "
                         f"{vocabulary}")
    return beam


def _limit(name: str, value: Any, vocabulary: int | None) -> int | None:
    return int_field(name, value, none=True)


def _callback(name: str, value: Any, vocabulary: int | None) -> Callable | None:
    if value is not None and not callable(value):
        raise TypeError(f"{name} must be a callable (it receives each new token) or None, "
                        f"got {value!r}")
    return value


_DECODING: dict[str, Callable[[str, Any, int | None], Any]] = {
    "temperature": _temperature, "top_k": _top_k, "top_p": _top_p, "seed": _seed,
    "length": _length, "max_length": _max_length, "beam": _beam, "limit": _limit,
    "on_token": _callback}


def decoding_args(vocabulary: int | None = None, **args: Any) -> dict[str, Any]:
    """Check the sampling / decoding arguments given by name (temperature, top_k, top_p,
    seed, length, max_length, beam, limit, on_token) and return them normalised (NumPy
    scalars become Python ones).  ``vocabulary``: how many tokens can be produced, the
    upper bound of ``beam``."""
    return {name: _DECODING[name](name, value, vocabulary) for name, value in args.items()}


def check_share(name: str, value: Any, samples: int | None = None) -> float:
    """A held-out share in [0, 1) (0 or None = none), leaving at least one sample to train
    on when ``samples`` is given."""
    if value is None:
        return 0.0
    share = number_field(name, value, low=0.0, high=1.0, low_open=False)
    if samples is not None and samples - int(round(samples * share)) < 1:
        raise ValueError(f"{name}={value!r} leaves no sample of {samples} to train on")
    return share


# ---------------------------------------------------------------- loaded folders

def check_structure(expected: torch.nn.Module, loaded: torch.nn.Module, settings: str,
                    weights: str) -> None:
    """The model ``settings`` (a task's JSON file) describes must be the one in ``weights``:
    the same layers, parameter names and shapes."""
    want = [type(m).__name__ for m in expected.modules()]
    have = [type(m).__name__ for m in loaded.modules()]
    if want != have:
        raise ValueError(f"{settings} describes a model of {want[1:]} but {weights} holds "
                         f"{have[1:]}; the files come from different models")
    a, b = expected.state_dict(), loaded.state_dict()
    for key in sorted(set(a) | set(b)):
        sa = tuple(a[key].shape) if key in a else None
        sb = tuple(b[key].shape) if key in b else None
        if sa != sb:
            raise ValueError(f"{settings} and {weights} disagree on {key}: the settings "
                             f"imply shape {sa}, the weights have {sb}; the files come from "
                             "different models")
