"""torch.nn recurrent modules to rnnkit and back, exactly (layouts in ``layouts.py``).

    from_torch(nn.LSTM(8, 16, num_layers=2, bidirectional=True, batch_first=True))
        -> rk.Sequential([Bidirectional(LSTM(16, return_sequences=True)), Bidirectional(...)])
    to_torch(rk.LSTM(16, input_size=8))  -> nn.LSTM(8, 16, batch_first=True)

A converted layer returns every step (``return_sequences=True``), as torch.nn does; its
output equals torch's ``output`` (batch first).  ``parity(torch_module, rnnkit_module)``
runs both on one random batch and reports the largest difference per output and state.
"""

from __future__ import annotations

import os
import pickle
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .layouts import cell_kind, from_torch_arrays, to_torch_arrays

__all__ = ["from_torch", "to_torch", "parity", "assign", "read_state_dict"]

_TORCH_LAYERS = (nn.RNN, nn.LSTM, nn.GRU)
_TORCH_CELLS = (nn.RNNCell, nn.LSTMCell, nn.GRUCell)


def assign(module: nn.Module, arrays: dict[str, np.ndarray], who: str) -> None:
    """Copy named arrays into ``module``'s parameters: every parameter, exact shapes."""
    params = dict(module.named_parameters())
    missing, extra = set(params) - set(arrays), set(arrays) - set(params)
    if missing or extra:
        raise ValueError(f"{who}: parameters do not match (missing {sorted(missing)}, "
                         f"unexpected {sorted(extra)})")
    for name, a in arrays.items():
        p = params[name]
        if tuple(np.shape(a)) != tuple(p.shape):
            raise ValueError(f"{who}: {name} should have shape {tuple(p.shape)}, got "
                             f"{tuple(np.shape(a))}")
        _refuse_non_finite(np.asarray(a), f"{who}: {name}")
        with torch.no_grad():
            p.copy_(torch.as_tensor(np.ascontiguousarray(a), dtype=p.dtype))


def _refuse_non_finite(a: np.ndarray, what: str) -> None:
    """NaN or inf in weights: a ValueError naming them (rk.load refuses such weights too)."""
    if a.dtype.kind in "fc" and a.size:
        bad = int((~np.isfinite(a)).sum())
        if bad:
            raise ValueError(f"{what} holds {bad} NaN or infinite value(s) of {a.size}; these "
                             "are not usable weights (was the model trained to divergence?)")


