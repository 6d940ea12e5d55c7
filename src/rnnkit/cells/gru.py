r"""Gated recurrent unit, both conventions (Cho et al., 2014).

reset_after=True (default; Keras' default, torch.nn.GRU and cuDNN):
    r  = sigmoid(W_ir x + b_ir + W_hr h + b_hr)       reset gate
    z  = sigmoid(W_iz x + b_iz + W_hz h + b_hz)       update gate
    n  = tanh(W_in x + b_in + r * (W_hn h + b_hn))    candidate: reset applied after the product
    h' = (1 - z) * n + z * h

reset_after=False (the original paper):
    r, z as above with one bias b
    n  = tanh(W_in x + b_n + W_hn (r * h))            reset applied before the product
    h' = (1 - z) * n + z * h

Gate packing r, z, n as in ``torch.nn.GRU``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from ..registry import register_serializable
from .base import Descriptor, GatedCell

__all__ = ["GRUCell"]


@register_serializable
class GRUCell(GatedCell):
    r"""Gated recurrent unit cell.

    Math:
        r, z = sigmoid(...), sigmoid(...)            reset and update gates
        n    = tanh(W_in x + b_in + r * (W_hn h + b_hn))   (reset_after=True)
        n    = tanh(W_in x + b_n + W_hn (r * h))           (reset_after=False)
        h'   = (1 - z) * n + z * h

    Args:
        input_size: D.
        hidden_size: H.
        use_bias: add biases.
        reset_after: True keeps two biases ``bias_ih``, ``bias_hh`` (3H each), False one ``bias``.

    Shapes: x (B, D); h (B, H) -> output h' (B, H).
    Parameters: weight_ih (3H, D), weight_hh (3H, H), and 6H (reset_after) or 3H biases.

    Example:
        >>> cell = GRUCell(input_size=256, hidden_size=1024)
        >>> sum(p.numel() for p in cell.parameters())   # Keras GRU(1024) on 256 inputs
        3938304
    """

    gates = 3

    def __init__(self, input_size: int, hidden_size: int, use_bias: bool = True,
                 reset_after: bool = True):
        self.reset_after = bool(reset_after)
        super().__init__(input_size, hidden_size, use_bias, split_bias=self.reset_after)

    def forward(self, x: torch.Tensor, state: torch.Tensor | None = None, *,
                recurrent_mask: torch.Tensor | None = None):
        self.check_input(x)
        h = self.initial_state(x) if state is None else state
        h_rec = h if recurrent_mask is None else h * recurrent_mask
        H = self.hidden_size
        if self.reset_after:
            b_ih, b_hh = (self.bias_ih, self.bias_hh) if self.use_bias else (None, None)
            x_r, x_z, x_n = F.linear(x, self.weight_ih, b_ih).chunk(3, dim=-1)
            h_r, h_z, h_n = F.linear(h_rec, self.weight_hh, b_hh).chunk(3, dim=-1)
            r, z = (x_r + h_r).sigmoid(), (x_z + h_z).sigmoid()
            n = (x_n + r * h_n).tanh()
        else:
            x_r, x_z, x_n = F.linear(x, self.weight_ih, self.bias if self.use_bias else None
                                     ).chunk(3, dim=-1)
            h_r, h_z = F.linear(h_rec, self.weight_hh[:2 * H]).chunk(2, dim=-1)
            r, z = (x_r + h_r).sigmoid(), (x_z + h_z).sigmoid()
            n = (x_n + F.linear(r * h_rec, self.weight_hh[2 * H:])).tanh()
        h = (1 - z) * n + z * h
        return h, h

    def descriptor(self) -> Descriptor:
        after = self.reset_after
        return Descriptor(kind="gru" if after else "gru_before", gates=3, paired=False,
                          torch_op="gru" if after else None,
                          no_torch_op=None if after else
                          "GRUCell(reset_after=False) has no torch kernel",
                          fused=True, not_fused=None, layout="gru" if after else "gru_before")

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "reset_after": self.reset_after}

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, reset_after={self.reset_after}"
