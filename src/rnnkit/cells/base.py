"""The cell contract, shared initialisers and activations.

A cell is one time step.  Every cell, built-in or custom, follows this contract:

    forward(x_t, state=None) -> (y_t, new_state)
        x_t    one step of input: a tensor (B, D) or any nesting of tensors with batch first
        state  the previous state, nested like ``state_size``; ``None`` means zeros
        y_t    the step's output (B, output_size), or a nesting of tensors
    initial_state(x_t) -> state     zeros of ``state_size`` for the batch of ``x_t``
    state_size                      int (B, n), torch.Size (B, *shape), or a nesting of those
    output_size                     the same, for y_t

Cells know nothing of time, masks, direction or batch_first: ``layers.recurrent.RNN``
owns the time loop.  Built-in cells also take ``recurrent_mask=`` (B, H), the
per-sequence dropout mask applied to h before the recurrent product; the layer
draws it once per sequence (variational dropout, Gal & Ghahramani 2016).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..types import tree_first, tree_map

__all__ = ["RecurrentCell", "ACTIVATIONS", "resolve_activation", "GatedCell", "Descriptor",
           "describe"]

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "tanh": torch.tanh,
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "linear": lambda x: x,
}


def resolve_activation(activation: str | Callable | None) -> tuple[str, Callable]:
    """Return ``(name, fn)`` for an activation given by name or as a callable."""
    if activation is None:
        activation = "linear"
    if callable(activation):
        return getattr(activation, "__name__", "custom"), activation
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"activation must be one of {sorted(ACTIVATIONS)} or a callable, got {activation!r}"
        )
    return activation, ACTIVATIONS[activation]


def _zeros_like_spec(size: Any, ref: torch.Tensor) -> torch.Tensor:
    shape = tuple(size) if isinstance(size, torch.Size) else (int(size),)
    return ref.new_zeros((ref.shape[0], *shape))



QR_THREADS = 2   # see orthogonal_


def orthogonal_(w: torch.Tensor) -> torch.Tensor:
    """``nn.init.orthogonal_`` whose result does not depend on the caller's thread count.

    The normal draw is the same at any thread count, but LAPACK's blocked QR is not: the
    same seed gave recurrent weights differing by 1e-7 under 1 and 2 threads, and so
    different trained models.  The QR runs at a fixed ``QR_THREADS``; any fixed count would
    do, and 2 is the one every figure in the README was measured with, so they still repeat.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(QR_THREADS)
    try:
        return nn.init.orthogonal_(w)
    finally:
        torch.set_num_threads(threads)

@dataclass(frozen=True)
class Descriptor:
    """What every fast path needs to know of a built-in cell, said once, by the cell.

    The engine choice (``engines/select.py``), torch's kernels (``engines/native.py``), the
    whole-sequence engine (``engines/fused.py``), the C++ training step
    (``training/cpp_step.py``) and the foreign weight layouts (``interop/layouts.py``) read
    this instead of switching on the cell's type.

    kind        "simple", "lstm", "peephole", "gru" (reset_after=True), "gru_before" or
                "lnlstm": the key of the rnnkit engine's kernel objects (engines/fused.py
                KERNELS, math in csrc/gates.h), of the C++ step's layer codes
                (engines/codes.py) and of the interop layouts
    gates       gate blocks stacked in weight_ih / weight_hh (rows = gates x H)
    paired      the state is LSTMState(h, c); else one tensor h
    torch_op    the torch function that runs the whole layer ("lstm", "gru", "rnn_tanh",
                "rnn_relu"), or None, and then ``no_torch_op`` says why
    fused       rnnkit's whole-sequence engine runs it; else ``not_fused`` says why
    layout      its kind in interop/layouts.py, or None when it has no foreign twin
    """

    kind: str
    gates: int
    paired: bool
    torch_op: str | None
    no_torch_op: str | None
    fused: bool
    not_fused: str | None
    layout: str | None


def describe(cell: Any) -> Descriptor | None:
    """The cell's descriptor when it is exactly a built-in cell; None for any other cell.

    A subclass may change the math, so only a class that defines ``descriptor`` itself
    counts: a user's ``class MyLSTM(LSTMCell)`` overriding ``forward`` runs on the readable
    loop, where its ``forward`` is called."""
    if "descriptor" not in type(cell).__dict__:
        return None
    d = cell.__dict__.get("_descriptor")        # said once per cell: its options are fixed
    if d is None:                               # at construction, and a call asks 4-5 times
        d = cell.__dict__["_descriptor"] = cell.descriptor()
    return d


class RecurrentCell(nn.Module):
    """Base class of every cell: see the module docstring for the contract."""

    state_size: Any
    output_size: Any
    supports_recurrent_dropout = False

    def initial_state(self, x: Any) -> Any:
        """Zeros shaped like ``state_size`` with the batch, dtype and device of ``x``."""
        ref = tree_first(x)
        return tree_map(lambda size: _zeros_like_spec(size, ref), self.state_size)

    def get_config(self) -> dict[str, Any]:
        raise NotImplementedError(
            f"{type(self).__name__} has no get_config(); implement it (and register the class "
            "with rnnkit.register_serializable) to save models that use it"
        )


class GatedCell(RecurrentCell):
    """Shared parameters of SimpleRNN, LSTM and GRU: G stacked gate blocks.

    Attributes (PyTorch names and gate packing):
        weight_ih  (G·H, D)   glorot-uniform, as Keras' ``kernel`` transposed
        weight_hh  (G·H, H)   orthogonal, as Keras' ``recurrent_kernel`` transposed
        bias       (G·H,)     zeros (only when the math has one bias)
    """

    gates = 1
    supports_recurrent_dropout = True

    def __init__(self, input_size: int, hidden_size: int, use_bias: bool = True,
                 split_bias: bool = False):
        super().__init__()
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        self.input_size, self.hidden_size, self.use_bias = input_size, hidden_size, use_bias
        gh = self.gates * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(gh, input_size))
        self.weight_hh = nn.Parameter(torch.empty(gh, hidden_size))
        if use_bias and split_bias:  # GRU(reset_after=True): b_hn must stay inside r * (...)
            self.bias_ih = nn.Parameter(torch.empty(gh))
            self.bias_hh = nn.Parameter(torch.empty(gh))
        elif use_bias:
            self.bias = nn.Parameter(torch.empty(gh))
        self.reset_parameters()

    @property
    def state_size(self) -> Any:
        return self.hidden_size

    @property
    def output_size(self) -> int:
        return self.hidden_size

    def reset_parameters(self) -> None:
        """Keras defaults: glorot-uniform kernel, orthogonal recurrent kernel, zero biases."""
        nn.init.xavier_uniform_(self.weight_ih)
        orthogonal_(self.weight_hh)
        for name in ("bias", "bias_ih", "bias_hh"):
            if hasattr(self, name):
                nn.init.zeros_(getattr(self, name))

    def check_input(self, x: torch.Tensor) -> None:
        """Cheap per-step check so a wrong size fails here, not inside a matmul."""
        if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[1] != self.input_size:
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(
                f"{type(self).__name__} expects one step of shape (B, {self.input_size}), got {got}"
            )

    def get_config(self) -> dict[str, Any]:
        return {"input_size": self.input_size, "hidden_size": self.hidden_size,
                "use_bias": self.use_bias}

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}"

