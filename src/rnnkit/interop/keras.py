"""Keras 3 models to rnnkit and back, from objects or files, exactly.

    from_keras(keras_model)                 a Keras Sequential (or one layer) -> rnnkit
    load_keras("model.keras")               the file, read as data: the archive checked
                                            (size, members), every object its config.json
                                            names checked against the classes that convert,
                                            weights read with h5py; nothing in the file is
                                            imported or executed
    load_keras_weights(rk_model, "m.weights.h5")   weights only, into a matching rnnkit model
    to_keras(rk_model) / save_keras(rk_model, "m.keras")   the other way (needs keras)
    parity(keras_model, rk_model)           largest output difference on one random batch

Supported layers: InputLayer, Masking, SimpleRNN, LSTM, GRU (both ``reset_after``),
Bidirectional, Embedding, Dense (also inside TimeDistributed), Dropout.  Anything else,
and options with no rnnkit twin (another recurrent activation, ``return_state`` inside a
Sequential, ``unroll`` is fine), is refused with the reason.  Layouts: ``layouts.py``.

Padding: at masked steps rnnkit outputs zeros and keeps the state; Keras keeps the state
too, and its outputs there follow ``zero_output_for_mask``.  Final outputs agree either way.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..io import MAX_JSON_BYTES, open_checked
from ..registry import check_size
from .layouts import from_keras_arrays, to_keras_arrays
from .torch_native import assign

__all__ = ["from_keras", "load_keras", "load_keras_weights", "to_keras", "save_keras",
           "parity", "from_keras_config"]

_RNN_CLASSES = ("SimpleRNN", "LSTM", "GRU")
_KERAS_CLASS: dict[type, str] = {}      # rnnkit layer class -> Keras class name


MAX_KERAS_BYTES = 4 << 30        # a .keras archive, and the sum of its inflated members
MAX_KERAS_MEMBERS = 256          # Keras writes 3 (config.json, metadata.json, weights)

_LAYERS = frozenset({"InputLayer", "Masking", "SimpleRNN", "LSTM", "GRU", "Bidirectional",
                     "Embedding", "Dense", "TimeDistributed", "Dropout"})
_INITIALIZERS = frozenset({"Constant", "GlorotNormal", "GlorotUniform", "HeNormal", "HeUniform",
                           "Identity", "LecunNormal", "LecunUniform", "Ones", "Orthogonal",
                           "RandomNormal", "RandomUniform", "TruncatedNormal",
                           "VarianceScaling", "Zeros"})
_OPTIMIZERS = frozenset({"Adadelta", "Adafactor", "Adagrad", "Adam", "AdamW", "Adamax", "Ftrl",
                         "Lion", "Nadam", "RMSprop", "SGD"})
_LOSSES_METRICS = frozenset({
    "MeanSquaredError", "MeanAbsoluteError", "MeanAbsolutePercentageError", "Huber",
    "BinaryCrossentropy", "CategoricalCrossentropy", "SparseCategoricalCrossentropy",
    "RootMeanSquaredError", "Accuracy", "BinaryAccuracy", "CategoricalAccuracy",
    "SparseCategoricalAccuracy", "Mean"})
_ALLOWED: dict[str, frozenset[str]] = {       # module -> class names a converted file may name
    "keras": frozenset({"Sequential", "Functional", "Model", "DTypePolicy",
                        "FloatDTypePolicy"}),
    "keras.models": frozenset({"Sequential", "Functional", "Model"}),
    "keras.src.models.functional": frozenset({"Functional"}),
    "keras.layers": _LAYERS,
    "keras.dtype_policies": frozenset({"DTypePolicy", "FloatDTypePolicy"}),
    "keras.initializers": _INITIALIZERS,
    "keras.regularizers": frozenset({"L1", "L2", "L1L2", "OrthogonalRegularizer"}),
    "keras.constraints": frozenset({"MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm"}),
    "keras.optimizers": _OPTIMIZERS,
    "keras.losses": _LOSSES_METRICS,
    "keras.metrics": _LOSSES_METRICS,
}
_BACKEND_OPTIMIZER = re.compile(r"^keras\.src\.backend\.\w+\.optimizers\.\w+$")


def _refuse(cls: str, why: str):
    return ValueError(f"Keras {cls}: {why}")


def _allowed(module: Any, class_name: Any) -> bool:
    if not isinstance(class_name, str):
        return False
    if module is None:
        return any(class_name in names for names in _ALLOWED.values())
    if not isinstance(module, str):
        return False
    if _BACKEND_OPTIMIZER.match(module):        # how Keras names a compiled model's optimizer
        return class_name in _OPTIMIZERS
    return class_name in _ALLOWED.get(module, ())


def check_keras_config(config: Any, source: str) -> None:
    """Refuse any object a Keras config names outside the classes rnnkit converts.

    Every JSON object with a ``module``, ``class_name`` or ``registered_name`` is checked
    (the whole tree, compile settings included) before Keras or anything else reads it,
    so the file cannot make anything import a module such as ``os`` or ``builtins``."""
    stack: list[tuple[Any, str]] = [(config, "config.json")]
    while stack:
        node, where = stack.pop()
        if isinstance(node, dict):
            if {"module", "class_name", "registered_name"} & set(node):
                module, name = node.get("module"), node.get("class_name")
                registered = node.get("registered_name")
                if not _allowed(module, name) or registered not in (None, name):
                    raise ValueError(
                        f"{source}: {where} names module={module!r:.60}, class_name="
                        f"{name!r:.60}, registered_name={registered!r:.60}; rnnkit reads "
                        "only the Keras layers it converts (keras.layers."
                        f"{{{', '.join(sorted(_LAYERS))}}}), Keras models, and Keras' "
                        "standard initializers, regularizers, constraints, dtype policies, "
                        "optimizers, losses and metrics")
            stack.extend((v, f"{where}.{k}") for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, f"{where}[{i}]") for i, v in enumerate(node))


def _read_archive(path: Path) -> tuple[Any, bytes]:
    """config.json (parsed and checked) and the weights of a .keras archive, read as data."""
    with open_checked(path, "a Keras 3 .keras file (a zip archive)", MAX_KERAS_BYTES) as f:
        try:
            z = zipfile.ZipFile(f)
        except (zipfile.BadZipFile, OSError, ValueError) as err:
            raise ValueError(f"{path} is not a Keras 3 .keras file (not a zip archive: "
                             f"{err})") from None
        with z:
            infos = z.infolist()
            if len(infos) > MAX_KERAS_MEMBERS:
                raise ValueError(f"{path}: the archive holds {len(infos)} members, over the "
                                 f"limit {MAX_KERAS_MEMBERS} (a Keras model file holds 3)")
            inflated = sum(i.file_size for i in infos)
            if inflated > MAX_KERAS_BYTES:
                raise ValueError(f"{path}: the archive inflates to {inflated:,} bytes, over the "
                                 f"{MAX_KERAS_BYTES:,}-byte limit (a zip bomb?)")
            names = {i.filename: i for i in infos}
            for member in ("config.json", "model.weights.h5"):
                if member not in names:
                    raise ValueError(f"{path} is not a Keras 3 .keras file (no {member} in "
                                     f"the archive; it holds {sorted(names)[:5]})")
            if names["config.json"].file_size > MAX_JSON_BYTES:
                raise ValueError(f"{path}: config.json inflates to "
                                 f"{names['config.json'].file_size:,} bytes, over the "
                                 f"{MAX_JSON_BYTES:,}-byte limit for a config")
            try:
                config = json.loads(z.read("config.json"))
                check_keras_config(config, str(path))
                weights = z.read("model.weights.h5")
            except (zipfile.BadZipFile, json.JSONDecodeError, UnicodeDecodeError,
                    RecursionError, OSError, EOFError, NotImplementedError) as err:
                raise ValueError(f"{path} is not a Keras 3 .keras file ({err})") from None
    return config, weights


# ---------------------------------------------------------------- config -> rnnkit layers
def _rnn_from_config(cls: str, c: dict[str, Any], input_size: int, alone: bool = False):
    import rnnkit as rk
    if c.get("return_state") and not alone:
        raise _refuse(cls, "return_state=True inside a Sequential has no rnnkit twin")
    if cls != "SimpleRNN":
        if c.get("activation", "tanh") != "tanh" or c.get("recurrent_activation",
                                                           "sigmoid") != "sigmoid":
            raise _refuse(cls, f"activation={c.get('activation')!r}, recurrent_activation="
                          f"{c.get('recurrent_activation')!r}: rnnkit's cells use tanh and "
                          "sigmoid")
    common = dict(use_bias=c.get("use_bias", True), input_size=input_size,
                  return_sequences=c.get("return_sequences", False),
                  return_state=bool(c.get("return_state", False)) and alone,
                  go_backwards=c.get("go_backwards", False), stateful=c.get("stateful", False),
                  dropout=c.get("dropout", 0.0), recurrent_dropout=c.get("recurrent_dropout", 0.0))
    units = check_size("units", c.get("units"), f"Keras {cls}")
    if cls == "SimpleRNN":
        act = c.get("activation", "tanh")
        if act not in ("tanh", "relu", "sigmoid", "linear"):
            raise _refuse(cls, f"activation={act!r} has no rnnkit twin")
        return rk.SimpleRNN(units, activation=act, **common)
    if cls == "LSTM":
        return rk.LSTM(units, unit_forget_bias=c.get("unit_forget_bias", True), **common)
    return rk.GRU(units, reset_after=c.get("reset_after", True), **common)


def from_keras_config(layers: list[dict[str, Any]], weights: list[list[np.ndarray]]):
    """rnnkit layers for Keras layer configs (class_name + config) and their weight lists."""
    import rnnkit as rk
    out: list[nn.Module] = []
    size: int | None = None                       # features entering the next layer
    for spec, arrays in zip(layers, weights):
        cls, c = spec["class_name"], spec.get("config", {})
        if cls == "InputLayer":
            shape = c.get("batch_shape") or c.get("batch_input_shape")
            size = shape[-1] if shape and len(shape) == 3 else None
            continue
        if cls == "Masking":
            out.append(rk.Masking(c.get("mask_value", 0.0)))
        elif cls == "Dropout":
            out.append(rk.Dropout(c.get("rate", 0.0)))
        elif cls == "Embedding":
            emb = rk.Embedding(check_size("input_dim", c.get("input_dim"), "Keras Embedding"),
                               check_size("output_dim", c.get("output_dim"), "Keras Embedding"),
                               mask_zero=c.get("mask_zero", False))
            assign(emb, {"weight": arrays[0]}, "Embedding")
            out.append(emb)
            size = emb.output_dim
        elif cls in ("Dense", "TimeDistributed"):
            if cls == "TimeDistributed":
                inner = c["layer"]
                if inner["class_name"] != "Dense":
                    raise _refuse(cls, f"wraps {inner['class_name']}; only Dense converts")
                c = inner["config"]
            act = c.get("activation", "linear")
            dense = rk.Dense(check_size("units", c.get("units"), "Keras Dense"), activation=act,
                             use_bias=c.get("use_bias", True), input_size=arrays[0].shape[0])
            named = {"weight": arrays[0].T}
            if dense.bias is not None:
                named["bias"] = arrays[1]
            assign(dense, named, "Dense")
            out.append(dense)
            size = dense.units
        elif cls in _RNN_CLASSES:
            layer = _rnn_from_config(cls, c, arrays[0].shape[0])
            assign(layer.cell, from_keras_arrays(layer.cell, arrays), cls)
            out.append(layer)
            size = layer.units
        elif cls == "Bidirectional":
            inner = c["layer"]
            if inner["class_name"] not in _RNN_CLASSES:
                raise _refuse(cls, f"wraps {inner['class_name']}")
            half = len(arrays) // 2
            fwd = _rnn_from_config(inner["class_name"], inner["config"], arrays[0].shape[0])
            bi = rk.Bidirectional(fwd, merge_mode=c.get("merge_mode", "concat"))
            assign(bi.forward_layer.cell, from_keras_arrays(fwd.cell, arrays[:half]), cls)
            assign(bi.backward_layer.cell,
                   from_keras_arrays(bi.backward_layer.cell, arrays[half:]), cls)
            out.append(bi)
            size = fwd.units * (2 if bi.merge_mode == "concat" else 1)
        else:
            raise _refuse(cls, "has no rnnkit twin (supported: InputLayer, Masking, SimpleRNN, "
                          "LSTM, GRU, Bidirectional, Embedding, Dense, TimeDistributed(Dense), "
                          "Dropout)")
    del size
    if not out:
        raise ValueError("the Keras model has no layers to convert")
    return out


# ---------------------------------------------------------------- objects
def _keras_layer_spec(layer) -> dict[str, Any]:
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def from_keras(obj):
    """An rnnkit Sequential (or one layer, for a single Keras layer) with the same weights.
    A single recurrent layer keeps ``return_state``, so its final states can be compared."""
    import rnnkit as rk
    if not (callable(getattr(obj, "get_config", None))
            and callable(getattr(obj, "get_weights", None))):
        raise TypeError(f"from_keras converts a Keras model or layer (keras.Sequential, "
                        f"keras.layers.LSTM, ...), got {type(obj).__name__}; for a .keras file "
                        "use load_keras(path)")
    if not hasattr(obj, "layers") and type(obj).__name__ in _RNN_CLASSES:
        arrays = [np.asarray(w) for w in obj.get_weights()]
        layer = _rnn_from_config(type(obj).__name__, obj.get_config(), arrays[0].shape[0],
                                 alone=True)
        assign(layer.cell, from_keras_arrays(layer.cell, arrays), type(obj).__name__)
        return layer
    layers = list(obj.layers) if hasattr(obj, "layers") else [obj]
    specs = [_keras_layer_spec(m) for m in layers]
    built = from_keras_config(specs, [[np.asarray(w) for w in m.get_weights()] for m in layers])
    return built[0] if not hasattr(obj, "layers") and len(built) == 1 else rk.Sequential(built)


# ---------------------------------------------------------------- files
def _h5_arrays(group) -> list[np.ndarray]:
    """Keras 3's weight order within a layer group: vars/0, vars/1, ... (cell/ for RNNs)."""
    if "cell" in group:
        group = group["cell"]
    if "vars" not in group:
        return []
    v = group["vars"]
    return [np.asarray(v[str(i)]) for i in range(len(v))]


