r"""LSTM cell with layer normalisation (Ba, Kiros & Hinton, 2016, section 3.1 / appendix).

Math (one step; * is element-wise; LN(a) = (a - mean(a)) / sqrt(var(a) + eps) * gamma + beta,
over the features of each row):
    z  = LN_ih(W_ih x) + LN_hh(W_hh h) + b      the two projections normalised separately
    i, f, g, o = sigmoid, sigmoid, tanh, sigmoid of the four blocks of z
    c' = f * c + i * g                          the cell state is carried un-normalised
    h' = o * tanh(LN_c(c'))

Normalising each projection keeps the gate pre-activations at a steady scale however the
weights or inputs grow, which steadies training of long sequences.  As in the paper the
carried ``c`` is the raw one; TensorFlow Addons' ``LayerNormLSTMCell`` instead carries the
normalised ``c``.  Gate packing i, f, g, o as ``LSTMCell``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..registry import register_serializable
from ..types import LSTMState
from .base import Descriptor
from .lstm import LSTMCell

__all__ = ["LayerNormLSTMCell"]


@register_serializable
class LayerNormLSTMCell(LSTMCell):
    r"""LSTM cell with layer normalisation of both projections and of the cell state.

    Math:
        z = LN_ih(W_ih x) + LN_hh(W_hh h) + b;  i, f, g, o = split(z)  (sigma, sigma, tanh, sigma)
        c' = f * c + i * g
        h' = o * tanh(LN_c(c'))

    Args:
        input_size: D.
        hidden_size: H.
        use_bias: add ``b`` (the LN betas already shift z; ``b`` carries the forget bias).
        unit_forget_bias: start b_f at 1, as ``LSTMCell``.
        eps: added to the variance in every LN.

    Shapes: x (B, D); state ``LSTMState(h, c)``, each (B, H) -> output h' (B, H).
    Parameters: weight_ih (4H, D), weight_hh (4H, H), bias (4H,), and ``norm_ih``,
    ``norm_hh`` (4H each), ``norm_c`` (H) as ``nn.LayerNorm`` (weight = gamma, bias = beta):
    4H·(D+H+1) + 2·(4H+4H+H) in all.  The state, the parameters shared with ``LSTMCell``
    and their initialisation are ``LSTMCell``'s.

    Example:
        >>> cell = LayerNormLSTMCell(input_size=3, hidden_size=5)
        >>> out, state = cell(torch.zeros(2, 3))
        >>> tuple(out.shape), sum(p.numel() for p in cell.parameters())
        ((2, 5), 270)
    """

    def __init__(self, input_size: int, hidden_size: int, use_bias: bool = True,
                 unit_forget_bias: bool = True, eps: float = 1e-5):
        if not isinstance(eps, (int, float)) or isinstance(eps, bool) or not eps > 0:
            raise ValueError(f"eps must be a positive number, got {eps!r}")
        self.eps = float(eps)
        super().__init__(input_size, hidden_size, use_bias, unit_forget_bias)
        self.norm_ih = nn.LayerNorm(4 * hidden_size, eps=self.eps)
        self.norm_hh = nn.LayerNorm(4 * hidden_size, eps=self.eps)
        self.norm_c = nn.LayerNorm(hidden_size, eps=self.eps)

    def reset_parameters(self) -> None:
        super().reset_parameters()
        for name in ("norm_ih", "norm_hh", "norm_c"):
            if hasattr(self, name):                  # absent during LSTMCell.__init__
                getattr(self, name).reset_parameters()

    def forward(self, x: torch.Tensor, state: LSTMState | None = None, *,
                recurrent_mask: torch.Tensor | None = None):
        self.check_input(x)
        h, c = self.initial_state(x) if state is None else state
        h_rec = h if recurrent_mask is None else h * recurrent_mask
        z = (self.norm_ih(F.linear(x, self.weight_ih))
             + self.norm_hh(F.linear(h_rec, self.weight_hh)))
        if self.use_bias:
            z = z + self.bias
        i, f, g, o = z.chunk(4, dim=-1)
        i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
        c = f * c + i * g
        h = o * self.norm_c(c).tanh()
        return h, LSTMState(h, c)

    def descriptor(self) -> Descriptor:
        return Descriptor(kind="lnlstm", gates=4, paired=True, torch_op=None,
                          no_torch_op="LayerNormLSTMCell has no torch kernel", fused=True,
                          not_fused=None, layout=None)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "eps": self.eps}
