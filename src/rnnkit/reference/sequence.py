r"""Sequences in NumPy: forward over time, hand-written BPTT (full or truncated), and a
model-level loss with a dense head, gradient clipping and a numeric gradient checker.

Truncated BPTT with ``truncate=k`` cuts the sequence into chunks of k steps from the start
and stops the gradient at every chunk edge: exactly what autograd computes when the state
is detached every k steps (and, when T is a multiple of k and only the last step is
scored, the "backpropagate k steps from the end" of the from-scratch tutorials).

Masks: a masked step keeps the previous state and outputs zeros, as rnnkit's layers do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .cells import (
    gru_step_backward,
    gru_step_forward,
    lstm_step_backward,
    lstm_step_forward,
    peephole_step_backward,
    peephole_step_forward,
    simple_step_backward,
    simple_step_forward,
)

__all__ = ["Cell", "forward", "backward", "loss_and_grads", "clip_grads", "gradcheck"]


KINDS = ("simple", "lstm", "peephole", "gru")
PAIRED = ("lstm", "peephole")       # state (h, c)


@dataclass(frozen=True)
class Cell:
    """Which cell: kind "simple" | "lstm" | "peephole" | "gru", plus its options."""

    kind: str
    activation: str = "tanh"        # simple only
    reset_after: bool = True        # gru only

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")

    def step_forward(self, x, state, params):
        if self.kind == "simple":
            return simple_step_forward(x, state, params, self.activation)
        if self.kind == "lstm":
            return lstm_step_forward(x, state, params)
        if self.kind == "peephole":
            return peephole_step_forward(x, state, params)
        return gru_step_forward(x, state, params, self.reset_after)

    def step_backward(self, d_out, d_state, cache):
        step = {"simple": simple_step_backward, "lstm": lstm_step_backward,
                "peephole": peephole_step_backward, "gru": gru_step_backward}[self.kind]
        return step(d_out, d_state, cache)

    def zero_state(self, B: int, H: int, dtype=np.float64):
        h = np.zeros((B, H), dtype)
        return (h, h.copy()) if self.kind in PAIRED else h


def _map(fn: Callable, state, *rest):
    if isinstance(state, tuple):
        return tuple(fn(*parts) for parts in zip(state, *rest))
    return fn(state, *rest)


def forward(cell: Cell, params: dict, x: np.ndarray, state=None, mask: np.ndarray | None = None):
    """Run the cell over x (B, T, D). Returns (outputs (B, T, H), final state, caches)."""
    B, T, _ = x.shape
    H = params["weight_hh"].shape[1]
    state = cell.zero_state(B, H, x.dtype) if state is None else state
    outputs, caches = np.zeros((B, T, H), x.dtype), []
    for t in range(T):
        y, new_state, cache = cell.step_forward(x[:, t], state, params)
        if mask is not None:
            m = mask[:, t, None].astype(x.dtype)                  # (B, 1): 1 = real step
            new_state = _map(lambda n, o: m * n + (1 - m) * o, new_state, state)
            y = m * y
        outputs[:, t] = y
        caches.append(cache)
        state = new_state
    return outputs, state, caches


def backward(cell: Cell, caches: list, d_outputs: np.ndarray, d_state_final=None,
             mask: np.ndarray | None = None, truncate: int | None = None):
    """BPTT: walk time backwards once.

    Returns (dx (B, T, D), d_state0, grads, dh_norms (T,)), where dh_norms[t] is the norm of
    dLoss/dh_t -- the gradient reaching step t's hidden state, to show it vanish or explode.
    """
    B, T, H = d_outputs.shape
    d_state = cell.zero_state(B, H) if d_state_final is None else d_state_final
    grads: dict[str, np.ndarray] = {}
    dx, dh_norms = [None] * T, np.zeros(T)
    for t in reversed(range(T)):
        if truncate and t + 1 < T and (t + 1) % truncate == 0:
            d_state = _map(np.zeros_like, d_state)   # chunk edge: state was detached here
        d_out = d_outputs[:, t]
        if mask is not None:
            m = mask[:, t, None].astype(d_out.dtype)
            keep = _map(lambda d: (1 - m) * d, d_state)  # masked: state passes through
            d_state, d_out = _map(lambda d: m * d, d_state), m * d_out
        dh = d_out + (d_state[0] if isinstance(d_state, tuple) else d_state)
        dh_norms[t] = np.sqrt((dh * dh).sum())
        dx[t], d_prev, step_grads = cell.step_backward(d_out, d_state, caches[t])
        d_state = _map(np.add, d_prev, keep) if mask is not None else d_prev
        for name, g in step_grads.items():
            grads[name] = grads.get(name, 0.0) + g
    return np.stack(dx, 1), d_state, grads, dh_norms


def clip_grads(grads: dict, clip_value: float | None = None,
               clip_norm: float | None = None) -> tuple[dict, float]:
    """Clamp every element to [-v, v], then rescale to a global L2 norm of at most n.
    Returns (clipped grads, the global norm before norm clipping)."""
    if clip_value is not None:
        grads = {k: np.clip(g, -clip_value, clip_value) for k, g in grads.items()}
    norm = float(np.sqrt(sum((g * g).sum() for g in grads.values())))
    if clip_norm is not None and norm > clip_norm:
        grads = {k: g * (clip_norm / norm) for k, g in grads.items()}
    return grads, norm


def loss_and_grads(cell: Cell, params: dict, x: np.ndarray, y: np.ndarray, *,
                   state=None, mask=None, truncate: int | None = None,
                   clip_value: float | None = None, clip_norm: float | None = None):
    """MSE of a dense head on the recurrent outputs, and its gradient for every parameter.

    ``params`` holds the cell's arrays plus ``head.weight`` (K, H) and ``head.bias`` (K,).
    y (B, K) scores the last real step (many-to-one); y (B, T, K) scores every step.
    Returns (loss, grads, info) with info = {"prediction", "dh_norms", "grad_norm"}.
    """
    outputs, final, caches = forward(cell, params, x, state, mask)
    W, b = params["head.weight"], params["head.bias"]
    per_step = y.ndim == 3
    h_last = final[0] if isinstance(final, tuple) else final     # = last real output
    feats = outputs if per_step else h_last
    pred = feats @ W.T + b                                        # (B, [T,] K)
    diff = pred - y
    loss = float((diff * diff).mean())
    d_pred = 2.0 * diff / diff.size                               # d mean(diff^2)
    flat_f, flat_d = feats.reshape(-1, feats.shape[-1]), d_pred.reshape(-1, d_pred.shape[-1])
    grads = {"head.weight": flat_d.T @ flat_f, "head.bias": flat_d.sum(0)}
    d_feats = d_pred @ W
    B, T, H = outputs.shape
    if per_step:
        d_outputs, d_final = d_feats, None
    else:   # the last real output is the final h: the gradient enters through the state
        d_outputs = np.zeros_like(outputs)
        zero = np.zeros_like(h_last)
        d_final = (d_feats, zero) if isinstance(final, tuple) else d_feats
    _, _, cell_grads, dh_norms = backward(cell, caches, d_outputs, d_final, mask, truncate)
    grads.update(cell_grads)
    grads, norm = clip_grads(grads, clip_value, clip_norm)
    return loss, grads, {"prediction": pred, "dh_norms": dh_norms, "grad_norm": norm}


def gradcheck(f: Callable[[dict], tuple], params: dict, eps: float = 1e-5) -> dict[str, float]:
    """Compare ``f(params) -> (loss, grads, ...)`` with centred finite differences.

    Returns the relative error per parameter, ||num - ana|| / (||num|| + ||ana||) over all of
    its elements (norm-wise: an element-wise ratio is dominated by round-off wherever a
    gradient element is near zero). Use float64 and small sizes: it costs two calls per
    element.  The step eps = 1e-5 balances the difference's truncation error (~eps^2)
    against float64 round-off (~1e-16 / eps).
    """
    _, analytic = f(params)[:2]
    errors = {}
    for name, value in params.items():
        num = np.zeros_like(value)
        it = np.nditer(value, flags=["multi_index"])
        for _ in it:
            idx = it.multi_index
            old = value[idx]
            value[idx] = old + eps
            plus = f(params)[0]
            value[idx] = old - eps
            minus = f(params)[0]
            value[idx] = old
            num[idx] = (plus - minus) / (2 * eps)
        ana = analytic.get(name, np.zeros_like(value))
        denom = max(np.linalg.norm(num) + np.linalg.norm(ana), 1e-300)
        errors[name] = float(np.linalg.norm(num - ana) / denom)
    return errors
