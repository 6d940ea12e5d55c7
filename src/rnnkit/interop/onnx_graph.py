r"""Assemble an rnnkit model as one ONNX graph, layer by layer, with ``onnx.helper``.

Why assemble rather than export the whole model with torch: torch 2.13's default exporter
(``dynamo=True``, through ``torch.export``) needs onnxscript, and like the legacy
TorchScript exporter it unrolls a Python time loop for the example's sequence length;
only torch's own kernels (``nn.LSTM``/``GRU``/``RNN``) become ONNX recurrent ops, and they
have no reset-before GRU, no sigmoid or linear RNN, no LayerNorm-LSTM.  Here each
recurrent layer becomes one node whose time axis is dynamic:

    built-in cell with an ONNX twin   ONNX RNN / LSTM / GRU (sequence_lens = lengths)
        SimpleRNN tanh|relu|sigmoid|linear    RNN, activations Tanh|Relu|Sigmoid|Affine(1, 0)
        LSTM                                  LSTM, gates i o f c (rnnkit i f g o)
        GRU reset_after=True / False          GRU, gates z r h, linear_before_reset 1 / 0
    any other cell (LayerNorm-LSTM, a custom activation, a user's cell)
                                      Scan over the cell's one-step graph: the step is
                                      traced once (it has no time axis), Scan runs it T times

Padding follows ``layers.recurrent``: a masked step keeps the state and outputs zeros;
``go_backwards`` reverses each sequence within its real span (``ReverseSequence``).
A mask computed inside the model (``Masking``, ``Embedding(mask_zero=True)``) may have
gaps, so its recurrent layers run as Scan, which applies any mask step by step.

Dense, Dropout, Embedding, Masking and MeanOverTime are written out here (a few nodes
each); any other module is traced on its own and spliced in, its names prefixed.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ..types import LSTMState, tree_leaves, tree_map
from .layouts import GATES, cell_kind, reorder

__all__ = ["ONNX_GATES", "ONNX_ACTIVATIONS", "LayerRecord", "Plan", "build", "state_leaf_names",
           "state_template"]

# ONNX's gate packing in rnnkit's gate names (ONNX's LSTM c is g, its GRU h is n); from the
# operator specs: LSTM "iofc", GRU "zrh".  (A candidate for layouts.GATES.)
ONNX_GATES = {"simple": ("h",), "lstm": ("i", "o", "f", "g"), "gru": ("z", "r", "n"),
              "gru_before": ("z", "r", "n")}
_OPS = {"simple": "RNN", "lstm": "LSTM", "gru": "GRU", "gru_before": "GRU"}
# rnnkit activation -> ONNX RNN activation (name, alpha, beta); Affine(1, 0) is the identity
ONNX_ACTIVATIONS = {"tanh": ("Tanh", None, None), "relu": ("Relu", None, None),
                    "sigmoid": ("Sigmoid", None, None), "linear": ("Affine", 1.0, 0.0)}
IR_VERSION = 9          # onnxruntime 1.17+ reads it; every opset in 9..20 fits it


@dataclass(frozen=True)
class LayerRecord:
    """How one layer was written: its index, class, the ONNX op(s) and why."""
    index: int
    layer: str
    op: str
    reason: str


@dataclass
class Plan:
    """What ``build`` needs to know about the exported interface."""
    state_inputs: bool
    lengths: bool
    opset: int


def _onnx():
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    return onnx, TensorProto, helper, numpy_helper


# ----------------------------------------------------------------------------- states
def state_template(layer, x_t: torch.Tensor) -> Any:
    """The cell's zero state for a batch of ``x_t`` (any pytree of tensors)."""
    from ..layers.recurrent import initial_state_of
    return initial_state_of(layer.cell, x_t)


def state_leaf_names(k: int, template: Any) -> list[str]:
    """h_k, c_k for an LSTM state; h_k for a bare tensor; s_k_j for the leaves of any
    other nesting (a custom cell's state)."""
    if isinstance(template, LSTMState):
        return [f"h_{k}", f"c_{k}"]
    if isinstance(template, torch.Tensor):
        return [f"h_{k}"]
    return [f"s_{k}_{j}" for j in range(len(tree_leaves(template)))]


def _unflatten(structure: Any, leaves: list) -> Any:
    it = iter(leaves)
    return tree_map(lambda _: next(it), structure)


