"""Bidirectional: a forward RNN and a backward copy (fresh weights) over the same input.

The backward layer runs with ``go_backwards`` flipped, so it respects padding; its outputs
are put back in input order before merging, so ``output[:, t]`` holds both directions'
view of step t.  For ``return_sequences=False`` the backward half is its state after
reading step 0 -- not ``output[:, -1]`` of the sequence output.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from .._checks import check_choice, resolve_mask
from ..registry import deserialize, register_serializable, serialize
from ..types import Choice, tree_first
from .recurrent import RNN, flatten_state, reverse_sequences

__all__ = ["Bidirectional"]

MERGE_MODES = ("concat", "sum", "mul", "ave", None)


def _backward_copy(layer: RNN) -> RNN:
    try:
        config = layer.get_config()
    except (NotImplementedError, ValueError):   # custom cell without config: copy, re-init
        twin = copy.deepcopy(layer)
        twin.go_backwards = not layer.go_backwards
        for module in twin.modules():
            if module is not twin and hasattr(module, "reset_parameters"):
                module.reset_parameters()
        return twin
    config["go_backwards"] = not layer.go_backwards
    return type(layer).from_config(config)


@register_serializable
class Bidirectional(nn.Module):
    """Wrap an RNN layer to read sequences in both directions.

    Args:
        layer: an ``RNN`` (SimpleRNN, LSTM, GRU or RNN(cell)); its return options apply.
        merge_mode: "concat" (default), "sum", "mul", "ave", or None for a (forward, backward)
            pair.

    Returns: the merged output; with ``return_state``,
        ``(output, *forward_state, *backward_state)`` -- (out, h_f, c_f, h_b, c_b) for LSTM.

    Example:
        >>> from rnnkit.layers import LSTM
        >>> layer = Bidirectional(LSTM(4, return_sequences=True))
        >>> tuple(layer(torch.zeros(2, 5, 3), lengths=torch.tensor([5, 2])).shape)
        (2, 5, 8)
    """

    def __init__(self, layer: RNN, merge_mode: str | None = "concat"):
        super().__init__()
        if not isinstance(layer, RNN):
            raise TypeError(f"Bidirectional wraps an rnnkit RNN layer, got {type(layer).__name__}")
        check_choice("merge_mode", merge_mode, MERGE_MODES)
        self.forward_layer, self.backward_layer = layer, _backward_copy(layer)
        self.merge_mode = merge_mode

    @property
    def return_sequences(self) -> bool:
        return self.forward_layer.return_sequences

    @property
    def return_state(self) -> bool:
        return self.forward_layer.return_state

    @property
    def engine_choice(self) -> Choice | None:
        """The engine of both directions (``"mixed"`` with both reasons when they differ)."""
        f, b = self.forward_layer.engine_choice, self.backward_layer.engine_choice
        if f is None or b is None or f.kind == b.kind:
            return f
        return Choice("mixed", f"forward {f}, backward {b}")

    def compute_mask(self, x: Any, mask: torch.Tensor | None = None):
        return mask if self.return_sequences else None

    def reset_states(self) -> None:
        self.forward_layer.reset_states()
        self.backward_layer.reset_states()

    def forward(self, x: Any, initial_state: Any = None, *, mask: Any = None,
                lengths: Any = None):
        if initial_state is None:
            init_f = init_b = None
        elif isinstance(initial_state, (tuple, list)) and len(initial_state) == 2:
            init_f, init_b = initial_state
        else:
            raise ValueError("initial_state of Bidirectional must be a pair "
                             "(forward_state, backward_state)")
        out_f, state_f = self.forward_layer.run(x, init_f, mask=mask, lengths=lengths)
        out_b, state_b = self.backward_layer.run(x, init_b, mask=mask, lengths=lengths)
        if self.return_sequences:     # backward outputs come in processing order: undo it
            B, T = tree_first(x).shape[:2]
            full_mask, _, _ = resolve_mask(mask, lengths, B, T, tree_first(x).device)
            out_b, _ = reverse_sequences(out_b, full_mask)
        output = self._merge(out_f, out_b)
        if self.return_state:
            return (output, *flatten_state(state_f), *flatten_state(state_b))
        return output

    def _merge(self, a: torch.Tensor, b: torch.Tensor):
        if self.merge_mode == "concat":
            return torch.cat([a, b], dim=-1)
        if self.merge_mode == "sum":
            return a + b
        if self.merge_mode == "mul":
            return a * b
        if self.merge_mode == "ave":
            return (a + b) / 2
        return a, b

    def get_config(self) -> dict[str, Any]:
        return {"layer": serialize(self.forward_layer), "merge_mode": self.merge_mode}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Bidirectional:
        return cls(deserialize(config["layer"]), merge_mode=config["merge_mode"])
