"""State types and the shape vocabulary used in every docstring.

Shape letters (batch-first everywhere):
    B  batch               T  time steps          D  input features
    H  hidden units        G  gates (LSTM 4, GRU 3, SimpleRNN 1)
    V  vocabulary size     E  embedding size      K  forecast horizon

A *state* is a tensor, an ``LSTMState(h, c)``, or any nesting of tuples, lists,
dicts and named tuples of tensors (a "pytree") for custom cells.  The helpers
below walk such nestings; they are small on purpose (``torch.utils._pytree`` is
private API).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import torch

__all__ = ["LSTMState", "Choice", "tree_map", "tree_leaves", "tree_first", "is_namedtuple"]


class LSTMState(NamedTuple):
    """The state of an LSTM: hidden ``h`` (B, H) and cell ``c`` (B, H), in that order."""

    h: torch.Tensor
    c: torch.Tensor


class Choice(NamedTuple):
    """What runs and why: an engine or a training step chosen for a call.

    ``kind`` is a name from a fixed list (``"torch"``, ``"rnnkit"``, ``"loop"`` for engines;
    ``"cpp"``, ``"autograd"`` for training steps); ``reason`` is prose for people.  Code reads
    ``kind``; ``summary()`` and the CLI print both; nothing parses ``reason``.
    """

    kind: str
    reason: str

    def __str__(self) -> str:
        return f"{self.kind} ({self.reason})"


def is_namedtuple(x: Any) -> bool:
    return isinstance(x, tuple) and hasattr(x, "_fields")


def tree_map(fn: Callable[..., Any], tree: Any, *rest: Any) -> Any:
    """Apply ``fn`` to every leaf of ``tree`` (and the matching leaves of ``rest``).

    Containers are tuples, lists, dicts and named tuples; everything else is a leaf.
    The structures of ``rest`` must match ``tree``; a mismatch raises ``ValueError``.
    """
    if isinstance(tree, torch.Size):  # a multi-dimensional shape is one leaf
        return fn(tree, *rest)
    if isinstance(tree, dict):
        for other in rest:
            if not isinstance(other, dict) or other.keys() != tree.keys():
                raise ValueError(f"structure mismatch: dict keys {sorted(tree)} vs {other!r:.80}")
        return {k: tree_map(fn, tree[k], *(o[k] for o in rest)) for k in tree}
    if isinstance(tree, (tuple, list)):
        for other in rest:
            if not isinstance(other, (tuple, list)) or len(other) != len(tree):
                raise ValueError(
                    f"structure mismatch: {type(tree).__name__} of {len(tree)} "
                    f"vs {type(other).__name__} {other!r:.80}"
                )
        items = [tree_map(fn, *parts) for parts in zip(tree, *rest)]
        if is_namedtuple(tree):
            return type(tree)(*items)
        return type(tree)(items)
    return fn(tree, *rest)


def tree_leaves(tree: Any) -> list[Any]:
    """The leaves of ``tree`` in a fixed (depth-first, dict-insertion) order."""
    out: list[Any] = []
    tree_map(out.append, tree)
    return out


def tree_first(tree: Any) -> Any:
    """The first leaf of ``tree``; ``ValueError`` if it has none."""
    leaves = tree_leaves(tree)
    if not leaves:
        raise ValueError("expected at least one tensor, got an empty structure")
    return leaves[0]
