"""ONNX export with dynamic batch and time axes, padding lengths, and the recurrent state as
explicit inputs and outputs, so a deployed model can stream: feed each chunk's final states
back in.

    export(model, "m.onnx")            inputs  x (B, T, D) [or ids (B, T)], lengths (B,),
                                               h_0_in[, c_0_in], h_1_in, ...  (one-way layers)
                                       outputs y, h_0[, c_0], h_1, ...
    export(model, "m.onnx", state_inputs=False, lengths=False)      inputs x only
    read_report("m.onnx")              how each layer was written and whether states stream
    check(model, "m.onnx")             onnxruntime against PyTorch at two sequence lengths,
                                       with full sequences and with padding (lengths)

Every recurrent layer is one node with a dynamic time axis (see ``onnx_graph``): ONNX's
own RNN/LSTM/GRU operator where the cell has one (GRU reset_after=False is
``linear_before_reset=0``; SimpleRNN's tanh, relu, sigmoid and linear are ONNX RNN
activations), else a ``Scan`` over the cell's one-step graph (LayerNorm-LSTM, custom cells,
custom activations).  ``lengths`` is each sequence's number of real steps (right padding,
the form ONNX's ``sequence_lens`` takes); padded steps output zeros and keep the state, as
in rnnkit.  A model with a Bidirectional layer reads each sequence whole, so it exports
without state inputs (the report says so); one-way stacks get them.
"""

from __future__ import annotations

import json
import numbers
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

__all__ = ["export", "check", "state_names", "read_report", "ExportReport", "OPSETS"]

# Scan over an axis of choice came with opset 9 (older graphs would need a time-first
# Scan); 20 is the newest that torch's TorchScript exporter (which traces the steps of
# Scan bodies) writes
OPSETS = range(9, 21)
REPORT_KEY = "rnnkit.export"


@dataclass(frozen=True)
class ExportReport:
    """What ``export`` wrote: the interface, and for every layer the ONNX op(s) and why.

    ``state_inputs`` is False for a model with a Bidirectional layer (``state_note`` says
    why); ``layers`` holds a ``LayerRecord(index, layer, op, reason)`` per layer.
    """
    path: str              # the file it was read from
    opset: int
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    state_inputs: bool
    state_note: str
    lengths: bool
    layers: tuple

    def lines(self) -> list[str]:
        """The report as text lines (what ``rnnkit convert`` prints)."""
        out = [f"inputs {', '.join(self.inputs)}; outputs {', '.join(self.outputs)}",
               f"state inputs: {'yes' if self.state_inputs else 'no'} ({self.state_note})"]
        out += [f"layer {r.index} {r.layer}: {r.op} ({r.reason})" for r in self.layers]
        return out


def _output_path(path) -> Path:
    """Where to write: a file name whose folder exists and can be written, checked before
    anything is built."""
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


def _bidirectional(model) -> list[int]:
    import rnnkit as rk
    return [k for k, m in enumerate(_layers(model)) if isinstance(m, rk.Bidirectional)]


def _sample(model, batch: int, T: int, generator=None, fill="zeros") -> torch.Tensor:
    """An input for ``model``: ids (B, T) for an Embedding first, else floats (B, T, D)."""
    import rnnkit as rk
    first = _layers(model)[0]
    if isinstance(first, rk.Embedding):
        if fill == "zeros":
            return torch.ones(batch, T, dtype=torch.long)
        return torch.randint(0, first.input_dim, (batch, T), generator=generator)
    size = None
    for m in _layers(model):       # the first layer that knows it, past Masking and Dropout
        m = m.forward_layer if isinstance(m, rk.Bidirectional) else m
        size = getattr(m, "input_size", None) or getattr(getattr(m, "cell", None),
                                                         "input_size", None)
        if size is not None or not isinstance(m, (rk.Masking, rk.Dropout)):
            break
    if not isinstance(size, int):
        raise ValueError("build the model first (call it on data) so its input size is known")
    if fill == "zeros":
        return torch.zeros(batch, T, size)
    return torch.randn(batch, T, size, generator=generator)