def _check_torch_params(m: nn.Module) -> None:
    """Every float parameter of a torch module finite, naming the first one that is not."""
    for name, p in m.named_parameters():
        if p.is_floating_point() and p.numel():
            bad = int((~torch.isfinite(p.detach())).sum())
            if bad:
                raise ValueError(f"nn.{type(m).__name__} parameter {name!r} holds {bad} NaN or "
                                 f"infinite value(s) of {p.numel()}; these are not usable "
                                 "weights (was the model trained to divergence?)")


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """A plain ``state_dict`` (names to tensors) from a ``torch.save`` file, read with
    torch's restricted unpickler (``weights_only=True``), which builds tensors and nothing
    else.  A file holding other Python objects is refused, and the message never suggests
    unpickling it."""
    from ..io import open_checked
    path = Path(path)
    with open_checked(path, "a torch state_dict (.pt)", None) as f, warnings.catch_warnings():
        warnings.simplefilter("ignore")        # torch's protocol chatter
        try:
            state = torch.load(f, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as err:
            found = re.search(r"(Unsupported|unsupported GLOBAL) [^\n]*", str(err))
            why = f" ({found.group(0).strip()[:160]})" if found else ""
            raise ValueError(f"{path} holds Python objects besides tensors{why}; rnnkit reads "
                             "only plain state_dicts, through torch's restricted loader, and "
                             "never unpickles anything else. Save the weights with "
                             "torch.save(module.state_dict(), PATH) or as .safetensors") \
                from None
        except Exception as err:  # noqa: BLE001 -- any other failure: not a torch file
            first = str(err).splitlines()[0] if str(err) else type(err).__name__
            if "weights_only" in first:
                first = type(err).__name__
            raise ValueError(f"{path} is not a torch state_dict file ({first[:200]})") \
                from None
    if not isinstance(state, dict):
        raise ValueError(f"{path} holds a {type(state).__name__}, not a state_dict (a dict of "
                         "parameter names to tensors)")
    for k, v in state.items():
        if not isinstance(k, str) or not isinstance(v, torch.Tensor):
            raise ValueError(f"{path}: entry {k!r:.60} is a {type(v).__name__}, not a tensor; "
                             "a state_dict maps parameter names to tensors")
    return state


def _rk_cell_for(m: nn.Module, input_size: int, hidden: int, bias: bool):
    import rnnkit as rk
    if isinstance(m, (nn.LSTM, nn.LSTMCell)):
        return rk.LSTMCell(input_size, hidden, use_bias=bias, unit_forget_bias=False)
    if isinstance(m, (nn.GRU, nn.GRUCell)):
        return rk.GRUCell(input_size, hidden, use_bias=bias, reset_after=True)
    return rk.SimpleRNNCell(input_size, hidden, activation=m.nonlinearity, use_bias=bias)


def _layer_for(m: nn.Module, input_size: int, suffix: str, go_backwards: bool):
    import rnnkit as rk
    if isinstance(m, nn.LSTM):
        layer = rk.LSTM(m.hidden_size, use_bias=m.bias, unit_forget_bias=False,
                        input_size=input_size, return_sequences=True, go_backwards=go_backwards)
    elif isinstance(m, nn.GRU):
        layer = rk.GRU(m.hidden_size, use_bias=m.bias, input_size=input_size,
                       return_sequences=True, go_backwards=go_backwards)
    else:
        layer = rk.SimpleRNN(m.hidden_size, activation=m.nonlinearity, use_bias=m.bias,
                             input_size=input_size, return_sequences=True,
                             go_backwards=go_backwards)
    layer.to(next(m.parameters()).dtype)
    arrays = {k: getattr(m, f"{k}{suffix}").detach().numpy() for k in
              ("weight_ih", "weight_hh", "bias_ih", "bias_hh") if hasattr(m, f"{k}{suffix}")}
    assign(layer.cell, from_torch_arrays(layer.cell, arrays), f"{type(m).__name__} {suffix[1:]}")
    return layer


def from_torch(m: nn.Module):
    """An rnnkit cell, layer or Sequential with the same weights as a torch.nn RNN module."""
    import rnnkit as rk
    if isinstance(m, (*_TORCH_CELLS, *_TORCH_LAYERS)):
        _check_torch_params(m)
    if isinstance(m, _TORCH_CELLS):
        cell = _rk_cell_for(m, m.input_size, m.hidden_size, m.bias).to(m.weight_ih.dtype)
        names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        arrays = {k: getattr(m, k).detach().numpy() for k in names
                  if getattr(m, k, None) is not None}
        assign(cell, from_torch_arrays(cell, arrays), type(m).__name__)
        return cell
    if not isinstance(m, _TORCH_LAYERS):
        raise ValueError(f"from_torch converts nn.RNN/LSTM/GRU and their cells, got "
                         f"{type(m).__name__}")
    if getattr(m, "proj_size", 0):
        raise ValueError(f"nn.LSTM(proj_size={m.proj_size}) has no rnnkit twin (the projected "
                         "state h is smaller than c); refit without proj_size")
    if isinstance(m, nn.RNN) and m.nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"nn.RNN nonlinearity {m.nonlinearity!r} is unknown")
    layers: list[nn.Module] = []
    size = m.input_size
    for k in range(m.num_layers):
        fwd = _layer_for(m, size, f"_l{k}", False)
        if m.bidirectional:
            bi = rk.Bidirectional(fwd, merge_mode="concat")
            bi.backward_layer = _layer_for(m, size, f"_l{k}_reverse", True)
            layers.append(bi)
            size = 2 * m.hidden_size
        else:
            layers.append(fwd)
            size = m.hidden_size
        if m.dropout and k < m.num_layers - 1:
            layers.append(rk.Dropout(m.dropout))
    return layers[0] if len(layers) == 1 else rk.Sequential(layers)


def _torch_kind(kind: str, activation: str | None):
    if kind == "lstm":
        return nn.LSTM, nn.LSTMCell, {}
    if kind == "gru":
        return nn.GRU, nn.GRUCell, {}
    if kind == "gru_before":
        raise ValueError("GRU(reset_after=False) has no torch.nn twin: torch's GRU applies the "
                         "reset gate after the recurrent product (reset_after=True)")
    if activation not in ("tanh", "relu"):
        raise ValueError(f"SimpleRNN(activation={activation!r}) has no torch.nn twin "
                         "(nn.RNN has tanh and relu)")
    return nn.RNN, nn.RNNCell, {"nonlinearity": activation}


