"""torch's fused recurrent kernels (``torch.lstm``, ``torch.gru``, ``torch.rnn_tanh/relu``).

The same parameters as the readable cells, passed in torch.nn's flat layout: one layer,
one direction, batch-first.  torch.nn keeps two biases where rnnkit's math has one; the
second is passed as zeros, so ``b = b_ih + b_hh`` holds exactly.  Variable lengths go
through a PackedSequence, which needs right padding (``select`` checks that).
"""

from __future__ import annotations

import torch
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from ..cells.base import describe
from ..types import LSTMState, tree_map

__all__ = ["run_native", "native_op", "native_step"]


def native_op(cell) -> str:
    """The torch function that runs this cell's whole layer (its descriptor says)."""
    op = describe(cell).torch_op
    assert op is not None, "select.native_blocker lets only cells with a torch op here"
    return op


def native_step(cell, x_t: torch.Tensor, state):
    """One step of a built-in cell on torch's single-step kernel (``torch.lstm_cell`` and
    friends, chosen by the descriptor's ``torch_op``): ``(y_t, state)``, or None when the
    cell has no torch op (then its ``forward`` runs)."""
    d = describe(cell)
    if d is None or d.torch_op is None:
        return None
    if d.torch_op == "lstm":
        b = cell.bias if cell.use_bias else None
        h, c = torch.lstm_cell(x_t, state, cell.weight_ih, cell.weight_hh, b, None)
        return h, LSTMState(h, c)
    if d.torch_op == "gru":                           # reset_after: two biases, as torch's
        b_ih, b_hh = (cell.bias_ih, cell.bias_hh) if cell.use_bias else (None, None)
        h = torch.gru_cell(x_t, state, cell.weight_ih, cell.weight_hh, b_ih, b_hh)
        return h, h
    op = {"rnn_tanh": torch.rnn_tanh_cell, "rnn_relu": torch.rnn_relu_cell}[d.torch_op]
    h = op(x_t, state, cell.weight_ih, cell.weight_hh, cell.bias if cell.use_bias else None,
           None)
    return h, h


def _flat_weights(cell) -> list[torch.Tensor]:
    if not cell.use_bias:
        return [cell.weight_ih, cell.weight_hh]
    if describe(cell).kind == "gru":                  # reset_after: two biases, as torch's
        return [cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh]
    return [cell.weight_ih, cell.weight_hh, cell.bias, torch.zeros_like(cell.bias)]


def run_native(cell, x: torch.Tensor, state, lengths: torch.Tensor | None = None):
    """Same contract as ``run_loop`` for a plain tensor input; ``lengths`` (B,) or None.

    Rows of length 0 (a finished stream in a stateful chunk) keep their state and output
    zeros, as in the loop engine; packed sequences cannot hold them, so they are set aside.
    """
    if lengths is not None and bool((lengths == 0).any()):
        return _run_rows_with_steps(cell, x, state, lengths)
    op = getattr(torch, native_op(cell))
    is_lstm = isinstance(state, LSTMState)
    hx = [s.unsqueeze(0) for s in state] if is_lstm else state.unsqueeze(0)  # (1, B, H)
    args = (_flat_weights(cell), cell.use_bias, 1, 0.0, False, False)
    if lengths is None:
        result = op(x, hx, *args, True)                           # batch_first=True
        out = result[0]
    else:
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        order, unorder = packed.sorted_indices, packed.unsorted_indices
        hx = [s.index_select(1, order) for s in hx] if is_lstm else hx.index_select(1, order)
        result = op(packed.data, packed.batch_sizes, hx, *args)
        out, _ = pad_packed_sequence(PackedSequence(result[0], packed.batch_sizes, order, unorder),
                                     batch_first=True, total_length=x.shape[1])
        result = (out, *(r.index_select(1, unorder) for r in result[1:]))
    if is_lstm:
        h, c = result[1][0], result[2][0]
        return out, h, LSTMState(h, c)
    h = result[1][0]
    return out, h, h


def _run_rows_with_steps(cell, x: torch.Tensor, state, lengths: torch.Tensor):
    rows = (lengths > 0).nonzero().squeeze(1)                        # rows with real steps
    B, T, H = x.shape[0], x.shape[1], cell.hidden_size
    out, last = x.new_zeros(B, T, H), x.new_zeros(B, H)
    if rows.numel() == 0:
        return out, last, state
    def pick(s: torch.Tensor) -> torch.Tensor:
        return s.index_select(0, rows)

    def put(full: torch.Tensor, part: torch.Tensor) -> torch.Tensor:
        return full.index_copy(0, rows, part)

    sub_out, sub_last, sub_state = run_native(cell, pick(x), tree_map(pick, state), lengths[rows])
    return put(out, sub_out), put(last, sub_last), tree_map(put, state, sub_state)