def _snake(name: str) -> str:
    """Keras' group name for a class: SimpleRNN -> simple_rnn, TimeDistributed -> ..."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


class _Keys:
    """Keras 3 names a Sequential's weight groups by class, counting repeats in order:
    lstm, lstm_1, dense, ... (not by the layers' own names)."""

    def __init__(self):
        self.seen: dict[str, int] = {}

    def next(self, class_name: str) -> str:
        base = _snake(class_name)
        n = self.seen.get(base, 0)
        self.seen[base] = n + 1
        return base if n == 0 else f"{base}_{n}"


def _group_arrays(g, class_name: str) -> list[np.ndarray]:
    if class_name == "Bidirectional":
        return _h5_arrays(g["forward_layer"]) + _h5_arrays(g["backward_layer"])
    if class_name == "TimeDistributed":
        return _h5_arrays(g["layer"])
    return _h5_arrays(g)


def _root(h5):
    return h5["layers"] if "layers" in h5 else h5


def _open_h5(source):
    try:
        import h5py
    except ImportError as err:
        raise ImportError("reading Keras weight files needs h5py: pip install "
                          "'rnnkit[keras]'") from err
    try:
        return h5py.File(source, "r")
    except OSError as err:
        raise ValueError(f"not an HDF5 weights file: {err}") from err


def load_keras(path: str | Path):
    """An rnnkit Sequential from a Keras 3 ``.keras`` file (Sequential models)."""
    import io

    import rnnkit as rk
    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path} does not exist")
    config, weights = _read_archive(path)        # checked before anything else reads it
    if not isinstance(config, dict) or not isinstance(config.get("config"), dict) \
            or not isinstance(config["config"].get("layers"), list):
        raise ValueError(f"{path}: config.json does not describe a Keras model (no "
                         "config.layers list)")
    if config.get("class_name") != "Sequential":
        raise ValueError(f"{path}: only Sequential Keras models convert, this one is "
                         f"{config.get('class_name')!r}")
    specs = config["config"]["layers"]
    for k, spec in enumerate(specs):
        if not isinstance(spec, dict) or not isinstance(spec.get("class_name"), str) \
                or not isinstance(spec.get("config", {}), dict):
            raise ValueError(f"{path}: config.json layers[{k}] is not a Keras layer "
                             "(class_name + config)")
    keys, arrays = _Keys(), []
    with _open_h5(io.BytesIO(weights)) as h5:
        root = _root(h5)
        for spec in specs:
            cls = spec["class_name"]
            if cls == "InputLayer":
                arrays.append([])
                continue
            key = keys.next(cls)
            if key not in root:
                raise ValueError(f"{path}: the weights have no group {key!r} for {cls}")
            arrays.append(_group_arrays(root[key], cls))
    try:
        return rk.Sequential(from_keras_config(specs, arrays))
    except (KeyError, TypeError, IndexError) as err:
        raise ValueError(f"{path}: config.json or the weights are incomplete "
                         f"({type(err).__name__}: {err})") from None


