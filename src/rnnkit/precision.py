r"""Mixed precision: which products run in bfloat16, and why.

``fit(precision=...)`` takes one of ``PRECISIONS``:
    ``fp32``  everything in the parameters' dtype (the default)
    ``bf16``  the GEMMs (input projection, recurrent product, weight gradients, Dense) take
              bfloat16 operands; oneDNN accumulates them in fp32.  Gate math, the cell
              state, losses, optimizer state and master weights stay fp32: weights are cast
              once per call (a whole sequence), never per step
    ``auto``  bf16 for recurrent layers with H >= ``BF16_MIN_H`` (where it was measured to
              pay), fp32 below, and fp32 where bf16 cannot run

A recurrent layer called under ``torch.autocast(device, dtype=torch.bfloat16)`` behaves as
under ``precision="bf16"``; ``fit`` itself runs its forward under that autocast (so Dense
and everything else in the model takes bf16 GEMMs too) and computes the loss in fp32.

Inference takes the same three values: ``with inference(model, precision) as choice:``
checks the value, chooses as ``fit`` does and runs the block under that choice without
gradients; every predict, generate, translate and ``rnnkit serve`` goes through it, and
``RNN.step(x_t, state, precision=...)`` chooses for its one layer.  Outputs leave the
library in fp32 (``to_fp32``) or as NumPy.

Every choice is a ``Choice(kind, reason)``: ``trainer.precision_choice`` for a fit,
``layer.precision_choice`` for each recurrent call or step, and what ``inference`` yields.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import torch

from .types import Choice, tree_map

__all__ = ["PRECISIONS", "BF16_MIN_H", "BF16_STEP_MIN_H", "check_precision", "bf16_blocker",
           "using_precision", "requested_precision", "block_open", "autocast_dtype",
           "choose_precision", "fit_precision", "to_fp32", "fit_scope", "inference"]

PRECISIONS = ("fp32", "bf16", "auto")

# The crossover of precision="auto": H from which bf16 products beat fp32 in a recurrent
# layer's forward + backward.  Measured on the 2-core AVX512-BF16 CPU (no AMX), rnnkit's
# engine, T=100, one thread (the machine was shared; best of 2), fp32 ms / bf16 ms:
#   H=128 (B=32, D=32):   LSTM 1.18x, GRU 0.96x   (bf16 matmul only 1.3x at 32x128 @ 128x512;
#                                                 the per-step casts eat it)
#   H=256 (B=32, D=64):   LSTM 1.74x, GRU 1.11x
#   H=512 (B=64, D=256):  LSTM 1.70x, GRU 1.87x   (bf16 matmul 2.2x at 64x512 @ 512x2048)
# `rnnkit bench --configs small,medium --precision fp32,bf16` puts the "rnnkit engine=auto"
# and "... bf16" rows side by side on a quiet machine; re-measure there, and on AMX.
BF16_MIN_H = 256

# The crossover of "auto" for streaming steps (a few rows a step: matrix-vector products,
# bound by reading the weights).  `rnnkit bench --inference --precision fp32,bf16,auto
# --reps 5` (2 threads, quiet machine, benchmarks/bench-inference.json), fp32 ms / bf16 ms
# of a batch-1 step: inside one inference() block, where the weights are cast to bf16 once
# for all its steps, GRU(1024) on 256 features 1.72x, LSTM(512) on 256 0.81x; a lone
# step() call, which casts them every call, 0.74x and 0.55x (so "auto" keeps a lone step
# in fp32 whatever H).
BF16_STEP_MIN_H = 1024


def check_precision(value: Any, name: str = "precision") -> str:
    """``value`` if it is one of ``PRECISIONS``, else a ValueError naming ``name``."""
    if not isinstance(value, str) or value not in PRECISIONS:
        hint = " (float16 is not supported: its range needs loss scaling)" \
            if value in ("fp16", "float16", "half") else ""
        raise ValueError(f"{name} must be one of {PRECISIONS}, got {value!r}{hint}")
    return value


def bf16_blocker(device: torch.device, dtype: torch.dtype) -> str | None:
    """Why bfloat16 GEMMs cannot run for parameters of this device and dtype, or None."""
    if dtype != torch.float32:
        return f"bf16 mixed precision needs float32 parameters, these are {dtype}"
    if device.type == "cpu":
        if not torch.ops.mkldnn._is_mkldnn_bf16_supported():
            return "this CPU has no bfloat16 instructions (AVX512-BF16 or AMX) for oneDNN"
        return None
    if device.type == "cuda":
        return None if torch.cuda.is_bf16_supported() else "this GPU has no bfloat16"
    return f"bf16 mixed precision is not supported on {device.type}"


# using_precision() blocks entered and not yet left, per thread as torch.autocast is: a
# server answers requests on a pool of threads, and one request's block is not another's
_LOCAL = threading.local()


def _active() -> list[str]:
    stack = getattr(_LOCAL, "stack", None)
    if stack is None:
        stack = _LOCAL.stack = []
    return stack


@contextlib.contextmanager
def using_precision(precision: str) -> Iterator[None]:
    """Inside the block (on this thread), recurrent layers run at ``precision`` (``fit``
    enters it)."""
    stack = _active()
    stack.append(check_precision(precision))
    try:
        yield
    finally:
        stack.pop()


def autocast_dtype(device_type: str) -> torch.dtype | None:
    """The dtype of an enabled ``torch.autocast`` on this device type, or None."""
    if not torch.is_autocast_enabled(device_type):
        return None
    return torch.get_autocast_dtype(device_type)


def requested_precision(device_type: str) -> str:
    """What the caller asked for: ``using_precision``'s, else "bf16" under a bfloat16
    autocast, else "fp32"."""
    stack = _active()
    if stack:
        return stack[-1]
    return "bf16" if autocast_dtype(device_type) == torch.bfloat16 else "fp32"


def block_open(device_type: str) -> bool:
    """Whether a bfloat16 autocast is open on this thread (``inference`` at bf16 opens one):
    then the steps run inside it share one cast of each weight (autocast's cache)."""
    return autocast_dtype(device_type) == torch.bfloat16


FP32_CHOICE = Choice("fp32", "precision='fp32'")     # the default, as choose_precision says it


def choose_precision(requested: str, hidden_size: int, p: torch.Tensor | None, *,
                     step: str | None = None) -> Choice:
    """One recurrent layer's precision as ``Choice(kind, reason)``, kind "fp32" or "bf16".

    ``p``: a parameter of the layer (its device and dtype).  A forced "bf16" that cannot
    run raises ValueError; "auto" falls back to fp32 and says why.  ``step``: None for a
    sequence (the crossover ``BF16_MIN_H``), "stream" for a streaming step inside a block
    that casts the weights once (``BF16_STEP_MIN_H``), "lone" for a step on its own
    (auto keeps it in fp32)."""
    device_type = p.device.type if p is not None else "cpu"
    cast = autocast_dtype(device_type)
    if requested == "fp32":
        if cast is not None and cast != torch.bfloat16:
            return Choice("fp32", f"autocast {cast} is not supported by rnnkit's recurrent "
                                  "layers (bf16 only): they run in fp32")
        return FP32_CHOICE
    if p is None:
        return Choice("fp32", "no parameters: no weight product to run in bf16")
    blocker = bf16_blocker(p.device, p.dtype)
    if requested == "bf16":
        if blocker:
            raise ValueError(f"precision='bf16' cannot run: {blocker}. Use precision='fp32' "
                             "or 'auto', or leave torch.autocast")
        return Choice("bf16", "precision='bf16'" if _active() else "under torch.autocast(bf16)")
    if blocker:
        return Choice("fp32", f"auto: {blocker}")
    if step == "lone":
        return Choice("fp32", "auto: a lone step() casts its weights to bf16 on every call, "
                              "slower than fp32 (measured by rnnkit bench --inference); "
                              "steps inside rnnkit.precision.inference() share one cast")
    if step == "stream":
        if hidden_size < BF16_STEP_MIN_H:
            return Choice("fp32", f"auto: a streaming step at H={hidden_size} < "
                                  f"{BF16_STEP_MIN_H}, where bf16 does not pay here "
                                  "(measured by rnnkit bench --inference)")
        return Choice("bf16", f"auto: a streaming step at H={hidden_size} >= "
                              f"{BF16_STEP_MIN_H}, where bf16 pays (measured by rnnkit bench "
                              "--inference)")
    if hidden_size < BF16_MIN_H:
        return Choice("fp32", f"auto: H={hidden_size} < {BF16_MIN_H}, where bf16 GEMMs do "
                              "not pay here (measured by rnnkit bench)")
    return Choice("bf16", f"auto: H={hidden_size} >= {BF16_MIN_H}, where bf16 GEMMs pay "
                          "(measured by rnnkit bench)")


def fit_precision(model: torch.nn.Module, precision: str) -> Choice:
    """The precision of a whole fit, as ``Choice``: bf16 when any recurrent layer takes it."""
    check_precision(precision)
    p = next(model.parameters(), None)
    if precision == "fp32":
        return Choice("fp32", "precision='fp32' (the default)")
    blocker = "no parameters" if p is None else bf16_blocker(p.device, p.dtype)
    if precision == "bf16":
        if blocker:
            raise ValueError(f"precision='bf16' cannot run: {blocker}. Use precision='fp32' "
                             "or 'auto'")
        return Choice("bf16", "precision='bf16': GEMMs in bfloat16 with fp32 accumulation; "
                              "gate math, states, loss, optimizer and weights in fp32")
    if blocker:
        return Choice("fp32", f"auto: {blocker}")
    sizes = sorted({m.hidden_size for m in model.modules()
                    if isinstance(getattr(m, "hidden_size", None), int)})
    big = [h for h in sizes if h >= BF16_MIN_H]
    if not big:
        return Choice("fp32", f"auto: every recurrent layer has H < {BF16_MIN_H} (H = "
                              f"{', '.join(map(str, sizes)) or 'none'}), where bf16 does not "
                              "pay (measured by rnnkit bench)")
    return Choice("bf16", f"auto: H={', '.join(map(str, big))} >= {BF16_MIN_H}, where bf16 "
                          "GEMMs pay (measured by rnnkit bench); layers below stay fp32")


def to_fp32(tree: Any) -> Any:
    """Every half-precision floating tensor of ``tree`` as float32 (model outputs under
    autocast, before a loss); anything else unchanged."""
    def up(a: Any) -> Any:
        if isinstance(a, torch.Tensor) and a.dtype in (torch.bfloat16, torch.float16):
            return a.float()
        return a
    return tree_map(up, tree)


@contextlib.contextmanager
def fit_scope(choice: Choice | None, precision: str, device_type: str) -> Iterator[None]:
    """A training forward at ``choice``: for bf16, ``using_precision(precision)`` (so "auto"
    still chooses per layer) inside a bfloat16 ``torch.autocast`` (Dense and the rest)."""
    if choice is None or choice.kind != "bf16":
        yield
        return
    with using_precision(precision), torch.autocast(device_type, dtype=torch.bfloat16):
        yield


@contextlib.contextmanager
def inference(model: torch.nn.Module, precision: str, name: str = "precision"
              ) -> Iterator[Choice]:
    """Inference at ``precision`` ("fp32", "bf16" or "auto"): a bad value is refused by
    ``name`` here, before any work; then ``fit_precision`` chooses (a "bf16" that cannot
    run raises ValueError) and the block runs in ``fit_scope`` of that choice, without
    gradients.  Yields the ``Choice``.  Outputs made inside may be bfloat16: pass them
    through ``to_fp32`` (or to NumPy via ``.float()``) before they leave the library.

    Example:
        >>> import rnnkit as rk
        >>> model = rk.Sequential([rk.GRU(4, input_size=2), rk.Dense(1, input_size=4)])
        >>> with inference(model, "fp32") as choice:
        ...     y = to_fp32(model(torch.zeros(3, 5, 2)))
        >>> choice.kind, tuple(y.shape), y.dtype
        ('fp32', (3, 1), torch.float32)
    """
    check_precision(precision, name)
    choice = fit_precision(model, precision)
    p = next(model.parameters(), None)
    with torch.no_grad(), fit_scope(choice, precision, p.device.type if p is not None
                                    else "cpu"):
        yield choice
