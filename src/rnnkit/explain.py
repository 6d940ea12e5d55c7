"""Every hidden state, step by step: the reference arithmetic beside the rnnkit layer.

``explain(...)`` runs a cell over a short input with the NumPy reference, records each
gate and state, and then runs the same weights through the rnnkit layer on every eligible
engine, so the reader sees the layer is exactly this arithmetic.  The default is the
tutorial's example: SimpleRNN(2, linear) + Dense(1) with its printed weights on
x = [1, 2, 3], whose output is -3.8698.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import reference as ref
from .reference.cells import sigmoid

__all__ = ["Explanation", "explain", "TUTORIAL_WEIGHTS", "HEAD_ACTIVATIONS", "ENGINES",
           "GRADIENT_RULE", "gradient_trend"]

ENGINES = ("loop", "torch", "rnnkit")        # every engine the layer has, compared in turn
MATCH_TOL = 1e-10                            # float64: the engines agree to rounding

# The vanishing/exploding label: the per-step factor by which the gradient shrinks or grows
# on its way back.  0.9 per step loses half of it within 7 steps (0.9^7 = 0.48); 1.1 per
# step doubles it within 8 (1.1^8 = 2.14).
VANISHING, EXPLODING = 0.9, 1.1
GRADIENT_RULE = (f"per-step factor r = (||dL/dh_1|| / ||dL/dh_T||)^(1/(T-1)); vanishing if "
                 f"r < {VANISHING:g}, exploding if r > {EXPLODING:g}, else stable")


def gradient_trend(dh_norms) -> tuple[float, float, str]:
    """(||dL/dh_1|| / ||dL/dh_T||, the per-step factor r, its label) by ``GRADIENT_RULE``.

    Example:
        >>> gradient_trend([0.01, 0.1, 1.0])
        (0.01, 0.1, 'vanishing')
    """
    norms = np.asarray(dh_norms, dtype=np.float64)
    if len(norms) < 2:
        raise ValueError("a gradient trend needs at least 2 steps")
    last = norms[-1]
    ratio = float(norms[0] / last) if last > 0 else (np.inf if norms[0] > 0 else 1.0)
    factor = float(ratio ** (1.0 / (len(norms) - 1)))
    factor = float(np.round(factor, 12))           # 1 - 1e-16 is 1: no label from rounding
    label = ("vanishing" if factor < VANISHING else "exploding" if factor > EXPLODING
             else "stable")
    return ratio, factor, label

# Keras-layout weights printed by the tutorial, in torch layout (kernels transposed).
TUTORIAL_WEIGHTS = {
    "weight_ih": np.array([[0.18662322, -1.2369459]]).T,
    "weight_hh": np.array([[0.86981213, -0.49338293], [0.49338293, 0.8698122]]).T,
    "bias": np.zeros(2),
    "head.weight": np.array([[-0.4635998], [0.6538409]]).T,
    "head.bias": np.zeros(1),
}

HEAD_ACTIVATIONS = {  # f, f' in terms of the pre-activation
    "linear": (lambda a: a, lambda a: np.ones_like(a)),
    "tanh": (np.tanh, lambda a: 1 - np.tanh(a) ** 2),
    "sigmoid": (sigmoid, lambda a: sigmoid(a) * (1 - sigmoid(a))),
    "relu": (lambda a: np.maximum(a, 0), lambda a: (a > 0).astype(float)),
}

EQUATIONS = {
    "simple": ["a_t = W_ih x_t + W_hh h_(t-1) + b", "h_t = {act}(a_t)"],
    "lstm": ["i, f, g, o = sigmoid, sigmoid, tanh, sigmoid of (W_ih x_t + W_hh h_(t-1) + b)",
             "c_t = f * c_(t-1) + i * g", "h_t = o * tanh(c_t)"],
    "gru": ["r, z = sigmoid(W_i{{r,z}} x_t + b_i + W_h{{r,z}} h_(t-1) + b_h)",
            "n = tanh(W_in x_t + b_in + r * (W_hn h_(t-1) + b_hn))",
            "h_t = (1 - z) * n + z * h_(t-1)"],
    "gru-reset-before": ["r, z = sigmoid(W_i{{r,z}} x_t + W_h{{r,z}} h_(t-1) + b)",
                         "n = tanh(W_in x_t + b_n + W_hn (r * h_(t-1)))",
                         "h_t = (1 - z) * n + z * h_(t-1)"],
}


@dataclass
class Explanation:
    cell: ref.Cell
    params: dict[str, np.ndarray]
    x: np.ndarray                                   # (T, D)
    gates: dict[str, np.ndarray]                    # name -> (T, H), in step order
    hidden: np.ndarray                              # (T, H)
    head_activation: str | None
    output: float | None                            # the dense head on h_T (one output)
    engines: dict[str, dict[str, float]] = field(default_factory=dict)   # engine -> diffs
    not_eligible: dict[str, str] = field(default_factory=dict)          # engine -> why not
    dh_norms: np.ndarray | None = None              # ||dL/dh_t||, L = the output

    @property
    def equations(self) -> list[str]:
        key = "gru-reset-before" if self.cell.kind == "gru" and not self.cell.reset_after \
            else self.cell.kind
        return [e.format(act=self.cell.activation) for e in EQUATIONS[key]]

    def saturation(self, near: float = 0.05) -> dict[str, float]:
        """Fraction of gate values within ``near`` of their bounds (0/1, or ±1 for tanh)."""
        out = {}
        for name, g in self.gates.items():
            if name in ("i", "f", "o", "r", "z"):
                out[name] = float(np.mean((g < near) | (g > 1 - near)))
            elif name in ("g", "n"):
                out[name] = float(np.mean(np.abs(g) > 1 - near))
        return out


def _gates(cell: ref.Cell, caches: list) -> dict[str, np.ndarray]:
    if cell.kind == "simple":
        return {"a": np.stack([c[2][0] for c in caches])}
    if cell.kind == "lstm":     # cache = (x, h, c_prev, i, f, g, o, tanh c, params)
        names = {"i": 3, "f": 4, "g": 5, "o": 6}
        gates = {k: np.stack([c[i][0] for c in caches]) for k, i in names.items()}
        gates["c"] = np.stack([(c[4] * c[2] + c[3] * c[5])[0] for c in caches])
        return gates
    return {k: np.stack([c[i][0] for c in caches]) for k, i in {"r": 2, "z": 3, "n": 4}.items()}


def _layer(cell: ref.Cell, params: dict, engine: str):
    import torch

    import rnnkit as rk
    H, D = params["weight_hh"].shape[1], params["weight_ih"].shape[1]
    opts = {"activation": cell.activation} if cell.kind == "simple" else (
        {"reset_after": cell.reset_after} if cell.kind == "gru" else {})
    make = {"simple": rk.SimpleRNN, "lstm": rk.LSTM, "gru": rk.GRU}[cell.kind]
    layer = make(H, input_size=D, engine=engine, **opts).double()
    with torch.no_grad():
        for name, p in layer.cell.named_parameters():
            p.copy_(torch.from_numpy(np.asarray(params[name], dtype=np.float64)))
    return layer


def explain(x: np.ndarray, cell: ref.Cell | None = None, params: dict | None = None,
            head_activation: str | None = "linear", grad: bool = False) -> Explanation:
    """Explain one sequence x (T, D). Defaults: the tutorial's SimpleRNN(2, linear) example."""
    import torch

    from .engines.select import cell_blocker, fused_blocker
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"input must be (T,) or (T, D) with T >= 1, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("input contains NaN or inf")
    if params is None:
        cell, params = ref.Cell("simple", activation="linear"), TUTORIAL_WEIGHTS
    D = params["weight_ih"].shape[1]
    if x.shape[1] != D:
        raise ValueError(f"the weights expect {D} features per step, got input of shape "
                         f"{x.shape}")
    outputs, final, caches = ref.forward(cell, params, x[None])
    if head_activation not in HEAD_ACTIVATIONS:
        raise ValueError(f"head_activation must be one of {sorted(HEAD_ACTIVATIONS)}, "
                         f"got {head_activation!r}")
    has_head = "head.weight" in params and params["head.weight"].shape[0] == 1
    h_T = final[0] if isinstance(final, tuple) else final
    output = None
    if has_head:
        f = HEAD_ACTIVATIONS[head_activation][0]
        output = float(f(h_T @ params["head.weight"].T + params["head.bias"])[0, 0])
    result = Explanation(cell, params, x, _gates(cell, caches), outputs[0],
                         head_activation if has_head else None, output)
    probe = _layer(cell, params, "loop").cell
    blockers = {"loop": None, "torch": cell_blocker(probe), "rnnkit": fused_blocker(probe)}
    for engine in ENGINES:
        if blockers[engine]:
            result.not_eligible[engine] = blockers[engine]
            continue
        layer = _layer(cell, params, engine)
        with torch.no_grad():
            h = layer(torch.from_numpy(x[None])).numpy()
        diff = float(np.abs(h - h_T).max())
        result.engines[engine] = {"max_abs_diff_h": diff, "matches": diff <= MATCH_TOL}
    if grad:
        result.dh_norms = _grad_norms(cell, params, x, caches, final, head_activation)
    return result


