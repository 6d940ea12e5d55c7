"""Parameter dicts for the reference: random ones, or read off an rnnkit layer or cell."""

from __future__ import annotations

from typing import Any

import numpy as np

from .sequence import Cell

__all__ = ["init_params", "from_layer"]

GATES = {"simple": 1, "lstm": 4, "peephole": 4, "gru": 3}


def init_params(cell: Cell, D: int, H: int, K: int | None = None, seed: int = 0,
                scale: float = 0.5, dtype=np.float64) -> dict[str, np.ndarray]:
    """Uniform(-scale, scale) weights with PyTorch names; a dense head of K outputs if K."""
    rng = np.random.default_rng(seed)
    G = GATES[cell.kind]
    u = lambda *shape: rng.uniform(-scale, scale, size=shape).astype(dtype)  # noqa: E731
    params = {"weight_ih": u(G * H, D), "weight_hh": u(G * H, H)}
    if cell.kind == "gru" and cell.reset_after:
        params.update(bias_ih=u(G * H), bias_hh=u(G * H))
    else:
        params["bias"] = u(G * H)
    if cell.kind == "peephole":
        params.update(weight_ci=u(H), weight_cf=u(H), weight_co=u(H))
    if K:
        params.update({"head.weight": u(K, H), "head.bias": u(K)})
    return params


def from_layer(layer: Any) -> tuple[Cell, dict[str, np.ndarray]]:
    """(Cell spec, float64 params) of an rnnkit SimpleRNN/LSTM/GRU layer or built-in cell.

    The cell's descriptor (``cells/base.py``) says which kind it is; only a class that
    declares one itself counts, as in ``describe`` (a subclass may change the math)."""
    cell = getattr(layer, "cell", layer)
    name = type(cell).__name__
    kind = cell.descriptor().kind if "descriptor" in type(cell).__dict__ else None
    kinds = {"simple": ("simple", True), "lstm": ("lstm", True), "gru": ("gru", True),
             "gru_before": ("gru", False), "peephole": ("peephole", True)}
    if kind not in kinds:
        raise ValueError("the reference covers SimpleRNNCell, LSTMCell, PeepholeLSTMCell and "
                         f"GRUCell, got {name}")
    spec = Cell(kinds[kind][0], activation=getattr(cell, "activation_name", "tanh"),
                reset_after=kinds[kind][1])
    if spec.kind == "simple" and spec.activation not in ("tanh", "relu", "sigmoid", "linear"):
        raise ValueError(f"the reference has no activation {spec.activation!r}")
    params = {k: v.detach().cpu().double().numpy().copy() for k, v in cell.named_parameters()}
    return spec, params
