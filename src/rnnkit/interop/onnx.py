"""ONNX export with dynamic batch and time axes and the recurrent state as explicit inputs
and outputs, so a deployed model can stream: feed each chunk's final states back in.

    export(model, "m.onnx")                  inputs x, h0_0[, c0_0], h0_1, ...
                                             outputs y, h_0[, c_0], h_1, ...
    export(model, "m.onnx", state_inputs=False)    inputs x only (zero initial states)
    check(model, "m.onnx")                   onnxruntime against the PyTorch model for two
                                             sequence lengths; the largest difference

Recurrent layers export as ONNX's own RNN/LSTM/GRU operators (through torch's native
kernels), so the time axis stays dynamic.  Layers without such an operator (a GRU with
reset_after=False, LayerNorm-LSTM, sigmoid/linear SimpleRNN), Bidirectional layers with
state inputs, and padding masks are refused with the reason: tracing them would fix the
sequence length silently.
"""

from __future__ import annotations

import numbers
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

__all__ = ["export", "check", "state_names", "OPSETS"]

# torch's TorchScript exporter: opset 9 (its base) to 20 (its newest)
OPSETS = range(9, 21)


def _output_path(path) -> Path:
    """Where to write: a file name whose folder exists and can be written, checked before
    the exporter runs (else torch's NotADirectoryError or PermissionError)."""
    if not isinstance(path, (str, os.PathLike)) or str(path) == "":
        raise TypeError(f"path must be a file name (str or Path), got {path!r}")
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a folder; give a file name such as {path / 'model.onnx'}")
    parent = path.parent
    for up in (parent, *parent.parents):       # the nearest existing ancestor
        if up.exists():
            if not up.is_dir():
                raise ValueError(f"cannot write {path}: {up} is a file, not a folder")
            break
    if not parent.is_dir():
        raise ValueError(f"cannot write {path}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"cannot write {path}: the folder {parent} is not writable")
    return path


def _positive(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def _layers(model) -> list[nn.Module]:
    import rnnkit as rk
    return list(model.layers) if isinstance(model, rk.Sequential) else [model]


def _recurrent(model) -> list:
    import rnnkit as rk
    return [m for m in _layers(model) if isinstance(m, rk.RNN)]


def state_names(model) -> list[str]:
    """Names of the state inputs/outputs, in order: h_0, c_0 (LSTM), h_1, ... (one-way
    recurrent layers; a Bidirectional layer has no streaming state)."""
    import rnnkit as rk
    names = []
    for k, m in enumerate(_recurrent(model)):
        names.append(f"h_{k}")
        if isinstance(m, rk.RNN) and isinstance(m.cell, rk.LSTMCell):
            names.append(f"c_{k}")
    return names


class _Streaming(nn.Module):
    """model(x, *states) -> (y, *final states), layer by layer, no masks."""

    def __init__(self, model: nn.Module, state_inputs: bool):
        super().__init__()
        import rnnkit as rk
        self.model, self.state_inputs = model, state_inputs
        for m in _layers(model):
            if isinstance(m, rk.Masking) or getattr(m, "mask_zero", False):
                raise ValueError(f"ONNX export runs without padding masks; {type(m).__name__} "
                                 "makes one (export a model without Masking / mask_zero)")
            if isinstance(m, rk.Bidirectional) and state_inputs:
                raise ValueError("a Bidirectional layer reads the whole sequence at once and "
                                 "cannot stream: export with state_inputs=False")

    def forward(self, x, *states):
        import rnnkit as rk
        given, out_states = list(states), []
        for m in _layers(self.model):
            if isinstance(m, rk.RNN):
                init = None
                if self.state_inputs:
                    is_lstm = isinstance(m.cell, rk.LSTMCell)
                    init = rk.LSTMState(given.pop(0), given.pop(0)) if is_lstm else given.pop(0)
                y, state = m.run(x, init)
                out_states += list(state) if isinstance(state, tuple) else [state]
                x = y
            else:
                x = m(x)
        return (x, *out_states)


def export(model: nn.Module, path: str | Path, *, state_inputs: bool = True,
           opset: int = 17) -> Path:
    """Write ``model`` (an RNN layer or a Sequential) as ONNX; returns the path."""
    import rnnkit as rk
    try:
        import onnx  # noqa: F401 -- torch's exporter writes the file through it
    except ImportError as err:
        raise ImportError("ONNX export needs the onnx package: pip install 'rnnkit[onnx]'") \
            from err
    if isinstance(opset, bool) or not isinstance(opset, numbers.Integral) \
            or opset not in OPSETS:
        raise ValueError(f"opset must be an int in {OPSETS.start}..{OPSETS.stop - 1} (what "
                         f"torch's exporter writes), got {opset!r}")
    if not isinstance(state_inputs, bool):
        raise TypeError(f"state_inputs must be True or False, got {state_inputs!r}")
    if not isinstance(model, nn.Module):
        raise TypeError(f"export needs an rnnkit layer or Sequential, got "
                        f"{type(model).__name__}")
    path = _output_path(path)
    if not any(isinstance(m, (rk.RNN, rk.Bidirectional)) for m in _layers(model)):
        raise ValueError("the model has no recurrent layer to export")
    first = _layers(model)[0]
    model.eval()
    wrapper = _Streaming(model, state_inputs)
    if isinstance(first, rk.Embedding):
        x = torch.ones(2, 5, dtype=torch.long)
    else:
        f = first.forward_layer if isinstance(first, rk.Bidirectional) else first
        size = getattr(f, "input_size", None)
        if size is None:
            raise ValueError("build the model first (call it on data) so its input size is known")
        x = torch.zeros(2, 5, size, dtype=next(model.parameters()).dtype)
    names = state_names(model)
    with torch.no_grad():
        outs = _Streaming(model, False)(x)                       # shapes of y and states
    states = tuple(torch.zeros_like(s) for s in outs[1:]) if state_inputs else ()
    inputs = ["x"] + ([f"{n}_in" for n in names] if state_inputs else [])
    outputs = ["y"] + names
    axes = {"x": {0: "batch", 1: "time"}}
    axes.update({n: {0: "batch"} for n in inputs[1:] + outputs[1:]})
    axes["y"] = {0: "batch", 1: "time"} if outs[0].dim() == 3 else {0: "batch"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # the exporter's own chatter
        torch.onnx.export(wrapper, (x, *states), str(path), input_names=inputs,
                          output_names=outputs, dynamic_axes=axes, opset_version=int(opset),
                          dynamo=False)
    return path


def check(model: nn.Module, path: str | Path, *, lengths: tuple[int, ...] = (3, 11),
          batch: int = 2, seed: int = 0) -> dict[str, float]:
    """Largest |onnxruntime - PyTorch| per output name, over two sequence lengths."""
    try:
        import onnxruntime as ort
    except ImportError as err:
        raise ImportError("checking an ONNX file needs onnxruntime: pip install "
                          "'rnnkit[onnx]'") from err
    import rnnkit as rk
    lengths = tuple(lengths) if isinstance(lengths, (list, tuple)) else lengths
    if not isinstance(lengths, tuple) or not lengths:
        raise ValueError(f"lengths must be a non-empty tuple of ints >= 1, got {lengths!r}")
    lengths = tuple(_positive("lengths", T) for T in lengths)
    batch, seed = _positive("batch", batch), _positive("seed", seed, 0)
    if not isinstance(model, nn.Module):
        raise TypeError(f"check needs the rnnkit model that was exported, got "
                        f"{type(model).__name__}")
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be an ONNX file name (str or Path), got {path!r}")
    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path}: no such file (expected an ONNX model)")
    if not path.is_file():
        raise ValueError(f"{path}: expected an ONNX model in a regular file, found "
                         f"{'a folder' if path.is_dir() else 'something else'}")
    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as err:  # noqa: BLE001 -- onnxruntime's own exception classes
        detail = str(err).replace(str(path), "FILE").strip()
        raise ValueError(f"{path} is not a readable ONNX model ({detail[:200]})") from None
    in_names = [i.name for i in session.get_inputs()]
    out_names = [o.name for o in session.get_outputs()]
    n_states = len(state_names(model))
    if len(in_names) not in (1, 1 + n_states) or len(out_names) != 1 + n_states:
        raise ValueError(f"{path} was not exported from this model: it has inputs "
                         f"{in_names} and outputs {out_names}, the model would have x and "
                         f"{n_states} state input(s), y and {n_states} state output(s)")
    wrapper = _Streaming(model, state_inputs=len(in_names) > 1)
    g = torch.Generator().manual_seed(seed)
    first = _layers(model)[0]
    report: dict[str, float] = {}
    model.eval()
    for T in lengths:
        if isinstance(first, rk.Embedding):
            x = torch.randint(1, first.input_dim, (batch, T), generator=g)
        else:
            x = torch.randn(batch, T, session.get_inputs()[0].shape[2], generator=g)
        with torch.no_grad():
            zero = wrapper.__class__(model, False)(x)
            states = [torch.randn(s.shape, generator=g) for s in zero[1:]] \
                if len(in_names) > 1 else []
            ours = wrapper(x, *states)
        feed = {"x": x.numpy(), **{n: s.numpy() for n, s in zip(in_names[1:], states)}}
        try:
            theirs = session.run(out_names, feed)
        except Exception as err:  # noqa: BLE001 -- onnxruntime's own exception classes
            raise ValueError(f"{path} does not fit this model: onnxruntime refused its "
                             f"input ({str(err)[:200]})") from None
        for name, a, b in zip(out_names, ours, theirs):
            diff = float(np.abs(a.numpy().astype(np.float64) - b).max())
            report[name] = max(report.get(name, 0.0), diff)
    return report
