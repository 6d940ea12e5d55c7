r"""Long short-term memory cell (Hochreiter & Schmidhuber, 1997; forget gate: Gers et al., 2000).

Math (one step; * is element-wise):
    i  = sigmoid(W_ii x + W_hi h + b_i)     input gate
    f  = sigmoid(W_if x + W_hf h + b_f)     forget gate
    g  = tanh(W_ig x + W_hg h + b_g)        candidate
    o  = sigmoid(W_io x + W_ho h + b_o)     output gate
    c' = f * c + i * g
    h' = o * tanh(c')

Gate packing i, f, g, o as in ``torch.nn.LSTM``; one bias (torch.nn's b_ih + b_hh).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from ..registry import register_serializable
from ..types import LSTMState
from .base import Descriptor, GatedCell

__all__ = ["LSTMCell"]


@register_serializable
class LSTMCell(GatedCell):
    r"""Long short-term memory cell.

    Math:
        i, f, g, o = split(W_ih x + W_hh h + b)    (sigmoid, sigmoid, tanh, sigmoid)
        c' = f * c + i * g
        h' = o * tanh(c')

    Args:
        input_size: D.
        hidden_size: H.
        use_bias: add ``b``.
        unit_forget_bias: start b_f at 1 so the cell remembers by default
            (Jozefowicz et al., 2015; Keras' default).

    Shapes: x (B, D); state ``LSTMState(h, c)``, each (B, H) -> output h' (B, H).
    Parameters: weight_ih (4H, D), weight_hh (4H, H), bias (4H,) -- 4H·(D+H+1), as Keras.

    Example:
        >>> cell = LSTMCell(input_size=3, hidden_size=5)
        >>> out, state = cell(torch.zeros(2, 3))
        >>> tuple(out.shape), tuple(state.c.shape)
        ((2, 5), (2, 5))
    """

    gates = 4

    def __init__(self, input_size: int, hidden_size: int, use_bias: bool = True,
                 unit_forget_bias: bool = True):
        self.unit_forget_bias = unit_forget_bias
        super().__init__(input_size, hidden_size, use_bias)

    @property
    def state_size(self) -> LSTMState:
        return LSTMState(self.hidden_size, self.hidden_size)

    def reset_parameters(self) -> None:
        super().reset_parameters()
        if self.use_bias and self.unit_forget_bias:
            with torch.no_grad():
                self.bias[self.hidden_size:2 * self.hidden_size].fill_(1.0)

    def forward(self, x: torch.Tensor, state: LSTMState | None = None, *,
                recurrent_mask: torch.Tensor | None = None):
        self.check_input(x)
        h, c = self.initial_state(x) if state is None else state
        h_rec = h if recurrent_mask is None else h * recurrent_mask
        gates = (F.linear(x, self.weight_ih, self.bias if self.use_bias else None)
                 + F.linear(h_rec, self.weight_hh))
        i, f, g, o = gates.chunk(4, dim=-1)
        i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
        c = f * c + i * g
        h = o * c.tanh()
        return h, LSTMState(h, c)

    def descriptor(self) -> Descriptor:
        return Descriptor(kind="lstm", gates=4, paired=True, torch_op="lstm", no_torch_op=None,
                          fused=True, not_fused=None, layout="lstm")

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}