def _templates(model, sample: torch.Tensor) -> list:
    """The zero state of every one-way recurrent layer, from one pass over ``sample``."""
    import rnnkit as rk

    from .onnx_graph import state_template
    out, x = [], sample
    with torch.no_grad():
        for m in _layers(model):
            y = m(x)                          # builds a layer whose input size was unknown
            if isinstance(m, rk.RNN):
                out.append(state_template(m, x[:, 0]))
            x = y
    return out


def _names(templates: list) -> list[list[str]]:
    from .onnx_graph import state_leaf_names
    return [state_leaf_names(k, t) for k, t in enumerate(templates)]


def state_names(model) -> list[str]:
    """Names of the state outputs, in order: h_0, c_0 (LSTM-like), h_1, ..., or s_k_j for
    the leaves of a custom cell's state; one-way recurrent layers only (a Bidirectional
    layer has no streaming state).  State inputs are these names + "_in"."""
    model.eval()
    return [n for names in _names(_templates(model, _sample(model, 1, 2))) for n in names]


def _refuse_dtype(model: nn.Module) -> None:
    for name, p in model.named_parameters():
        if p.is_floating_point() and p.dtype != torch.float32:
            raise ValueError(f"ONNX export writes float32 (onnxruntime's recurrent kernels run "
                             f"in float32), but parameter {name!r} is {p.dtype}; export "
                             "model.float()")


def export(model: nn.Module, path: str | Path, *, state_inputs: bool | None = None,
           lengths: bool = True, opset: int = 17) -> Path:
    """Write ``model`` (an RNN or Bidirectional layer, or a Sequential) as ONNX.

    Args:
        model: the rnnkit model, float32, built (called once on data).
        path: the .onnx file to write.
        state_inputs: initial states as inputs (``h_k_in``, ...).  None (default): yes for
            one-way stacks, no when a Bidirectional layer is present (it reads sequences
            whole, so there is nothing to stream); True with a Bidirectional layer is an
            error.  Final states of one-way layers are always outputs.
        lengths: add a ``lengths`` (B,) int64 input, the real steps of each right-padded
            sequence (pass T for full sequences).
        opset: ONNX opset, 9..20.

    Returns the path; ``read_report(path)`` tells how each layer was written.

    Example:
        >>> import tempfile
        >>> import rnnkit as rk
        >>> model = rk.Sequential([rk.GRU(4, input_size=3, reset_after=False), rk.Dense(1)])
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = export(model, f"{folder}/m.onnx")
        ...     report = read_report(path)
        ...     worst = max(check(model, path).values())
        >>> report.inputs, report.layers[0].op, worst < 1e-5
        (('x', 'lengths', 'h_0_in'), 'GRU linear_before_reset=0', True)
    """
    try:
        import onnx
    except ImportError as err:
        raise ImportError("ONNX export needs the onnx package: pip install 'rnnkit[onnx]'") \
            from err
    import rnnkit as rk

    from .onnx_graph import Plan, build
    if isinstance(opset, bool) or not isinstance(opset, numbers.Integral) \
            or opset not in OPSETS:
        raise ValueError(f"opset must be an int in {OPSETS.start}..{OPSETS.stop - 1}, got "
                         f"{opset!r}")
    if state_inputs is not None and not isinstance(state_inputs, bool):
        raise TypeError(f"state_inputs must be True or False, got {state_inputs!r} (or None, "
                        "the default: True unless a layer is Bidirectional)")
    if not isinstance(lengths, bool):
        raise TypeError(f"lengths must be True or False, got {lengths!r}")
    if not isinstance(model, nn.Module):
        raise TypeError(f"export needs an rnnkit layer or Sequential, got "
                        f"{type(model).__name__}")
    path = _output_path(path)
    if not any(isinstance(m, (rk.RNN, rk.Bidirectional)) for m in _layers(model)):
        raise ValueError("the model has no recurrent layer to export")
    _refuse_dtype(model)
    bi = _bidirectional(model)
    if bi and state_inputs:
        raise ValueError(f"layer {bi[0]} is Bidirectional: it reads the whole sequence at once "
                         "and cannot stream, so the model has no state inputs; export with "
                         "state_inputs=False or None (the default)")
    if state_inputs is None:
        state_inputs = not bi
    note = (f"Bidirectional layer {bi[0]} reads each sequence whole; initial states are zeros"
            if bi else "one-way layers: feed each chunk's final states back in"
            if state_inputs else "state_inputs=False: initial states are zeros")
    model.eval()
    sample = _sample(model, 3, 5)      # B and T unlike check's defaults: nothing is baked in
    names = _names(_templates(model, sample))
    proto, records = build(_layers(model), sample, Plan(state_inputs, lengths, int(opset)),
                           {"states": names})
    inputs = tuple(i.name for i in proto.graph.input)
    outputs = tuple(o.name for o in proto.graph.output)
    report = ExportReport(str(path), int(opset), inputs, outputs, state_inputs, note, lengths,
                          tuple(records))
    stored = {k: v for k, v in asdict(report).items() if k != "path"}
    onnx.helper.set_model_props(proto, {REPORT_KEY: json.dumps(stored)})
    onnx.save(proto, str(path))
    return path


