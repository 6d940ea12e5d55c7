"""Turning user data (NumPy arrays, lists, tensors, nestings of them) into checked tensors,
and cutting them into batches and time chunks."""

from __future__ import annotations

import numbers
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._checks import check_finite
from ..types import tree_first, tree_leaves, tree_map

__all__ = ["as_tensors", "num_samples", "take", "batch_indices", "numeric_array", "as_path"]


def as_path(path: Any, name: str = "path") -> Path:
    """``path`` (a str or os.PathLike) as a Path; anything else is a TypeError naming
    ``name`` (not the stdlib's 'expected str, bytes or os.PathLike object')."""
    if isinstance(path, os.PathLike) or (isinstance(path, str) and path):
        return Path(path)
    raise TypeError(f"{name} must be a file name (str or Path), got {path!r:.80}")


def numeric_array(data: Any, name: str, *, max_ndim: int | None = None,
                  allow_empty: bool = False, none_as_nan: bool = False) -> np.ndarray:
    """``data`` (a list, NumPy array or tensor of numbers) as a float64 array, or an error
    naming ``name``: None or a bare string is a TypeError; a scalar, a ragged nesting,
    strings, dates, complex numbers, or numbers beyond float64 are a ValueError.  NaN and
    inf pass (callers decide: see ``first_non_finite``); so does None, as NaN, where
    ``none_as_nan``."""
    if data is None:
        raise TypeError(f"{name} is None; give numbers as a list, NumPy array or tensor")
    if isinstance(data, (str, bytes)):
        raise TypeError(f"{name} must be numbers (a list, NumPy array or tensor), got a "
                        f"{type(data).__name__} {data[:40]!r}")
    if isinstance(data, torch.Tensor):
        data = data.detach().cpu()
        if data.dtype == torch.bfloat16:
            data = data.float()
        data = data.numpy()
    try:
        arr = np.asarray(data)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be numbers in a regular array, with the same number "
                         f"of features in every row (a ragged nesting is not one: {err})") \
            from None
    if arr.dtype == object:
        flat = arr.ravel()
        for k, v in enumerate(flat.tolist()):
            if v is None and none_as_nan:
                continue
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
                where = np.unravel_index(k, arr.shape) if arr.ndim > 1 else (k,)
                what = ("a nested sequence of another length (the rows must be regular, "
                        "with the same number of features in every row)"
                        if isinstance(v, (list, tuple, np.ndarray)) else repr(v)[:40])
                raise ValueError(f"{name} must be numbers in a regular array: the value at "
                                 f"index {tuple(int(i) for i in where)} is {what}")
    elif arr.dtype.kind not in "biuf":
        what = {"U": "strings", "S": "bytes", "c": "complex numbers", "M": "dates",
                "m": "time deltas"}.get(arr.dtype.kind, f"dtype {arr.dtype}")
        example = f", e.g. {arr.ravel()[0].item()!r}" if arr.size else ""
        raise ValueError(f"{name} must be numbers, got {what}{example}; convert them first "
                         "(float(...), or read a CSV with rnnkit.data.read_csv_series)")
    try:
        with np.errstate(over="raise", invalid="raise"):
            out = (np.where(arr == None, np.nan, arr) if arr.dtype == object  # noqa: E711
                   else arr).astype(np.float64, copy=False)
    except (OverflowError, FloatingPointError, TypeError, ValueError) as err:
        raise ValueError(f"{name}: a value does not fit a 64-bit float ({err})") from None
    if out.ndim == 0:
        raise ValueError(f"{name} must be an array (N,) or (N, F), got the single number "
                         f"{out.item()!r}")
    if max_ndim is not None and out.ndim > max_ndim:
        raise ValueError(f"{name} must be (N,) or (N, F), got shape {out.shape}")
    if not allow_empty and out.size == 0:
        raise ValueError(f"{name} is empty (shape {out.shape})")
    return out


def first_non_finite(arr: np.ndarray, nan: bool = True) -> tuple[int, ...] | None:
    """Index of the first inf (and NaN, unless ``nan=False``) in ``arr``, or None."""
    bad = ~np.isfinite(arr) if nan else np.isinf(arr)
    if not bad.any():
        return None
    return tuple(int(i) for i in np.argwhere(bad)[0])


def _one(a: Any, name: str, float_dtype: torch.dtype) -> torch.Tensor:
    if not isinstance(a, torch.Tensor):
        if a is None or isinstance(a, (str, bytes)):
            raise TypeError(f"{name} must be numbers (an array, list or tensor), got "
                            f"{type(a).__name__}")
        try:
            arr = np.asarray(a)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{name} must be a regular array: every row needs the same "
                             f"shape (a ragged nesting is not one: {err})") from None
        if arr.dtype == object or arr.dtype.kind not in "biuf":
            raise TypeError(f"{name} must be numeric (ints, floats or bools), got an array "
                            f"of {arr.dtype}")
        a = torch.from_numpy(np.ascontiguousarray(arr))
    if a.is_complex():
        raise TypeError(f"{name} must be real numbers, got a tensor of {a.dtype}")
    if a.is_floating_point():
        a = a.to(float_dtype)
    elif a.dtype != torch.bool:
        a = a.long()
    if a.dim() == 0 or a.shape[0] == 0:
        raise ValueError(f"{name} is empty (shape {tuple(a.shape)})")
    check_finite(a, name)
    return a


def as_tensors(x: Any, name: str, float_dtype: torch.dtype = torch.float32) -> Any:
    """Check and convert ``x`` (or every leaf of a nesting); floats become ``float_dtype``."""
    if x is None:
        raise ValueError(f"{name} is None")
    if isinstance(x, (dict, tuple)) and not isinstance(x, np.ndarray):
        out = tree_map(lambda a: _one(a, name, float_dtype), x)
        sizes = {leaf.shape[0] for leaf in tree_leaves(out)}
        if len(sizes) > 1:
            raise ValueError(f"the parts of {name} have different sample counts: {sorted(sizes)}")
        return out
    return _one(x, name, float_dtype)


def num_samples(x: Any) -> int:
    return tree_first(x).shape[0]


def take(x: Any, idx: torch.Tensor | slice) -> Any:
    return tree_map(lambda a: a[idx], x)


def batch_indices(n: int, batch_size: int, shuffle: bool,
                  generator: torch.Generator | None = None) -> list[torch.Tensor]:
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    return list(order.split(batch_size))
