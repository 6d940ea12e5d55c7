r"""Elman recurrent cell, Keras' ``SimpleRNNCell`` (Elman, 1990).

Math (one step):
    h' = act(W_ih x + W_hh h + b)

act is tanh by default; relu, sigmoid, linear or any callable are allowed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from ..registry import register_serializable
from .base import ACTIVATIONS, Descriptor, GatedCell, resolve_activation

__all__ = ["SimpleRNNCell"]


@register_serializable
class SimpleRNNCell(GatedCell):
    r"""Fully connected recurrent cell: the output is the new hidden state.

    Math:
        h' = act(W_ih x + W_hh h + b)

    Args:
        input_size: D, features per step.
        hidden_size: H, hidden units.
        activation: "tanh" (default), "relu", "sigmoid", "linear", or a callable.
        use_bias: add ``b``.

    Shapes: x (B, D); h (B, H) -> output h' (B, H), state h' (B, H).
    Parameters: weight_ih (H, D), weight_hh (H, H), bias (H,) -- H·(D+H+1), as Keras.

    Example:
        >>> cell = SimpleRNNCell(input_size=3, hidden_size=5)
        >>> out, h = cell(torch.zeros(2, 3))
        >>> tuple(out.shape), sum(p.numel() for p in cell.parameters())
        ((2, 5), 45)
    """

    gates = 1

    def __init__(self, input_size: int, hidden_size: int,
                 activation: str | Callable = "tanh", use_bias: bool = True):
        super().__init__(input_size, hidden_size, use_bias)
        self.activation_name, self.activation = resolve_activation(activation)

    def forward(self, x: torch.Tensor, state: torch.Tensor | None = None, *,
                recurrent_mask: torch.Tensor | None = None):
        self.check_input(x)
        h = self.initial_state(x) if state is None else state
        h_rec = h if recurrent_mask is None else h * recurrent_mask
        h = self.activation(F.linear(x, self.weight_ih, self.bias if self.use_bias else None)
                            + F.linear(h_rec, self.weight_hh))
        return h, h

    def descriptor(self) -> Descriptor:
        act = self.activation_name
        named = act in ACTIVATIONS and self.activation is ACTIVATIONS[act]
        return Descriptor(
            kind="simple", gates=1, paired=False,
            torch_op=f"rnn_{act}" if named and act in ("tanh", "relu") else None,
            no_torch_op=None if named and act in ("tanh", "relu") else
            f"SimpleRNNCell(activation={act!r}): torch has only tanh, relu",
            fused=named,
            not_fused=None if named else
            f"SimpleRNNCell(activation={act!r}) is a custom callable",
            layout="simple")

    def get_config(self) -> dict[str, Any]:
        if self.activation_name not in ("tanh", "relu", "sigmoid", "linear"):
            raise ValueError(f"SimpleRNNCell with a custom activation "
                             f"({self.activation_name!r}) cannot be saved as config")
        return {**super().get_config(), "activation": self.activation_name}