def read_report(path: str | Path) -> ExportReport:
    """The ``ExportReport`` stored in a file written by ``export``."""
    import onnx
    if not isinstance(path, (str, os.PathLike)) or not Path(path).is_file():
        raise ValueError(f"{path!r}: no such ONNX file")
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as err:  # noqa: BLE001 -- protobuf's own exception classes
        raise ValueError(f"{path} is not a readable ONNX model ({str(err)[:200]})") from None
    props = {p.key: p.value for p in proto.metadata_props}
    if REPORT_KEY not in props:
        raise ValueError(f"{path} was not written by rnnkit's export (no {REPORT_KEY!r} "
                         "metadata)")
    from .onnx_graph import LayerRecord
    data = json.loads(props[REPORT_KEY])
    data["inputs"], data["outputs"] = tuple(data["inputs"]), tuple(data["outputs"])
    data["layers"] = tuple(LayerRecord(**r) for r in data["layers"])
    return ExportReport(path=str(path), **data)


class _Torch(nn.Module):
    """The PyTorch side of ``check``: model(x, states, lengths) -> (y, *one-way final
    states), with the padding mask flowing as in ``Sequential``."""

    def __init__(self, model: nn.Module, templates: list):
        super().__init__()
        self.model, self.templates = model, templates

    def forward(self, x, states: list | None, lengths=None):
        import rnnkit as rk
        from rnnkit.types import tree_leaves, tree_map

        from ..layers.sequential import _takes_mask
        given, out_states, k = list(states or []), [], 0
        mask = None
        if lengths is not None:
            mask = torch.arange(x.shape[1]) < lengths[:, None]
        for m in _layers(self.model):
            if isinstance(m, rk.RNN):
                init = None
                if states is not None:
                    n = len(tree_leaves(self.templates[k]))
                    it = iter(given[:n])
                    given = given[n:]
                    init = tree_map(lambda _: next(it), self.templates[k])
                y, state = m.run(x, init, mask=mask)
                out_states += tree_leaves(state)
                k += 1
            else:
                y = m(x, mask=mask) if _takes_mask(m) else m(x)
            if hasattr(m, "compute_mask"):
                mask = m.compute_mask(x, mask)
            elif mask is not None and not (y.dim() >= 2 and y.shape[:2] == mask.shape):
                mask = None
            x = y
        return (x, *out_states)


def _session(path):
    try:
        import onnxruntime as ort
    except ImportError as err:
        raise ImportError("checking an ONNX file needs onnxruntime: pip install "
                          "'rnnkit[onnx]'") from err
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be an ONNX file name (str or Path), got {path!r}")
    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path}: no such file (expected an ONNX model)")
    if not path.is_file():
        raise ValueError(f"{path}: expected an ONNX model in a regular file, found "
                         f"{'a folder' if path.is_dir() else 'something else'}")
    try:
        return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as err:  # noqa: BLE001 -- onnxruntime's own exception classes
        detail = str(err).replace(str(path), "FILE").strip()
        raise ValueError(f"{path} is not a readable ONNX model ({detail[:200]})") from None