def load_keras_weights(model, path: str | Path) -> None:
    """Load a Keras 3 ``.weights.h5`` into an rnnkit Sequential of the same architecture
    (layers matched in order, by Keras' group names)."""
    import rnnkit as rk
    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path} does not exist")
    _KERAS_CLASS.update({rk.SimpleRNN: "SimpleRNN", rk.LSTM: "LSTM", rk.GRU: "GRU",
                         rk.Bidirectional: "Bidirectional", rk.Dense: "Dense",
                         rk.Embedding: "Embedding", rk.Masking: "Masking",
                         rk.Dropout: "Dropout"})
    keys = _Keys()
    with _open_h5(path) as h5:
        root = _root(h5)
        for m in model.layers:
            cls = _KERAS_CLASS.get(type(m))
            if cls is None:
                raise ValueError(f"{type(m).__name__} has no Keras twin")
            key = keys.next(cls)
            if cls == "Dense" and key not in root:        # a Dense over time in Keras
                cls, key = "TimeDistributed", keys.next("TimeDistributed")
            if cls in ("Masking", "Dropout"):
                continue
            if key not in root:
                raise ValueError(f"{path} has no weights for layer {key!r} ({cls}); it holds "
                                 f"{sorted(root.keys())}")
            a = _group_arrays(root[key], cls)
            if not a:
                raise ValueError(f"{path}: group {key!r} holds no weights")
            for part in ([m.forward_layer, m.backward_layer] if isinstance(m, rk.Bidirectional)
                         else [m]):
                if getattr(part, "built", True) is False:     # lazily built: size from file
                    part.build(a[0].shape[0])
            if isinstance(m, rk.Bidirectional):
                half = len(a) // 2
                assign(m.forward_layer.cell, from_keras_arrays(m.forward_layer.cell, a[:half]),
                       key)
                assign(m.backward_layer.cell,
                       from_keras_arrays(m.backward_layer.cell, a[half:]), key)
            elif isinstance(m, rk.RNN):
                assign(m.cell, from_keras_arrays(m.cell, a), key)
            elif isinstance(m, rk.Embedding):
                assign(m, {"weight": a[0]}, key)
            else:
                assign(m, {"weight": a[0].T, **({"bias": a[1]} if len(a) > 1 else {})}, key)


