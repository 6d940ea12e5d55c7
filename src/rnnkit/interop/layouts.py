"""The one table of weight layouts rnnkit converts between, and the helpers every converter
uses.  Nothing else in ``rnnkit.interop`` knows a gate order or a bias convention.

W = input weights, U = recurrent weights, G = number of gates, H = units.

| framework | cell | gates | W, U stored as | bias |
|---|---|---|---|---|
| rnnkit | SimpleRNN | h | weight_ih (H, D), weight_hh (H, H) | bias (H) |
| rnnkit | LSTM | i f g o | weight_ih (4H, D), weight_hh (4H, H) | bias (4H) |
| rnnkit | GRU reset_after | r z n | weight_ih (3H, D), weight_hh (3H, H) | bias_ih, bias_hh |
| rnnkit | GRU reset_before | r z n | as above | bias (3H) |
| torch.nn | RNN, LSTM | h / i f g o | weight_ih_l{k} (GH, D), weight_hh_l{k} | two, summed |
| torch.nn | GRU | r z n | weight_ih_l{k} (3H, D), weight_hh_l{k} | two, kept apart |
| Keras 3 | SimpleRNN | h | kernel (D, H), recurrent_kernel (H, H) | bias (H) |
| Keras 3 | LSTM | i f c o | kernel (D, 4H), recurrent_kernel (H, 4H) | bias (4H) |
| Keras 3 | GRU reset_after | z r h | kernel (D, 3H), recurrent_kernel (H, 3H) | (2, 3H): in, rec |
| Keras 3 | GRU reset_before | z r h | as above | bias (3H) |
| Keras 3 | Dense | - | kernel (D, U) | bias (U) |
| Keras 3 | Embedding | - | embeddings (V, E) | - |

Keras' c and h gates are rnnkit's g and n; its kernels are rnnkit's weights transposed.
torch.nn's GRU has no reset_before form, so a GRU(reset_after=False) has no torch.nn twin;
torch.nn's second LSTM/RNN bias is redundant (only the sum acts) and comes back as zeros.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Layout", "LAYOUTS", "GATES", "reorder", "layout_table", "to_keras_arrays",
           "from_keras_arrays", "to_torch_arrays", "from_torch_arrays", "cell_kind"]

# gate packing in rnnkit's gate names (Keras c = g, Keras h = n)
GATES = {
    ("rnnkit", "simple"): ("h",), ("rnnkit", "lstm"): ("i", "f", "g", "o"),
    ("rnnkit", "gru"): ("r", "z", "n"), ("rnnkit", "gru_before"): ("r", "z", "n"),
    ("torch", "simple"): ("h",), ("torch", "lstm"): ("i", "f", "g", "o"),
    ("torch", "gru"): ("r", "z", "n"),
    ("keras", "simple"): ("h",), ("keras", "lstm"): ("i", "f", "g", "o"),
    ("keras", "gru"): ("z", "r", "n"), ("keras", "gru_before"): ("z", "r", "n"),
}


@dataclass(frozen=True)
class Layout:
    framework: str
    cell: str              # simple | lstm | gru (reset after) | gru_before
    gates: tuple[str, ...]
    transposed: bool       # weights stored (in, out), as Keras kernels
    bias: str              # one | two_summed | two_apart | stacked_2xG (Keras GRU)


LAYOUTS = {
    ("rnnkit", "simple"): Layout("rnnkit", "simple", GATES["rnnkit", "simple"], False, "one"),
    ("rnnkit", "lstm"): Layout("rnnkit", "lstm", GATES["rnnkit", "lstm"], False, "one"),
    ("rnnkit", "gru"): Layout("rnnkit", "gru", GATES["rnnkit", "gru"], False, "two_apart"),
    ("rnnkit", "gru_before"): Layout("rnnkit", "gru_before", GATES["rnnkit", "gru_before"],
                                     False, "one"),
    ("torch", "simple"): Layout("torch", "simple", GATES["torch", "simple"], False, "two_summed"),
    ("torch", "lstm"): Layout("torch", "lstm", GATES["torch", "lstm"], False, "two_summed"),
    ("torch", "gru"): Layout("torch", "gru", GATES["torch", "gru"], False, "two_apart"),
    ("keras", "simple"): Layout("keras", "simple", GATES["keras", "simple"], True, "one"),
    ("keras", "lstm"): Layout("keras", "lstm", GATES["keras", "lstm"], True, "one"),
    ("keras", "gru"): Layout("keras", "gru", GATES["keras", "gru"], True, "stacked_2xG"),
    ("keras", "gru_before"): Layout("keras", "gru_before", GATES["keras", "gru_before"], True,
                                    "one"),
}


def layout_table() -> str:
    """The table above, from ``LAYOUTS`` (the foot of ``rnnkit convert --help``)."""
    rows = [("framework", "cell", "gates", "stored", "bias")]
    rows += [(lay.framework, lay.cell, " ".join(lay.gates),
              "(in, out)" if lay.transposed else "(out, in)", lay.bias)
             for lay in LAYOUTS.values()]
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


def reorder(a: np.ndarray, src: tuple[str, ...], dst: tuple[str, ...], axis: int) -> np.ndarray:
    """Permute the gate blocks of ``a`` along ``axis`` from packing ``src`` to ``dst``."""
    if sorted(src) != sorted(dst):
        raise ValueError(f"gate packings {src} and {dst} name different gates")
    if a.shape[axis] % len(src):
        raise ValueError(f"axis {axis} of shape {a.shape} does not split into {len(src)} gates")
    blocks = dict(zip(src, np.split(a, len(src), axis=axis)))
    return np.concatenate([blocks[g] for g in dst], axis=axis)


def cell_kind(cell) -> str:
    """simple | lstm | gru | gru_before for a built-in rnnkit cell (its descriptor's
    ``layout``); ValueError otherwise."""
    from ..cells.base import describe
    d = describe(cell)
    if d is not None and d.layout is not None:
        return d.layout
    raise ValueError(f"{type(cell).__name__} has no foreign layout (only SimpleRNNCell, "
                     "LSTMCell and GRUCell convert)")


def _np(t) -> np.ndarray:
    return t.detach().cpu().numpy().copy() if hasattr(t, "detach") else np.asarray(t).copy()


def _rnnkit_bias(cell) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(input bias, recurrent bias) of a cell, None where it has none."""
    if not cell.use_bias:
        return None, None
    if hasattr(cell, "bias_ih"):
        return _np(cell.bias_ih), _np(cell.bias_hh)
    return _np(cell.bias), None


