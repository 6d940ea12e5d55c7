"""Which engine runs a layer, and why a faster one was not chosen.

Engines, named for whose code runs:
    ``loop``    the readable time loop (``layers/recurrent.py`` calls ``cell.forward`` per step);
                any cell
    ``torch``   torch's own recurrent kernels (torch.lstm/gru/rnn_tanh/rnn_relu: oneDNN on
                the CPU, cuDNN on CUDA)
    ``rnnkit``  rnnkit's whole-sequence Function: hand-derived backward and C++ step kernels
                built on ``csrc/gates.h`` (``engines/fused.py``)
The names before 0.2, ``native`` (now ``torch``) and ``fused`` (now ``rnnkit``), still work
for this release and warn.

``torch`` needs: exactly ``LSTMCell``, ``GRUCell(reset_after=True)`` or ``SimpleRNNCell``
with tanh or relu; one tensor input; no recurrent dropout while training; right padding.
``rnnkit`` needs: a built-in cell (any activation, both GRU forms, LayerNorm-LSTM), one
tensor input; any mask and recurrent dropout are fine.

``engine="auto"`` picks by what was measured on a 2-core CPU (``rnnkit bench``, results in
``benchmarks/``):
    LSTM           torch (oneDNN) when eligible, else rnnkit
    GRU            rnnkit on CPU (torch's GRU has no oneDNN path: 1.5x at the small size,
                   even at the medium one); torch on CUDA; rnnkit when torch is not eligible
    SimpleRNN      rnnkit on CPU: up to 32 units its whole time loop is one C++ call each
                   way (per-step overhead is everything at the sunspots tutorial's size),
                   above that 1.2-1.3x torch's kernel at the small and medium sizes;
                   torch when the C++ kernels cannot be built (small H) and on CUDA
    LayerNorm-LSTM rnnkit (torch has no kernel for it)
    other cells    loop
Under bf16 mixed precision (``rnnkit.precision``) auto prefers rnnkit wherever it can run:
its products take bf16 while states and gate math stay fp32 (torch's LSTM under autocast is
oneDNN's bf16 kernel, whose h and c come out in bf16).
On CUDA, torch's kernel (cuDNN) is taken whenever eligible.  Under ``torch.compile`` auto
skips rnnkit's kernels (opaque C++ kernels in a Python loop give the compiler nothing to fuse).
``RNNKIT_ENGINE=loop`` makes every ``auto`` choose the loop (and ``fit`` choose autograd):
the one switch to the readable path, for a debugger or a doubt.

Every choice is a ``Choice(kind, reason)`` record (``rnnkit.types``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from .._checks import renamed
from ..cells.base import describe
from ..types import Choice
from ._ext import kernels
from .fused import SEQ_MAX_H, fused_blocker

__all__ = ["ENGINES", "engine_name", "native_blocker", "fused_blocker", "choose_engine",
           "forced_engine", "readable"]

ENGINES = ("auto", "loop", "torch", "rnnkit")
RENAMED = {"native": "torch", "fused": "rnnkit"}     # the names before 0.2: one more release


def engine_name(value: object) -> object:
    """``value`` with a deprecated engine name mapped to today's, with a warning."""
    return renamed("engine", value, RENAMED, stacklevel=4)


_READABLE: list[bool] = []     # readable() blocks entered and not yet left


@contextmanager
def readable() -> Iterator[None]:
    """Inside ``with rnnkit.readable():`` every ``engine="auto"`` layer runs the readable
    loop and every ``fit(step="auto")`` takes autograd: ``RNNKIT_ENGINE=loop`` for a block."""
    _READABLE.append(True)
    try:
        yield
    finally:
        _READABLE.pop()


def forced_engine() -> str | None:
    """``RNNKIT_ENGINE``: ``loop`` runs every ``engine="auto"`` layer on the readable time
    loop and every ``fit(step="auto")`` on autograd, so that a breakpoint in a cell's
    ``forward`` fires during ``fit``; unset (or empty) lets ``auto`` choose.  ``readable()``
    does the same for a block of code."""
    import os
    if _READABLE:
        return "loop"
    value = os.environ.get("RNNKIT_ENGINE", "")
    if value not in ("", "loop"):
        raise ValueError(f"RNNKIT_ENGINE must be 'loop' or unset, got {value!r}")
    return value or None


def cell_blocker(cell) -> str | None:
    """Why torch has no kernel for this cell, or None."""
    d = describe(cell)
    if d is None:
        return f"{type(cell).__name__} is not a built-in cell"
    return None if d.torch_op is not None else d.no_torch_op


def native_blocker(cell, x, mask_is_right_padded: bool,
                   recurrent_dropout_active: bool) -> str | None:
    """Why the ``torch`` engine cannot run this call, or None when it can."""
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


def _prefers_fused(cell, x: torch.Tensor) -> bool:
    if x.device.type != "cpu":
        return False
    kind = describe(cell).kind
    if kind == "simple":                # small H: the whole-sequence C++ kernel, if built
        return cell.hidden_size > SEQ_MAX_H or kernels() is not None
    return kind == "gru"


def choose_engine(requested: str, cell, x, native_reason: str | None,
                  precision: str = "fp32") -> Choice:
    """The engine for this call, as ``Choice(kind, reason)``; raise if a forced engine cannot
    run it.  ``native_reason`` is why torch's kernel cannot (``native_blocker``), or None;
    ``precision`` the layer's ("fp32" or "bf16", ``rnnkit.precision.choose_precision``)."""
    fused_reason = fused_blocker(cell) or (None if isinstance(x, torch.Tensor)
                                           else "nested inputs")
    if torch.onnx.is_in_onnx_export():   # only torch's kernels export with a dynamic T
        if native_reason is None:
            return Choice("torch", "ONNX export: torch's kernel becomes an ONNX recurrent op")
        raise ValueError(f"torch.onnx.export needs torch's own kernel for every recurrent "
                         f"layer (anything else is unrolled for one sequence length): "
                         f"{native_reason}. rnnkit.interop.onnx.export (rnnkit convert --to "
                         "FILE.onnx) writes every cell with a dynamic time axis")
    if requested == "auto" and forced_engine() == "loop":
        return Choice("loop", "RNNKIT_ENGINE=loop (every layer on the readable loop)")
    if requested == "loop":
        return Choice("loop", "engine='loop' requested")
    for name, reason in (("torch", native_reason), ("rnnkit", fused_reason)):
        if requested == name and reason:
            raise ValueError(f"engine={name!r} cannot run this layer: {reason}. "
                             "Use engine='auto' or engine='loop', or change that setting.")
    if requested in ("torch", "rnnkit"):
        return Choice(requested, f"engine={requested!r} requested")
    if fused_reason is None and torch.compiler.is_compiling():
        fused_reason = "skipped under torch.compile"
    if precision == "bf16" and fused_reason is None and x.device.type == "cpu":
        return Choice("rnnkit", "bf16: bf16 products, fp32 states and gate math")
    if native_reason is None and (fused_reason is not None or not _prefers_fused(cell, x)):
        return Choice("torch", "eligible, and the fastest here")
    if fused_reason is None:
        if native_reason is not None:
            why = f"torch's kernel not eligible: {native_reason}"
        elif describe(cell).kind == "simple" and cell.hidden_size <= SEQ_MAX_H:
            why = "whole-sequence kernel, faster than torch's at this size"
        else:
            why = "faster than torch's kernel here"
        return Choice("rnnkit", why)
    return Choice("loop", f"no fast path: {fused_reason}")