# ---------------------------------------------------------------- rnnkit -> Keras
def _keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")     # Keras 3 runs on the torch we have
    try:
        import keras
    except ImportError as err:
        raise ImportError("to_keras needs Keras 3: pip install 'rnnkit[keras]'") from err
    return keras


def _keras_rnn(keras, layer, **extra):
    from ..cells.base import describe
    d = describe(layer.cell)                   # the built-in cells' kinds have Keras twins
    kind = d.kind if d is not None else None
    kw = dict(use_bias=layer.cell.use_bias, return_sequences=layer.return_sequences,
              go_backwards=layer.go_backwards, stateful=layer.stateful, dropout=layer.dropout,
              recurrent_dropout=layer.recurrent_dropout, **extra)
    if kind == "simple":
        if layer.cell.activation_name not in ("tanh", "relu", "sigmoid", "linear"):
            raise ValueError(f"SimpleRNN(activation={layer.cell.activation_name!r}) has no "
                             "Keras twin")
        return keras.layers.SimpleRNN(layer.cell.hidden_size,
                                      activation=layer.cell.activation_name, **kw)
    if kind == "lstm":
        return keras.layers.LSTM(layer.cell.hidden_size, **kw)
    if kind in ("gru", "gru_before"):
        return keras.layers.GRU(layer.cell.hidden_size, reset_after=layer.cell.reset_after, **kw)
    raise ValueError(f"{type(layer.cell).__name__} has no Keras twin")