# ---------------------------------------------------------------- Keras
def to_keras_arrays(cell) -> list[np.ndarray]:
    """[kernel, recurrent_kernel, (bias)] in Keras' layout for a built-in rnnkit cell."""
    kind = cell_kind(cell)
    src, dst = GATES["rnnkit", kind], GATES["keras", kind]
    kernel = reorder(_np(cell.weight_ih), src, dst, 0).T
    recurrent = reorder(_np(cell.weight_hh), src, dst, 0).T
    out = [np.ascontiguousarray(kernel), np.ascontiguousarray(recurrent)]
    b_ih, b_hh = _rnnkit_bias(cell)
    if b_ih is not None:
        if kind == "gru":
            out.append(np.stack([reorder(b_ih, src, dst, 0), reorder(b_hh, src, dst, 0)]))
        else:
            out.append(reorder(b_ih, src, dst, 0))
    return out


def from_keras_arrays(cell, arrays: list[np.ndarray]) -> dict[str, np.ndarray]:
    """rnnkit parameter arrays (by name) for ``cell`` from Keras' [kernel, recurrent, bias]."""
    kind = cell_kind(cell)
    src, dst = GATES["keras", kind], GATES["rnnkit", kind]
    want = 3 if cell.use_bias else 2
    if len(arrays) != want:
        raise ValueError(f"{type(cell).__name__}(use_bias={cell.use_bias}) takes {want} Keras "
                         f"arrays (kernel, recurrent_kernel{', bias' if want == 3 else ''}), "
                         f"got {len(arrays)}")
    kernel, recurrent = np.asarray(arrays[0]), np.asarray(arrays[1])
    out = {"weight_ih": reorder(kernel.T, src, dst, 0),
           "weight_hh": reorder(recurrent.T, src, dst, 0)}
    if cell.use_bias:
        bias = np.asarray(arrays[2])
        if kind == "gru":
            if bias.ndim != 2 or bias.shape[0] != 2:
                raise ValueError(f"a Keras GRU(reset_after=True) bias is (2, 3H), got "
                                 f"{bias.shape}: was it saved with reset_after=False?")
            out["bias_ih"], out["bias_hh"] = (reorder(b, src, dst, 0) for b in bias)
        else:
            if bias.ndim != 1:
                raise ValueError(f"expected a 1-D Keras bias for {kind}, got {bias.shape}: a "
                                 "(2, 3H) bias is a GRU with reset_after=True")
            out["bias"] = reorder(bias, src, dst, 0)
    return out


# ---------------------------------------------------------------- torch.nn
def to_torch_arrays(cell) -> dict[str, np.ndarray]:
    """weight_ih, weight_hh, bias_ih, bias_hh as torch.nn lays them out (suffix-free)."""
    kind = cell_kind(cell)
    if kind == "gru_before":
        raise ValueError("GRU(reset_after=False) has no torch.nn twin: torch's GRU applies the "
                         "reset gate after the recurrent product (reset_after=True)")
    out = {"weight_ih": _np(cell.weight_ih), "weight_hh": _np(cell.weight_hh)}
    b_ih, b_hh = _rnnkit_bias(cell)
    if b_ih is not None:
        out["bias_ih"] = b_ih
        out["bias_hh"] = b_hh if b_hh is not None else np.zeros_like(b_ih)
    return out


def from_torch_arrays(cell, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """rnnkit parameter arrays for ``cell`` from torch.nn's (suffix-free) names."""
    kind = cell_kind(cell)
    out = {"weight_ih": np.asarray(arrays["weight_ih"]),
           "weight_hh": np.asarray(arrays["weight_hh"])}
    has_bias = "bias_ih" in arrays
    if has_bias != cell.use_bias:
        raise ValueError(f"the torch module has bias={has_bias} but the cell use_bias="
                         f"{cell.use_bias}")
    if has_bias:
        if kind == "gru":
            out["bias_ih"], out["bias_hh"] = np.asarray(arrays["bias_ih"]), np.asarray(
                arrays["bias_hh"])
        else:
            out["bias"] = np.asarray(arrays["bias_ih"]) + np.asarray(arrays["bias_hh"])
    return out
