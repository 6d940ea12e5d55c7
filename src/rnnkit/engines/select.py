"""Which engine runs a layer, and why a faster one was not eligible.

Rules for ``native`` (torch's fused kernels):
    * the cell is exactly ``LSTMCell``, ``GRUCell(reset_after=True)``, or
      ``SimpleRNNCell`` with activation tanh or relu (torch has kernels for nothing else);
    * the input is one tensor, not a nesting;
    * no recurrent dropout while training (torch's kernels have no per-sequence h mask);
    * a mask, if any, is right padding (every row a run of real steps, then padding)
      (rows with no real step keep their state): packed sequences allow nothing else.
``engine="auto"`` takes native when every rule holds, else loop.
"""

from __future__ import annotations

import torch

from ..cells import GRUCell, LSTMCell, SimpleRNNCell

__all__ = ["ENGINES", "native_blocker", "choose_engine"]

ENGINES = ("auto", "loop", "native")


def cell_blocker(cell) -> str | None:
    """Why this cell has no native kernel, or None."""
    kind = type(cell)
    if kind is LSTMCell:
        return None
    if kind is GRUCell:
        return None if cell.reset_after else "GRUCell(reset_after=False) has no torch kernel"
    if kind is SimpleRNNCell:
        if cell.activation_name in ("tanh", "relu"):
            return None
        return f"SimpleRNNCell(activation={cell.activation_name!r}): torch has only tanh, relu"
    return f"{kind.__name__} is not a built-in cell"


def native_blocker(cell, x, mask_is_right_padded: bool,
                   recurrent_dropout_active: bool) -> str | None:
    """Why ``native`` cannot run this call, or None when it can."""
    reason = cell_blocker(cell)
    if reason:
        return reason
    if not isinstance(x, torch.Tensor):
        return "nested inputs"
    if recurrent_dropout_active:
        return "recurrent_dropout > 0 while training"
    if not mask_is_right_padded:
        return "mask is not right padding (left or interior padding)"
    return None


def choose_engine(requested: str, blocker: str | None) -> tuple[str, str]:
    """Return ``(engine, note)``; raise if ``native`` was forced but is not eligible."""
    if requested == "loop":
        return "loop", "engine='loop' requested"
    if blocker is None:
        return "native", "torch fused kernel"
    if requested == "native":
        raise ValueError(
            f"engine='native' cannot run this layer: {blocker}. "
            "Use engine='auto' or engine='loop', or change that setting."
        )
    return "loop", f"native not eligible: {blocker}"