def to_keras(model):
    """A Keras 3 Sequential with the same architecture and weights as an rnnkit one."""
    import rnnkit as rk
    keras = _keras()
    layers = list(model.layers) if isinstance(model, rk.Sequential) else [model]
    first = layers[0]
    if isinstance(first, rk.Embedding):
        inputs = keras.Input((None,), dtype="int32")
    else:
        f = first.forward_layer if isinstance(first, rk.Bidirectional) else first
        size = getattr(f, "input_size", None)
        if isinstance(f, rk.Masking):
            nxt = layers[1].forward_layer if isinstance(layers[1], rk.Bidirectional) \
                else layers[1]
            size = getattr(nxt, "input_size", None)
        if size is None:
            raise ValueError("build the model first (call it on data) so its input size is known")
        inputs = keras.Input((None, size))
    if any(getattr(m, "built", True) is False for m in model.modules()):
        dummy = torch.ones(1, 2, dtype=torch.long) if isinstance(first, rk.Embedding) else \
            torch.zeros(1, 2, size, dtype=next(model.parameters()).dtype)
        was = model.training
        with torch.no_grad():
            model.eval()(dummy)                   # lazily built layers learn their sizes
        model.train(was)
    out, pending = [], []
    for m in layers:
        if isinstance(m, rk.Masking):
            out.append(keras.layers.Masking(m.mask_value))
        elif isinstance(m, rk.Dropout):
            out.append(keras.layers.Dropout(m.p))
        elif isinstance(m, rk.Embedding):
            k = keras.layers.Embedding(m.input_dim, m.output_dim, mask_zero=m.mask_zero)
            out.append(k)
            pending.append((k, [m.weight.detach().cpu().numpy()]))
        elif isinstance(m, rk.Dense):
            k = keras.layers.Dense(m.units, activation=m.activation, use_bias=m.bias is not None)
            out.append(k)
            pending.append((k, [m.weight.detach().cpu().numpy().T] + (
                [m.bias.detach().cpu().numpy()] if m.bias is not None else [])))
        elif isinstance(m, rk.Bidirectional):
            if m.merge_mode is None:
                raise ValueError("Bidirectional(merge_mode=None) returns two tensors; no "
                                 "Keras Sequential twin")
            k = keras.layers.Bidirectional(_keras_rnn(keras, m.forward_layer),
                                           merge_mode=m.merge_mode)
            out.append(k)
            pending.append((k, to_keras_arrays(m.forward_layer.cell)
                            + to_keras_arrays(m.backward_layer.cell)))
        elif isinstance(m, rk.RNN):
            k = _keras_rnn(keras, m)
            out.append(k)
            pending.append((k, to_keras_arrays(m.cell)))
        else:
            raise ValueError(f"{type(m).__name__} has no Keras twin")
    kmodel = keras.Sequential([inputs, *out])
    for k, arrays in pending:
        k.set_weights(arrays)
    return kmodel