class _Step(nn.Module):
    """cell(x_t, state) with the state as flat leaves: what the Scan body runs."""

    def __init__(self, cell: nn.Module, structure: Any):
        super().__init__()
        self.cell, self.structure = cell, structure

    def forward(self, x_t, *leaves):
        y, state = self.cell(x_t, _unflatten(self.structure, list(leaves)))
        return (y, *tree_leaves(state))


class _Traced(nn.Module):
    """A non-recurrent layer with the padding mask passed only where it takes one."""

    def __init__(self, layer: nn.Module, takes_mask: bool):
        super().__init__()
        self.layer, self.takes_mask = layer, takes_mask

    def forward(self, x, mask=None):
        return self.layer(x, mask=mask) if self.takes_mask else self.layer(x)


def _trace(module: nn.Module, args: tuple, names: list[str], outputs: list[str],
           axes: dict, opset: int):
    """One small module traced by torch's TorchScript exporter into an in-memory ONNX
    model (no time loop inside, so tracing fixes nothing that should stay dynamic)."""
    onnx = _onnx()[0]
    buf = io.BytesIO()
    inner = module.cell if isinstance(module, _Step) else module.layer
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")            # the exporter's own chatter
            torch.onnx.export(module, args, buf, input_names=names, output_names=outputs,
                              dynamic_axes=axes, opset_version=opset, dynamo=False)
    except Exception as err:  # noqa: BLE001 -- the exporter's many exception classes
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ValueError(f"torch's ONNX exporter could not trace {type(inner).__name__} "
                         f"(one step, opset {opset}): {first[:300]}") from None
    return onnx.load_from_string(buf.getvalue())


def _verify_step(proto, step: _Step, x_t: torch.Tensor, leaves: list) -> None:
    """Run the traced step on fresh data (another batch size, random state) and compare it
    with the cell: a trace silently freezes Python control flow on values and anything
    computed outside torch (NumPy, .item()), so a wrong step must fail here, not later.
    Skipped when onnxruntime (the same [onnx] extra) is absent."""
    try:
        import onnxruntime as ort
    except ImportError:
        return
    g = torch.Generator().manual_seed(0)
    B = x_t.shape[0] + 2
    args = [torch.randn(B, *a.shape[1:], generator=g, dtype=a.dtype) for a in (x_t, *leaves)]
    with torch.no_grad():
        want = step(*args)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    feed = {i.name: a.numpy() for i, a in zip(session.get_inputs(), args)}
    try:
        got = session.run(None, feed)
        worst = max(float(np.abs(w.numpy() - o).max()) for w, o in zip(want, got))
    except Exception as err:  # noqa: BLE001 -- onnxruntime's own exception classes
        worst, detail = float("inf"), f" ({str(err).splitlines()[0][:200]})"
    else:
        detail = f" (largest difference {worst:.3g})"
    if not worst < 1e-4:
        raise ValueError(f"the traced step of {type(step.cell).__name__} does not reproduce "
                         f"its forward on fresh inputs{detail}: Python control flow on "
                         "tensor values, NumPy or .item() inside forward is frozen by "
                         "tracing; write the step with torch operations only")


def _rename(graph, prefix: str, keep: dict[str, str]) -> None:
    """Prefix every value and node name of ``graph`` (and of its subgraphs), except the
    names in ``keep``, which are mapped to the given outer names."""
    def new(name: str) -> str:
        return name if name == "" else keep.get(name, prefix + name)

    for vi in [*graph.input, *graph.output, *graph.value_info]:
        vi.name = new(vi.name)
    for init in graph.initializer:
        init.name = new(init.name)
    for node in graph.node:
        node.name = prefix + (node.name or node.op_type)
        node.input[:] = [new(n) for n in node.input]
        node.output[:] = [new(n) for n in node.output]
        for attr in node.attribute:
            for sub in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
                _rename(sub, prefix, keep)


