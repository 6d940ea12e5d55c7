"""Turning user data (NumPy arrays, lists, tensors, nestings of them) into checked tensors,
and cutting them into batches and time chunks."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .._checks import check_finite
from ..types import tree_first, tree_leaves, tree_map

__all__ = ["as_tensors", "num_samples", "take", "batch_indices"]


def _one(a: Any, name: str, float_dtype: torch.dtype) -> torch.Tensor:
    if not isinstance(a, torch.Tensor):
        arr = np.asarray(a)
        if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number)
                                       or arr.dtype == np.bool_):
            raise TypeError(f"{name} must be numeric, got an array of {arr.dtype}")
        a = torch.from_numpy(np.ascontiguousarray(arr))
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