def to_torch(obj: nn.Module) -> nn.Module:
    """The torch.nn twin (``batch_first=True``) of an rnnkit cell, layer, Bidirectional or a
    Sequential of equal recurrent layers (with optional Dropout between them)."""
    import rnnkit as rk
    if isinstance(obj, rk.RecurrentCell):
        kind = cell_kind(obj)
        _, cell_cls, kw = _torch_kind(kind, getattr(obj, "activation_name", None))
        twin = cell_cls(obj.input_size, obj.hidden_size, bias=obj.use_bias,
                        dtype=obj.weight_ih.dtype, **kw)
        assign(twin, to_torch_arrays(obj), type(twin).__name__)
        return twin
    stack = list(obj.layers) if isinstance(obj, rk.Sequential) else [obj]
    dropouts = [m.p for m in stack if isinstance(m, rk.Dropout)]
    rnns = [m for m in stack if not isinstance(m, rk.Dropout)]
    if not rnns or len(set(dropouts)) > 1:
        raise ValueError("to_torch needs recurrent layers with at most one dropout rate "
                         "between them")
    layout = []
    for m in rnns:
        bi = isinstance(m, rk.Bidirectional)
        f = m.forward_layer if bi else m
        if not isinstance(f, rk.RNN) or f.cell is None:
            raise ValueError(f"to_torch cannot convert {type(m).__name__} (build it first, or "
                             "it is not a recurrent layer)")
        if bi and m.merge_mode != "concat":
            raise ValueError(f"torch.nn concatenates directions; merge_mode={m.merge_mode!r} "
                             "has no twin")
        if f.go_backwards or f.stateful or f.recurrent_dropout:
            raise ValueError("go_backwards, stateful and recurrent_dropout have no torch.nn twin")
        layout.append((bi, cell_kind(f.cell), f.cell.hidden_size, f.cell.use_bias,
                       getattr(f.cell, "activation_name", None)))
    if len({(b, k, h, u, a) for b, k, h, u, a in layout}) > 1:
        raise ValueError("torch.nn stacks equal layers only (same cell, units, bias, "
                         "direction)")
    bi, kind, H, bias, act = layout[0]
    layer_cls, _, kw = _torch_kind(kind, act)
    first = rnns[0].forward_layer if bi else rnns[0]
    twin = layer_cls(first.cell.input_size, H, num_layers=len(rnns), bias=bias,
                     batch_first=True, bidirectional=bi, dropout=dropouts[0] if dropouts else 0.0,
                     dtype=first.cell.weight_ih.dtype, **kw)
    arrays: dict[str, np.ndarray] = {}
    for k, m in enumerate(rnns):
        parts = [(m.forward_layer, ""), (m.backward_layer, "_reverse")] if bi else [(m, "")]
        for layer, suffix in parts:
            for name, a in to_torch_arrays(layer.cell).items():
                arrays[f"{name}_l{k}{suffix}"] = a
    assign(twin, arrays, type(twin).__name__)
    return twin


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {tuple(a.shape)} vs {tuple(b.shape)}")
    return float((a.double() - b.double()).abs().max())


def parity(torch_module: nn.Module, rk_module: nn.Module, *, batch: int = 3, steps: int = 7,
           seed: int = 0) -> dict[str, float]:
    """Largest absolute difference between the two on one random batch, per output/state."""
    import rnnkit as rk
    g = torch.Generator().manual_seed(seed)
    dtype = next(torch_module.parameters()).dtype
    torch_module.eval()
    rk_module.eval()
    with torch.no_grad():
        if isinstance(torch_module, _TORCH_CELLS):
            x = torch.randn(batch, torch_module.input_size, generator=g, dtype=dtype)
            h0 = torch.randn(batch, torch_module.hidden_size, generator=g, dtype=dtype)
            if isinstance(torch_module, nn.LSTMCell):
                c0 = torch.randn(batch, torch_module.hidden_size, generator=g, dtype=dtype)
                h, c = torch_module(x, (h0, c0))
                y, state = rk_module(x, rk.LSTMState(h0, c0))
                return {"h": _max_diff(h, state.h), "c": _max_diff(c, state.c)}
            h = torch_module(x, h0)
            y, state = rk_module(x, h0)
            return {"h": _max_diff(h, state)}
        x = torch.randn(batch, steps, torch_module.input_size, generator=g, dtype=dtype)
        out = torch_module(x if torch_module.batch_first else x.transpose(0, 1))
        y_t, states = out[0], out[1]
        if not torch_module.batch_first:
            y_t = y_t.transpose(0, 1)
        report = {"output": _max_diff(y_t, rk_module(x))}
        if isinstance(rk_module, rk.RNN):           # one layer, one direction: final states
            _, state = rk_module.run(x)
            h_n = states[0] if isinstance(states, tuple) else states
            report["h"] = _max_diff(h_n[-1], state.h if isinstance(state, tuple) else state)
            if isinstance(states, tuple):
                report["c"] = _max_diff(states[1][-1], state.c)
        return report


def format_parity(report: dict[str, Any], tol: float = 1e-5) -> str:
    lines = [f"{name:<8} max |difference| {value:.3g}  {'ok' if value < tol else 'DIFFERS'}"
             for name, value in report.items()]
    return "\n".join(lines)
