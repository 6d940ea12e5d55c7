r"""LSTM cell with peephole connections (Gers & Schmidhuber, 2000; Gers, Schraudolph &
Schmidhuber, 2002).

Math (one step; * is element-wise):
    i  = sigmoid(W_ii x + W_hi h + w_ci * c  + b_i)     input gate, peeks at c
    f  = sigmoid(W_if x + W_hf h + w_cf * c  + b_f)     forget gate, peeks at c
    g  = tanh(W_ig x + W_hg h + b_g)                    candidate
    c' = f * c + i * g
    o  = sigmoid(W_io x + W_ho h + w_co * c' + b_o)     output gate, peeks at the new c'
    h' = o * tanh(c')

The gates of a plain LSTM see the cell only through h = o * tanh(c), which is zero while o
is shut; the peepholes let them time events from c itself (the paper's counting and timing
tasks).  w_ci, w_cf, w_co are per-unit (diagonal) weights and start at zero, so a new cell
computes exactly what ``LSTMCell`` with the same weights does.  Gate packing i, f, g, o as
``LSTMCell``; no torch kernel exists for this cell.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..registry import register_serializable
from ..types import LSTMState
from .base import Descriptor
from .lstm import LSTMCell

__all__ = ["PeepholeLSTMCell"]


@register_serializable
class PeepholeLSTMCell(LSTMCell):
    r"""LSTM cell whose gates also read the cell state.

    Math:
        i, f, g, o = split(W_ih x + W_hh h + b)   (pre-activations)
        i = sigmoid(i + w_ci * c);  f = sigmoid(f + w_cf * c);  g = tanh(g)
        c' = f * c + i * g
        o = sigmoid(o + w_co * c');  h' = o * tanh(c')

    Args:
        input_size: D.
        hidden_size: H.
        use_bias: add ``b``.
        unit_forget_bias: start b_f at 1, as ``LSTMCell``.

    Shapes: x (B, D); state ``LSTMState(h, c)``, each (B, H) -> output h' (B, H).
    Parameters: ``LSTMCell``'s, plus weight_ci, weight_cf, weight_co (H,) each (zeros at
    first): 4H·(D+H+1) + 3H.

    Example:
        >>> cell = PeepholeLSTMCell(input_size=3, hidden_size=5)
        >>> out, state = cell(torch.zeros(2, 3))
        >>> tuple(out.shape), sum(p.numel() for p in cell.parameters())
        ((2, 5), 195)
    """

    def __init__(self, input_size: int, hidden_size: int, use_bias: bool = True,
                 unit_forget_bias: bool = True):
        super().__init__(input_size, hidden_size, use_bias, unit_forget_bias)
        self.weight_ci = nn.Parameter(torch.zeros(hidden_size))
        self.weight_cf = nn.Parameter(torch.zeros(hidden_size))
        self.weight_co = nn.Parameter(torch.zeros(hidden_size))

    def reset_parameters(self) -> None:
        super().reset_parameters()
        for name in ("weight_ci", "weight_cf", "weight_co"):
            if hasattr(self, name):                  # absent during LSTMCell.__init__
                nn.init.zeros_(getattr(self, name))

    def forward(self, x: torch.Tensor, state: LSTMState | None = None, *,
                recurrent_mask: torch.Tensor | None = None):
        self.check_input(x)
        h, c = self.initial_state(x) if state is None else state
        h_rec = h if recurrent_mask is None else h * recurrent_mask
        gates = (F.linear(x, self.weight_ih, self.bias if self.use_bias else None)
                 + F.linear(h_rec, self.weight_hh))
        i, f, g, o = gates.chunk(4, dim=-1)
        i = (i + self.weight_ci * c).sigmoid()
        f = (f + self.weight_cf * c).sigmoid()
        g = g.tanh()
        c = f * c + i * g
        o = (o + self.weight_co * c).sigmoid()
        h = o * c.tanh()
        return h, LSTMState(h, c)

    def descriptor(self) -> Descriptor:
        return Descriptor(kind="peephole", gates=4, paired=True, torch_op=None,
                          no_torch_op="PeepholeLSTMCell has no torch kernel", fused=True,
                          not_fused=None, layout=None)