def save_keras(model, path: str | Path) -> Path:
    """Write an rnnkit model as a Keras 3 ``.keras`` file (or ``.weights.h5``)."""
    path = Path(path)
    kmodel = to_keras(model)
    if path.name.endswith(".weights.h5"):
        kmodel.save_weights(path)
    elif path.suffix == ".keras":
        kmodel.save(path)
    else:
        raise ValueError(f"{path}: use a .keras or .weights.h5 file name")
    return path


def _np_out(a) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a.detach().cpu() if hasattr(a, "detach") else a))


def parity(keras_model, rk_model, *, batch: int = 3, steps: int = 7, seed: int = 0,
           vocab: int | None = None) -> dict[str, float]:
    """Largest absolute difference on one random batch, for the output and (for a single
    recurrent layer with ``return_state``) each final state; token ids when the model
    starts with an Embedding (pass ``vocab``)."""
    import rnnkit as rk
    g = torch.Generator().manual_seed(seed)
    if isinstance(rk_model, rk.RNN):                       # a single layer: states too
        x = torch.randn(batch, steps, rk_model.input_size, generator=g)
        rk_model.eval()
        with torch.no_grad():
            ours = rk_model(x)
        theirs = keras_model(x.numpy(), training=False)
        ours = ours if isinstance(ours, tuple) else (ours,)
        theirs = theirs if isinstance(theirs, (tuple, list)) else (theirs,)
        names = ["output", "h", "c"][:len(ours)]
        return {n: float((_np_out(t).double() - o.double()).abs().max())
                for n, o, t in zip(names, ours, theirs)}
    first = rk_model.layers[0] if isinstance(rk_model, rk.Sequential) else rk_model
    if isinstance(first, rk.Embedding):
        x = torch.randint(1, vocab or first.input_dim, (batch, steps), generator=g)
        x[0, steps // 2:] = 0                       # some padding
    else:
        size = keras_model.inputs[0].shape[-1]
        x = torch.randn(batch, steps, size, generator=g)
    rk_model.eval()
    with torch.no_grad():
        ours = rk_model(x)
    theirs = keras_model(x.numpy(), training=False)
    theirs = torch.as_tensor(np.asarray(theirs.detach().cpu() if hasattr(theirs, "detach")
                                        else theirs))
    if theirs.shape != ours.shape:
        raise ValueError(f"outputs differ in shape: Keras {tuple(theirs.shape)}, rnnkit "
                         f"{tuple(ours.shape)}")
    return {"output": float((theirs.double() - ours.double()).abs().max())}