def _grad_norms(cell, params, x, caches, final, head_activation) -> np.ndarray:
    """||dL/dh_t|| for L = the model's output (the head's, or the sum of h_T)."""
    h_T = final[0] if isinstance(final, tuple) else final
    if "head.weight" in params:
        a = h_T @ params["head.weight"].T + params["head.bias"]
        d_h = HEAD_ACTIVATIONS[head_activation or "linear"][1](a) @ params["head.weight"][:1]
    else:
        d_h = np.ones_like(h_T)
    d_final = (d_h, np.zeros_like(d_h)) if isinstance(final, tuple) else d_h
    d_outputs = np.zeros((1, x.shape[0], h_T.shape[1]))
    return ref.backward(cell, caches, d_outputs, d_final)[3]


def load_weights(path: Path, cell: ref.Cell) -> dict[str, np.ndarray]:
    """A JSON file of torch-layout arrays: weight_ih, weight_hh, bias (or bias_ih, bias_hh),
    and optionally head.weight (1, H), head.bias (1,)."""
    from .io import read_json
    raw: Any = read_json(path, "explain weights: a JSON object of arrays")
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a JSON object of arrays (weight_ih, weight_hh, "
                         f"...), found {type(raw).__name__}")
    params = {}
    for k, v in raw.items():
        try:
            params[k] = np.asarray(v, dtype=np.float64)
        except (ValueError, TypeError):
            raise ValueError(f"{path}: {k} must be a numeric array (nested lists of "
                             f"numbers), got {v!r:.60}") from None
        if not np.isfinite(params[k]).all():
            raise ValueError(f"{path}: {k} holds NaN or infinite values")
    G = {"simple": 1, "lstm": 4, "gru": 3}[cell.kind]
    for name in ("weight_ih", "weight_hh"):
        if name not in params or params[name].ndim != 2:
            raise ValueError(f"{path}: {name} must be a 2-D array")
    H = params["weight_hh"].shape[1]
    if params["weight_hh"].shape != (G * H, H) or params["weight_ih"].shape[0] != G * H:
        raise ValueError(f"{path}: for a {cell.kind} cell with H={H}, weight_hh must be "
                         f"({G * H}, {H}) and weight_ih ({G * H}, D); got "
                         f"{params['weight_hh'].shape} and {params['weight_ih'].shape}")
    return params


def from_model(model: Any) -> tuple[ref.Cell, dict[str, np.ndarray], str | None]:
    """The first recurrent layer of an rnnkit model, and the Dense after it if it has 1 unit."""
    import rnnkit as rk
    layers = list(getattr(model, "layers", [model]))
    for k, layer in enumerate(layers):
        if isinstance(layer, (rk.SimpleRNN, rk.LSTM, rk.GRU)):
            cell, params = ref.from_layer(layer)
            nxt = layers[k + 1] if k + 1 < len(layers) else None
            head_act = None
            if isinstance(nxt, rk.Dense) and nxt.units == 1 and k + 2 == len(layers) \
                    and nxt.activation in HEAD_ACTIVATIONS:
                params["head.weight"] = nxt.weight.detach().double().numpy().copy()
                params["head.bias"] = (nxt.bias.detach().double().numpy().copy()
                                       if nxt.bias is not None else np.zeros(1))
                head_act = nxt.activation
            return cell, params, head_act
    raise ValueError("the model has no SimpleRNN, LSTM or GRU layer to explain")