# ----------------------------------------------------------------------------- graph
class Graph:
    """Nodes and initializers of the graph being written, with opset-aware helpers."""

    def __init__(self, opset: int):
        _, self.TP, self.helper, self.nh = _onnx()
        self.opset, self.nodes, self.inits, self.count = opset, [], [], 0

    def fresh(self, hint: str) -> str:
        self.count += 1
        return f"{hint}_{self.count}"

    def const(self, value, hint: str = "const", dtype=None) -> str:
        name = self.fresh(hint)
        self.inits.append(self.nh.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(self, op_type: str, inputs: list[str], hint: str | None = None, outputs: int = 1,
           **attrs):
        names = [self.fresh(hint or op_type) for _ in range(outputs)]
        self.nodes.append(self.helper.make_node(op_type, inputs, names,
                                                name=self.fresh(op_type), **attrs))
        return names[0] if outputs == 1 else names

    def unsqueeze(self, x: str, axes: list[int]) -> str:
        if self.opset >= 13:
            return self.op("Unsqueeze", [x, self.const(axes, "axes", np.int64)])
        return self.op("Unsqueeze", [x], axes=axes)

    def squeeze(self, x: str, axes: list[int]) -> str:
        if self.opset >= 13:
            return self.op("Squeeze", [x, self.const(axes, "axes", np.int64)])
        return self.op("Squeeze", [x], axes=axes)

    def reduce(self, op_type: str, x: str, axes: list[int], keepdims: int = 0) -> str:
        """ReduceSum takes its axes as an input from opset 13, the others from 18."""
        if self.opset >= (13 if op_type == "ReduceSum" else 18):
            return self.op(op_type, [x, self.const(axes, "axes", np.int64)], keepdims=keepdims)
        return self.op(op_type, [x], axes=axes, keepdims=keepdims)

    def dim(self, x: str, i: int) -> str:
        """Size of axis ``i`` of ``x`` as a (1,) int64 tensor."""
        return self.op("Gather", [self.op("Shape", [x]), self.const([i], "i", np.int64)])

    def zeros(self, batch_of: str, shape: tuple[int, ...]) -> str:
        """float32 zeros (B, *shape), B taken from axis 0 of ``batch_of``."""
        full = self.op("Concat", [self.dim(batch_of, 0),
                                  self.const(list(shape), "shape", np.int64)], axis=0)
        zero = self.helper.make_tensor("zero", self.TP.FLOAT, [1], [0.0])
        return self.op("ConstantOfShape", [full], value=zero)

    def steps(self, x: str, axis: int = 1) -> str:
        """0, 1, ..., N-1 (N = size of ``axis`` of ``x``) as an (N,) int64 tensor."""
        if self.opset < 11:             # no Range yet: the indices of N ones
            one = self.helper.make_tensor("one", self.TP.INT64, [1], [1])
            ones = self.op("ConstantOfShape", [self.dim(x, axis)], value=one)
            return self.squeeze(self.op("NonZero", [ones]), [0])       # (1, N) -> (N,)
        N = self.squeeze(self.dim(x, axis), [0])
        return self.op("Range", [self.const(0, "zero", np.int64), N,
                                 self.const(1, "one", np.int64)])


@dataclass
class Mask:
    """The padding of the current sequence: right-padding ``lengths`` (B,) int64, or a
    (B, T) bool ``mask`` computed in the graph (which may have gaps), or neither."""
    lengths: str | None = None
    mask: str | None = None

    @property
    def any(self) -> bool:
        return self.lengths is not None or self.mask is not None


def _as_mask(g: Graph, x: str, m: Mask) -> str:
    """The (B, T) bool mask of ``m`` (built from lengths: t < length)."""
    if m.mask is not None:
        return m.mask
    return g.op("Less", [g.unsqueeze(g.steps(x), [0]), g.unsqueeze(m.lengths, [1])])


def _span(g: Graph, x: str, m: Mask) -> str:
    """(B,) int64: 1 + each row's last real step (``reverse_sequences``' span)."""
    if m.lengths is not None:
        return m.lengths
    if m.mask is None:
        return g.op("Expand", [g.dim(x, 1), g.dim(x, 0)])
    at = g.op("Add", [g.steps(x), g.const(1, "one", np.int64)])
    marked = g.op("Where", [m.mask, g.unsqueeze(at, [0]), g.const(0, "zero", np.int64)])
    return g.reduce("ReduceMax", marked, [1])


def _reverse(g: Graph, y: str, span: str, rest: tuple[int, ...]) -> str:
    """Reverse each row of ``y`` (B, T, *rest) within its first ``span`` steps."""
    if g.opset >= 10:
        return g.op("ReverseSequence", [y, span], batch_axis=0, time_axis=1)
    # opset 9: gather row b's step idx[b, t] = span_b - 1 - t (t < span_b) else t
    t = g.unsqueeze(g.steps(y), [0])                                        # (1, T)
    s = g.unsqueeze(span, [1])                                              # (B, 1)
    back = g.op("Sub", [g.op("Sub", [s, g.const(1, "one", np.int64)]), t])
    idx = g.op("Where", [g.op("Less", [t, s]), back, t])                    # (B, T)
    row = g.op("Mul", [g.unsqueeze(g.steps(y, 0), [1]), g.dim(y, 1)])      # (B, 1): b * T
    flat_idx = g.op("Reshape", [g.op("Add", [idx, row]), g.const([-1], "shape", np.int64)])
    flat = g.op("Reshape", [y, g.const([-1, *rest], "shape", np.int64)])    # (B*T, *rest)
    picked = g.op("Gather", [flat, flat_idx], axis=0)
    shape = g.op("Concat", [g.dim(y, 0), g.dim(y, 1), g.const(list(rest), "shape", np.int64)],
                 axis=0)
    return g.op("Reshape", [picked, shape])


# ----------------------------------------------------------------------------- recurrent
def onnx_route(cell) -> tuple[str | None, str]:
    """(kind, why) when the cell has an ONNX recurrent op; (None, why not) otherwise."""
    try:
        kind = cell_kind(cell)
    except ValueError:
        return None, f"{type(cell).__name__} has no ONNX recurrent op"
    if kind == "simple" and cell.activation_name not in ONNX_ACTIVATIONS:
        return None, (f"SimpleRNN activation {cell.activation_name!r} is not one of ONNX RNN's "
                      f"({', '.join(ONNX_ACTIVATIONS)})")
    return kind, f"ONNX's {_OPS[kind]} operator runs this cell"


def _op_layer(g: Graph, layer, x: str, m: Mask, init: list[str] | None, kind: str):
    """One direction of a built-in cell as an ONNX RNN/LSTM/GRU node.

    Returns (y (B, T, H) in input order, last (B, H), state leaves)."""
    cell = layer.cell
    src, dst = GATES["rnnkit", kind], ONNX_GATES[kind]

    def arr(p):
        return p.detach().cpu().numpy().astype(np.float32)

    W = reorder(arr(cell.weight_ih), src, dst, 0)[None]                  # (1, GH, D)
    R = reorder(arr(cell.weight_hh), src, dst, 0)[None]                  # (1, GH, H)
    inputs = [g.op("Transpose", [x], perm=[1, 0, 2]),                    # (B, T, D) -> (T, B, D)
              g.const(W, "W"), g.const(R, "R")]
    if cell.use_bias:
        if kind == "gru":                              # b_hn stays inside r * (...): Rb
            wb, rb = arr(cell.bias_ih), arr(cell.bias_hh)
        else:                                          # one bias: all of it on the input side
            wb = arr(cell.bias)
            rb = np.zeros_like(wb)
        inputs.append(g.const(np.concatenate([reorder(wb, src, dst, 0),
                                              reorder(rb, src, dst, 0)])[None], "B"))
    else:
        inputs.append("")
    inputs.append(g.op("Cast", [m.lengths], to=g.TP.INT32) if m.lengths else "")
    if init is not None:
        inputs += [g.unsqueeze(s, [0]) for s in init]                   # (B, H) -> (1, B, H)
    attrs: dict[str, Any] = {"hidden_size": cell.hidden_size,
                             "direction": "reverse" if layer.go_backwards else "forward"}
    if kind == "simple":
        name, alpha, beta = ONNX_ACTIVATIONS[cell.activation_name]
        attrs["activations"] = [name]
        if alpha is not None:
            attrs["activation_alpha"], attrs["activation_beta"] = [alpha], [beta]
    if kind.startswith("gru"):
        attrs["linear_before_reset"] = int(kind == "gru")
    n_out = 3 if kind == "lstm" else 2
    outs = g.op(_OPS[kind], inputs, hint=_OPS[kind], outputs=n_out, **attrs)
    y = g.op("Transpose", [g.squeeze(outs[0], [1])], perm=[1, 0, 2])   # (T,1,B,H) -> (B,T,H)
    leaves = [g.squeeze(s, [0]) for s in outs[1:]]                     # (1, B, H) -> (B, H)
    return y, leaves[0], leaves


def _scan_body(g: Graph, layer, sample_x: torch.Tensor, masked: bool, prefix: str):
    """The Scan body: the cell's traced step, with the state kept and the output zeroed at
    masked steps.  Body inputs: state leaves, last output, x_t[, m_t]; outputs: new state
    leaves, new last output, y_t."""
    cell, helper, TP = layer.cell, g.helper, g.TP
    x_t = sample_x[:, 0]
    template = state_template(layer, x_t)
    leaves = tree_leaves(template)
    with torch.no_grad():
        y, new = cell(x_t, template)
    if not isinstance(y, torch.Tensor) or len(tree_leaves(new)) != len(leaves):
        raise ValueError(f"{type(cell).__name__}: ONNX export needs a tensor output y_t and a "
                         "state with the same leaves as its initial state")
    n = len(leaves)
    ins, outs = ["x_t"] + [f"s{j}" for j in range(n)], ["y"] + [f"n{j}" for j in range(n)]
    axes = {name: {0: "batch"} for name in ins + outs}
    step = _trace(_Step(cell, template), (x_t, *leaves), ins, outs, axes, g.opset)
    _verify_step(step, _Step(cell, template), x_t, leaves)
    body = step.graph
    _rename(body, prefix, {})
    p = {name: prefix + name for name in ins + outs}
    nodes = list(body.node)

    def info(name, t):
        return helper.make_tensor_value_info(name, TP.FLOAT, ["batch", *t.shape[1:]])

    def node(op_type, inputs, out, **attrs):
        nodes.append(helper.make_node(op_type, inputs, [out], name=out + "_node", **attrs))
        return out

    last_in, m_in = prefix + "last", prefix + "m_t"
    state_out = [prefix + f"state{j}" for j in range(n)]
    last_out, y_out = prefix + "last_next", prefix + "y_t"
    if masked:
        by_rank: dict[int, str] = {}

        def where(cond_for, new_name, old_name, out):
            rank = cond_for.dim()
            if rank not in by_rank:                     # m_t (B,) -> (B, 1, ...) to broadcast
                axes_ = g.const(list(range(1, rank)), prefix + "axes", np.int64)
                by_rank[rank] = node("Unsqueeze", [m_in, axes_], f"{prefix}m{rank}") \
                    if g.opset >= 13 else node("Unsqueeze", [m_in], f"{prefix}m{rank}",
                                               axes=list(range(1, rank)))
            return node("Where", [by_rank[rank], new_name, old_name], out)

        for j, leaf in enumerate(leaves):
            where(leaf, p[f"n{j}"], p[f"s{j}"], state_out[j])
        zero = g.const(np.zeros((), np.float32), prefix + "zero")
        where(y, p["y"], zero, y_out)
        where(y, p["y"], last_in, last_out)
    else:
        for j in range(n):
            node("Identity", [p[f"n{j}"]], state_out[j])
        node("Identity", [p["y"]], y_out)
        node("Identity", [p["y"]], last_out)
    inputs = [info(p[f"s{j}"], leaf) for j, leaf in enumerate(leaves)] + [info(last_in, y)]
    inputs.append(info(p["x_t"], x_t))
    if masked:
        inputs.append(helper.make_tensor_value_info(m_in, TP.BOOL, ["batch"]))
    outputs = [info(state_out[j], leaf) for j, leaf in enumerate(leaves)]
    outputs += [info(last_out, y), info(y_out, y)]
    graph = helper.make_graph(nodes, prefix + "step", inputs, outputs, list(body.initializer))
    return graph, leaves, y


def _scan_layer(g: Graph, layer, x: str, sample_x: torch.Tensor, m: Mask,
                init: list[str] | None, prefix: str):
    """One direction of any cell as a Scan over its step.

    Returns (y (B, T, *out) in processing order, last (B, *out), state leaves, out)."""
    masked = m.any
    body, leaves, y = _scan_body(g, layer, sample_x, masked, prefix)
    if init is None:
        init = [g.zeros(x, tuple(leaf.shape[1:])) for leaf in leaves]
    seq = [x]
    if masked:
        seq.append(_as_mask(g, x, m))
    if layer.go_backwards:            # reverse within each real span; padding stays right
        span = _span(g, x, m)
        rests = [tuple(sample_x.shape[2:]), ()]                 # x (B, T, D), mask (B, T)
        seq = [_reverse(g, s, span, r) for s, r in zip(seq, rests)]
    outs = g.op("Scan", [*init, g.zeros(x, tuple(y.shape[1:])), *seq], hint="scan",
                outputs=len(leaves) + 2, body=body, num_scan_inputs=len(seq),
                scan_input_axes=[1] * len(seq), scan_output_axes=[1])
    return outs[-1], outs[-2], outs[:-2], tuple(y.shape[1:])


def _one_direction(g: Graph, layer, x: str, sample_x: torch.Tensor, m: Mask,
                   init: list[str] | None, prefix: str, want_reversed: bool):
    """Run one RNN direction; ``y`` comes back reversed within the span iff
    ``want_reversed`` (rnnkit's processing order of a go_backwards layer)."""
    kind, why = onnx_route(layer.cell)
    if kind is not None and m.mask is not None:
        kind, why = None, ("the padding mask is computed in the graph (Masking or "
                           "mask_zero) and may have gaps; ONNX's RNN ops take lengths only")
    if kind is not None:
        y, last, leaves = _op_layer(g, layer, x, m, init, kind)
        out = (layer.cell.hidden_size,)
        is_reversed, op = False, f"{_OPS[kind]}" + (" linear_before_reset=0"
                                                   if kind == "gru_before" else "")
        if kind == "simple":
            op += f" ({ONNX_ACTIVATIONS[layer.cell.activation_name][0]})"
    else:
        y, last, leaves, out = _scan_layer(g, layer, x, sample_x, m, init, prefix)
        is_reversed, op = layer.go_backwards, f"Scan over {type(layer.cell).__name__}.forward"
    if is_reversed != want_reversed:
        y = _reverse(g, y, _span(g, x, m), out)
    return y, last, leaves, op, why


# ----------------------------------------------------------------------------- layers
def _dense(g: Graph, layer, x: str, rank: int) -> str:
    w = layer.weight.detach().cpu().numpy().astype(np.float32).T          # (D, U)
    y = g.op("MatMul", [x, g.const(w, "dense_W")])
    if layer.bias is not None:
        y = g.op("Add", [y, g.const(layer.bias.detach().cpu().numpy().astype(np.float32),
                                    "dense_b")])
    act = {"tanh": "Tanh", "relu": "Relu", "sigmoid": "Sigmoid"}.get(layer.activation)
    if act:
        y = g.op(act, [y])
    elif layer.activation == "softmax":
        y = g.op("Softmax", [y], axis=rank - 1)    # the last axis (opset < 11: no negatives)
    return y


def _mean_over_time(g: Graph, x: str, m: Mask) -> str:
    if not m.any:
        return g.reduce("ReduceSum", g.op("Div", [x, g.op("Cast", [g.dim(x, 1)],
                                                          to=g.TP.FLOAT)]), [1])
    w = g.unsqueeze(g.op("Cast", [_as_mask(g, x, m)], to=g.TP.FLOAT), [2])   # (B, T, 1)
    total = g.reduce("ReduceSum", g.op("Mul", [x, w]), [1])
    count = g.op("Max", [g.reduce("ReduceSum", w, [1]), g.const(np.float32(1.0), "one")])
    return g.op("Div", [total, count])


def _merge(g: Graph, mode: str, a: str, b: str, rank: int) -> str:
    if mode == "concat":
        return g.op("Concat", [a, b], axis=rank - 1)
    if mode == "sum":
        return g.op("Add", [a, b])
    if mode == "mul":
        return g.op("Mul", [a, b])
    return g.op("Div", [g.op("Add", [a, b]), g.const(np.float32(2.0), "two")])   # ave


def _spliced(g: Graph, layer, x: str, sample: torch.Tensor, m: Mask, index: int):
    """Any other module: traced alone (with the mask if it takes one) and spliced in."""
    takes = bool(getattr(layer, "takes_mask", False))
    names, args = ["in"], (sample,)
    axes = {"in": {0: "batch", 1: "time"} if sample.dim() >= 2 else {0: "batch"}}
    if takes and m.any:
        names.append("mask")
        args = (sample, torch.ones(sample.shape[:2], dtype=torch.bool))
        axes["mask"] = {0: "batch", 1: "time"}
    with torch.no_grad():
        out = _Traced(layer, takes)(*args)
    if not isinstance(out, torch.Tensor):
        raise ValueError(f"layer {index} ({type(layer).__name__}) returns "
                         f"{type(out).__name__}; ONNX export passes one tensor between layers")
    axes["out"] = {0: "batch", 1: "time"} if out.dim() >= 3 else {0: "batch"}
    model = _trace(_Traced(layer, takes), args, names, ["out"], axes, g.opset)
    prefix = g.fresh(f"L{index}") + "/"
    outer = {"in": x, "out": prefix + "out"}
    if len(names) > 1:
        outer["mask"] = _as_mask(g, x, m)
    _rename(model.graph, prefix, outer)
    g.nodes.extend(model.graph.node)
    g.inits.extend(model.graph.initializer)
    return outer["out"], out


def _refuse_unsupported(model_layers: list) -> None:
    import rnnkit as rk
    for k, layer in enumerate(model_layers):
        if isinstance(layer, rk.Bidirectional):
            if layer.merge_mode is None:
                raise ValueError(f"layer {k}: Bidirectional(merge_mode=None) returns a pair; "
                                 "ONNX export needs one output (use concat, sum, mul or ave)")
            parts = [layer.forward_layer, layer.backward_layer]
        elif isinstance(layer, rk.RNN):
            parts = [layer]
        else:
            continue
        for part in parts:
            if part.cell is None:
                raise ValueError(f"layer {k} ({type(layer).__name__}) is not built: call the "
                                 "model on data first so its input size is known")


class _Writer:
    """Writes layers in order onto one graph; ``x`` is the current value's name, ``m``
    the padding that flows with it (as ``Sequential`` carries its mask)."""

    def __init__(self, g: Graph, plan: Plan, state_names: list[list[str]]):
        self.g, self.plan, self.state_names = g, plan, state_names
        self.inputs, self.outputs, self.records, self.k = [], [], [], 0
        self.x, self.m = "x", Mask(lengths="lengths") if plan.lengths else Mask()

    def record(self, index, layer, op, why):
        self.records.append(LayerRecord(index, type(layer).__name__, op, why))

    def rnn(self, index, layer, cur, nxt):
        g, helper, TP = self.g, self.g.helper, self.g.TP
        names, init = self.state_names[self.k], None
        template = tree_leaves(state_template(layer, cur[:, 0]))
        if self.plan.state_inputs:
            init = [f"{name}_in" for name in names]
            self.inputs += [helper.make_tensor_value_info(n, TP.FLOAT, ["batch", *t.shape[1:]])
                            for n, t in zip(init, template)]
        y, last, leaves, op, why = _one_direction(g, layer, self.x, cur, self.m, init,
                                                  f"L{index}/", layer.go_backwards)
        for name, leaf, t in zip(names, leaves, template):
            g.nodes.append(helper.make_node("Identity", [leaf], [name]))
            self.outputs.append(helper.make_tensor_value_info(name, TP.FLOAT,
                                                              ["batch", *t.shape[1:]]))
        self.x = y if layer.return_sequences else last
        self.m = self.m if layer.return_sequences else Mask()
        self.k += 1
        self.record(index, layer, op, why)

    def bidirectional(self, index, layer, cur, nxt):
        f, b, g = layer.forward_layer, layer.backward_layer, self.g
        # rnnkit merges the forward output as run and the backward one put back in input
        # order, i.e. reversed relative to its own processing order
        y_f, last_f, _, op_f, why = _one_direction(g, f, self.x, cur, self.m, None,
                                                   f"L{index}f/", f.go_backwards)
        y_b, last_b, _, op_b, _ = _one_direction(g, b, self.x, cur, self.m, None,
                                                 f"L{index}b/", not b.go_backwards)
        seq = layer.return_sequences
        self.x = _merge(g, layer.merge_mode, y_f if seq else last_f, y_b if seq else last_b,
                        nxt.dim())
        self.m = self.m if seq else Mask()
        self.record(index, layer, f"forward {op_f}; backward {op_b}; merged by "
                    f"{layer.merge_mode}", why)

    def dropout(self, index, layer, cur, nxt):
        self.record(index, layer, "(none)", "identity at inference")

    def dense(self, index, layer, cur, nxt):
        self.x = _dense(self.g, layer, self.x, nxt.dim())
        self.record(index, layer, "MatMul, Add", "written out")

    def embedding(self, index, layer, cur, nxt):
        g, ids = self.g, self.x
        weight = layer.weight.detach().cpu().numpy().astype(np.float32)
        self.x = g.op("Gather", [g.const(weight, "embedding"), ids], axis=0)
        if layer.mask_zero:     # as Embedding.compute_mask: ids != 0 replaces any mask
            self.m = Mask(mask=g.op("Not", [g.op("Equal", [ids, g.const(0, "zero",
                                                                         np.int64)])]))
        self.record(index, layer, "Gather", "written out")

    def masking(self, index, layer, cur, nxt):
        g, x = self.g, self.x
        value = g.const(np.float32(layer.mask_value), "mask_value")
        if g.opset >= 11:
            differs = g.op("Not", [g.op("Equal", [x, value])])
        else:                                          # Equal takes floats from opset 11
            differs = g.op("Greater", [g.op("Abs", [g.op("Sub", [x, value])]),
                                       g.const(np.float32(0.0), "zero")])
        count = g.reduce("ReduceSum", g.op("Cast", [differs], to=g.TP.FLOAT), [2])
        keep = g.op("Greater", [count, g.const(np.float32(0.0), "zero")])      # (B, T)
        self.x = g.op("Mul", [x, g.unsqueeze(g.op("Cast", [keep], to=g.TP.FLOAT), [2])])
        self.m = Mask(mask=g.op("And", [keep, _as_mask(g, x, self.m)]) if self.m.any
                      else keep)
        self.record(index, layer, "Equal, ReduceSum, Mul", "written out")

    def mean_over_time(self, index, layer, cur, nxt):
        self.x, self.m = _mean_over_time(self.g, self.x, self.m), Mask()
        self.record(index, layer, "ReduceSum, Div", "written out")

    def other(self, index, layer, cur, nxt):
        self.x, _ = _spliced(self.g, layer, self.x, cur, self.m, index)
        if hasattr(layer, "compute_mask"):
            ones = torch.ones(cur.shape[:2], dtype=torch.bool)
            if self.m.any and layer.compute_mask(cur, ones) is None:
                self.m = Mask()
        elif not (nxt.dim() >= 2 and nxt.shape[:2] == cur.shape[:2]):
            self.m = Mask()          # as Sequential: the mask survives (B, T, ...) outputs
        self.record(index, layer, "traced", "no rnnkit ONNX writer: torch's exporter traced "
                    "it alone")


def build(model_layers: list, sample: torch.Tensor, plan: Plan, names: dict[str, Any]):
    """The ONNX ModelProto of ``model_layers`` and a LayerRecord per layer.

    ``sample`` is an example input (B, T, D) floats or (B, T) ids; ``names`` gives the
    state output names: {"states": [[leaf names of one-way layer 0], ...]}.
    """
    import rnnkit as rk
    onnx, TP, helper, _ = _onnx()
    _refuse_unsupported(model_layers)
    writers = [(rk.RNN, "rnn"), (rk.Bidirectional, "bidirectional"), (rk.Dropout, "dropout"),
               (rk.Dense, "dense"), (rk.Embedding, "embedding"), (rk.Masking, "masking"),
               (rk.MeanOverTime, "mean_over_time")]
    w = _Writer(Graph(plan.opset), plan, names["states"])
    ids = not sample.is_floating_point()
    w.inputs.append(helper.make_tensor_value_info(
        "x", TP.INT64 if ids else TP.FLOAT, ["batch", "time", *sample.shape[2:]]))
    if plan.lengths:
        w.inputs.append(helper.make_tensor_value_info("lengths", TP.INT64, ["batch"]))
    cur = sample
    for index, layer in enumerate(model_layers):
        with torch.no_grad():
            nxt = layer(cur)                                # shapes, and samples for tracing
        method = next((name for cls, name in writers if isinstance(layer, cls)), "other")
        getattr(w, method)(index, layer, cur, nxt)
        cur = nxt
    w.g.nodes.append(helper.make_node("Identity", [w.x], ["y"]))
    y_shape = ["batch", "time", *cur.shape[2:]] if cur.dim() >= 3 else ["batch", *cur.shape[1:]]
    w.outputs.insert(0, helper.make_tensor_value_info("y", TP.FLOAT, y_shape))
    graph = helper.make_graph(w.g.nodes, "rnnkit", w.inputs, w.outputs, w.g.inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", plan.opset)],
                              ir_version=IR_VERSION, producer_name="rnnkit")
    onnx.checker.check_model(proto)
    return proto, w.records