def _padded_lengths(batch: int, T: int, g: torch.Generator) -> torch.Tensor:
    """Random lengths in [1, T], one row full and one as short as half."""
    lens = torch.randint(1, T + 1, (batch,), generator=g)
    lens[0] = T
    if batch > 1:
        lens[1] = max(1, T // 2)
    return lens


def check(model: nn.Module, path: str | Path, *, lengths: tuple[int, ...] = (3, 11),
          batch: int = 2, seed: int = 0) -> dict[str, float]:
    """Largest |onnxruntime - PyTorch| per output name over the sequence lengths
    ``lengths`` (T values), with random initial states where the file takes them; when
    the file has a ``lengths`` input, also with padded sequences (keys "NAME masked")."""
    lengths = tuple(lengths) if isinstance(lengths, (list, tuple)) else lengths
    if not isinstance(lengths, tuple) or not lengths:
        raise ValueError(f"lengths must be a non-empty tuple of ints >= 1, got {lengths!r}")
    lengths = tuple(_positive("lengths", T) for T in lengths)
    batch, seed = _positive("batch", batch), _positive("seed", seed, 0)
    if not isinstance(model, nn.Module):
        raise TypeError(f"check needs the rnnkit model that was exported, got "
                        f"{type(model).__name__}")
    session = _session(path)
    in_names = [i.name for i in session.get_inputs()]
    out_names = [o.name for o in session.get_outputs()]
    model.eval()
    templates = _templates(model, _sample(model, 1, 2))
    states = [n for names in _names(templates) for n in names]
    state_in = [f"{n}_in" for n in states]
    has_states = bool(state_in) and all(n in in_names for n in state_in)
    want_in = ["x"] + (["lengths"] if "lengths" in in_names else []) + \
        (state_in if has_states else [])
    if sorted(in_names) != sorted(want_in) or out_names != ["y", *states]:
        raise ValueError(f"{path} was not exported from this model: it has inputs "
                         f"{in_names} and outputs {out_names}, the model would have inputs "
                         f"x[, lengths]{''.join(', ' + n for n in state_in)} and outputs "
                         f"{['y', *states]}")
    ours = _Torch(model, templates)
    with torch.no_grad():
        probe = ours(_sample(model, 1, 2), None)
    want_dims = {"x": tuple(_sample(model, 1, 2).shape[2:]), "y": tuple(probe[0].shape[1:])}
    want_dims.update({n: tuple(t.shape[1:]) for n, t in zip(states, probe[1:])})
    want_dims.update({f"{n}_in": want_dims[n] for n in states})
    for info in [*session.get_inputs(), *session.get_outputs()]:
        last, want = info.shape[-1] if info.shape else None, want_dims.get(info.name)
        if want and isinstance(last, int) and last != want[-1]:
            raise ValueError(f"{path} was not exported from this model: its {info.name} has "
                             f"{last} features, the model's has {want[-1]}")
    g = torch.Generator().manual_seed(seed)
    report: dict[str, float] = {}
    for T in lengths:
        x = _sample(model, batch, T, g, fill="random")
        with torch.no_grad():
            zero = ours(x, None)
        init = [torch.randn(s.shape, generator=g) for s in zero[1:]] if has_states else None
        runs = [("", None)]
        if "lengths" in in_names:
            runs = [("", torch.full((batch,), T)), (" masked", _padded_lengths(batch, T, g))]
        for suffix, lens in runs:
            with torch.no_grad():
                expected = ours(x, init, None if suffix == "" else lens)
            feed = {"x": x.numpy()}
            if lens is not None:
                feed["lengths"] = lens.numpy().astype(np.int64)
            if has_states:
                feed.update({n: s.numpy() for n, s in zip(state_in, init)})
            try:
                got = session.run(out_names, feed)
            except Exception as err:  # noqa: BLE001 -- onnxruntime's own exception classes
                raise ValueError(f"{path} does not fit this model: onnxruntime refused its "
                                 f"input ({str(err)[:200]})") from None
            for name, a, b in zip(out_names, expected, got):
                diff = float(np.abs(a.numpy().astype(np.float64) - b).max())
                report[name + suffix] = max(report.get(name + suffix, 0.0), diff)
    return report
