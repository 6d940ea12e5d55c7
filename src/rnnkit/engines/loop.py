"""The readable engine: one ``cell`` call per time step. Works for any cell.

Masked steps keep the previous state and emit zeros, so padding never changes a result.
``x[:, t]`` on a tensor that needs gradients would make backward zero-fill a full-size
gradient per step (quadratic in T); ``unbind`` once avoids it.

Under ``torch.autocast`` the cell's products run in bf16 and whatever the cell returns is
put back in the initial state's dtype every step, so the state carried in time stays fp32.
"""

from __future__ import annotations

from typing import Any

import torch

from ..types import tree_leaves, tree_map

__all__ = ["run_loop"]


def _unflatten(structure: Any, leaves: list) -> Any:
    it = iter(leaves)
    return tree_map(lambda _: next(it), structure)


def _where(m_t: torch.Tensor, new: torch.Tensor, old: torch.Tensor) -> torch.Tensor:
    return torch.where(m_t.view(-1, *([1] * (new.dim() - 1))), new, old)


def run_loop(cell, x: Any, state: Any, mask: torch.Tensor | None = None,
             recurrent_mask: torch.Tensor | None = None, keep_outputs: bool = True):
    """Run ``cell`` over time.

    Args:
        x: (B, T, D) or a nesting of (B, T, ...) tensors.
        state: the initial state (never None here).
        mask: (B, T) bool, True where the step is real; None means all real.
        recurrent_mask: (B, H) dropout mask passed to the cell, or None.
        keep_outputs: stack every step's output; False keeps only the last.

    Returns:
        (outputs (B, T, ...) or None, last output (B, ...) at each row's last real step, state)
    """
    kwargs = {} if recurrent_mask is None else {"recurrent_mask": recurrent_mask}
    if isinstance(x, torch.Tensor):
        steps = x.unbind(1)                                   # T tensors (B, D)
    else:
        columns = [leaf.unbind(1) for leaf in tree_leaves(x)]
        steps = [_unflatten(x, [col[t] for col in columns]) for t in range(len(columns[0]))]
    masks = mask.unbind(1) if mask is not None else None
    outputs, last = [], None
    first = tree_leaves(state)[0] if tree_leaves(state) else None
    cast = first is not None and torch.is_autocast_enabled(first.device.type)
    for t, x_t in enumerate(steps):
        y, new_state = cell(x_t, state, **kwargs)
        if cast:                                  # autocast: the state keeps its dtype
            new_state = tree_map(lambda n, o: n.to(o.dtype), new_state, state)
            y = tree_map(lambda a: a.to(first.dtype) if a.is_floating_point() else a, y)
        if masks is not None:
            m_t = masks[t]                                    # (B,) True = real step
            new_state = tree_map(lambda n, o: _where(m_t, n, o), new_state, state)
            y = tree_map(lambda a: _where(m_t, a, a.new_zeros(())), y)
            last = y if last is None else tree_map(lambda a, b: _where(m_t, a, b), y, last)
        else:
            last = y
        state = new_state
        if keep_outputs:
            outputs.append(y)
    stacked = tree_map(lambda *ys: torch.stack(ys, 1), *outputs) if keep_outputs else None
    return stacked, last, state
