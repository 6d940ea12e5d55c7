"""ONNX export of every cell kind: built-in cells as ONNX's own RNN/LSTM/GRU operators,
LayerNorm-LSTM, custom activations and a user's cell as a Scan over the cell's step, one-way
and bidirectional.  onnxruntime must equal PyTorch at two sequence lengths that differ from
the export example's (T = 5), with full and with padded sequences, to < 1e-5."""

import os

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import rnnkit as rk
from rnnkit.interop.onnx import check, export, read_report

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")


class LeakyCell(rk.RecurrentCell):
    r"""A user's cell with a dict state and an output that is not its state:
        fast' = tanh(W x + U fast),  slow' = 0.9 slow + 0.1 fast',  y = fast' - slow'
    """

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.W = nn.Linear(input_size, hidden_size)
        self.U = nn.Linear(hidden_size, hidden_size, bias=False)

    @property
    def state_size(self):
        return {"fast": self.hidden_size, "slow": self.hidden_size}

    @property
    def output_size(self):
        return self.hidden_size

    def reset_parameters(self):
        self.W.reset_parameters()
        self.U.reset_parameters()

    def forward(self, x, state=None):
        state = self.initial_state(x) if state is None else state
        fast = torch.tanh(self.W(x) + self.U(state["fast"]))
        slow = 0.9 * state["slow"] + 0.1 * fast
        return fast - slow, {"fast": fast, "slow": slow}


def _layer(kind, units, input_size, **kw):
    """One recurrent layer of ``kind`` (the ONNX route is in the name's second part)."""
    if kind.startswith("simple-"):
        act = kind.split("-", 1)[1]
        act = F.softsign if act == "softsign" else act
        return rk.SimpleRNN(units, activation=act, input_size=input_size, **kw)
    if kind == "lstm":
        return rk.LSTM(units, input_size=input_size, **kw)
    if kind == "gru-after":
        return rk.GRU(units, input_size=input_size, **kw)
    if kind == "gru-before":
        return rk.GRU(units, reset_after=False, input_size=input_size, **kw)
    if kind == "lnlstm":
        return rk.LayerNormLSTM(units, input_size=input_size, **kw)
    return rk.RNN(LeakyCell(input_size, units), **kw)


# kind -> the recurrent op the file must hold (never an unrolled loop)
KINDS = {"simple-tanh": "RNN", "simple-relu": "RNN", "simple-sigmoid": "RNN",
         "simple-linear": "RNN", "simple-softsign": "Scan", "lstm": "LSTM",
         "gru-after": "GRU", "gru-before": "GRU", "lnlstm": "Scan", "custom": "Scan"}


def _randomize(model, seed):
    """Weights away from the initialisers (non-zero biases, LN gains) so every term counts;
    recurrent matrices scaled to spectral norm 0.8 so relu and linear cells stay bounded
    and 1e-5 stays an absolute test."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=g))
            if name.endswith(("weight_hh", "U.weight")):
                H = p.shape[1]
                for block in p.split(H):              # each gate's (H, H) block
                    block.mul_(0.8 / torch.linalg.matrix_norm(block, 2))
    return model


def _one_way(kind):
    """Two one-way layers (the second reads backwards and returns its last step) + Dense."""
    return rk.Sequential([_layer(kind, 5, 3, return_sequences=True),
                          _layer(kind, 4, 5, go_backwards=True), rk.Dense(2)])


def _bidirectional(kind):
    return rk.Sequential([rk.Bidirectional(_layer(kind, 4, 3, return_sequences=True)),
                          rk.Bidirectional(_layer(kind, 3, 8), merge_mode="ave")])


def _ops(path):
    return [n.op_type for n in onnx.load(str(path)).graph.node]


@pytest.mark.parametrize("direction", ["one-way", "bidirectional"])
@pytest.mark.parametrize("kind", KINDS)
def test_every_cell_kind_matches_onnxruntime_at_two_lengths(kind, direction, tmp_path):
    torch.manual_seed(0)
    model = _randomize((_one_way if direction == "one-way" else _bidirectional)(kind), 1)
    path = export(model, tmp_path / "m.onnx")
    ops = _ops(path)
    assert ops.count(KINDS[kind]) == (2 if direction == "one-way" else 4), ops
    report = check(model, path, lengths=(3, 11))        # export example: T = 5
    assert {"y", "y masked"} <= set(report)
    assert max(report.values()) < 1e-5, report
    meta = read_report(path)
    if direction == "one-way":
        assert meta.state_inputs and {"h_0_in", "s_0_0_in"} & set(meta.inputs)
    else:
        assert not meta.state_inputs and "Bidirectional" in meta.state_note
        assert meta.inputs == ("x", "lengths")


def test_onnx_gate_orders_and_gru_forms_are_the_operators_own(tmp_path):
    """Golden check without rnnkit on the ONNX side: the weights in the file, read in ONNX's
    gate orders (LSTM i o f c, GRU z r h) and run through the ONNX formulas in NumPy,
    give rnnkit's outputs; and GRU's linear_before_reset is 1 for reset_after, else 0."""
    torch.manual_seed(3)
    x = torch.randn(2, 4, 3)
    for reset_after in (True, False):
        layer = _randomize(rk.GRU(5, input_size=3, reset_after=reset_after,
                                  return_sequences=True), 2)
        path = export(layer, tmp_path / "g.onnx", state_inputs=False, lengths=False)
        proto = onnx.load(str(path))
        node = next(n for n in proto.graph.node if n.op_type == "GRU")
        lbr = next(a.i for a in node.attribute if a.name == "linear_before_reset")
        assert lbr == int(reset_after)
        inits = {i.name: onnx.numpy_helper.to_array(i) for i in proto.graph.initializer}
        W, R, B = (inits[name][0] for name in node.input[1:4])
        Wz, Wr, Wh = np.split(W, 3)
        Rz, Rr, Rh = np.split(R, 3)
        Wbz, Wbr, Wbh, Rbz, Rbr, Rbh = np.split(B, 6)
        h = np.zeros((2, 5), np.float32)
        sig = lambda a: 1 / (1 + np.exp(-a))                           # noqa: E731
        for t in range(4):
            xt = x[:, t].numpy()
            z = sig(xt @ Wz.T + h @ Rz.T + Wbz + Rbz)
            r = sig(xt @ Wr.T + h @ Rr.T + Wbr + Rbr)
            if lbr:
                n = np.tanh(xt @ Wh.T + r * (h @ Rh.T + Rbh) + Wbh)
            else:
                n = np.tanh(xt @ Wh.T + (r * h) @ Rh.T + Rbh + Wbh)
            h = (1 - z) * n + z * h
        with torch.no_grad():
            np.testing.assert_allclose(h, layer(x)[:, -1].numpy(), atol=1e-5)
    lstm = _randomize(rk.LSTM(4, input_size=3), 4)
    proto = onnx.load(str(export(lstm, tmp_path / "l.onnx", state_inputs=False, lengths=False)))
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in proto.graph.initializer}
    node = next(n for n in proto.graph.node if n.op_type == "LSTM")
    W, R, B = (inits[name][0] for name in node.input[1:4])
    h = c = np.zeros((2, 4), np.float32)
    for t in range(4):
        gates = x[:, t].numpy() @ W.T + h @ R.T + B[:16] + B[16:]
        i, o, f, g = np.split(gates, 4, axis=1)                          # ONNX: i o f c
        sig = lambda a: 1 / (1 + np.exp(-a))                           # noqa: E731
        c = sig(f) * c + sig(i) * np.tanh(g)
        h = sig(o) * np.tanh(c)
    with torch.no_grad():
        np.testing.assert_allclose(h, lstm(x).numpy(), atol=1e-5)


@pytest.mark.parametrize("kind", ["gru-before", "lnlstm", "custom"])
def test_a_padded_sequence_equals_itself_alone_in_onnxruntime(kind, tmp_path):
    torch.manual_seed(2)
    model = _randomize(_bidirectional(kind), 5)
    session = ort.InferenceSession(str(export(model, tmp_path / "p.onnx")))
    x = torch.randn(2, 9, 3)
    padded = session.run(["y"], {"x": x.numpy(), "lengths": np.array([9, 4])})[0]
    alone = session.run(["y"], {"x": x[1:, :4].numpy(), "lengths": np.array([4])})[0]
    np.testing.assert_allclose(padded[1], alone[0], atol=1e-5)
    full = session.run(["y"], {"x": x.numpy(), "lengths": np.array([9, 9])})[0]
    assert np.abs(full[1] - padded[1]).max() > 1e-3            # the padding did matter


def test_streaming_a_custom_cell_through_its_exported_state(tmp_path):
    torch.manual_seed(4)
    model = rk.RNN(LeakyCell(2, 3), return_sequences=True)
    path = export(model, tmp_path / "s.onnx")
    session = ort.InferenceSession(str(path))
    assert [o.name for o in session.get_outputs()] == ["y", "s_0_0", "s_0_1"]
    x = torch.randn(1, 10, 2)
    s0 = s1 = np.zeros((1, 3), np.float32)
    parts = []
    for chunk in (x[:, :3], x[:, 3:]):
        y, s0, s1 = session.run(None, {"x": chunk.numpy(), "lengths": [chunk.shape[1]],
                                       "s_0_0_in": s0, "s_0_1_in": s1})
        parts.append(y)
    with torch.no_grad():
        np.testing.assert_allclose(np.concatenate(parts, 1), model(x).numpy(), atol=1e-5)


def test_computed_masks_with_gaps_run_as_scan_and_match(tmp_path):
    """Masking and mask_zero masks may have gaps, which ONNX's lengths cannot express; their
    recurrent layers run as Scan with the mask applied at every step."""
    torch.manual_seed(5)
    masked = rk.Sequential([rk.Masking(0.0), rk.LSTM(4, input_size=3, return_sequences=True),
                            rk.MeanOverTime(), rk.Dense(2, activation="softmax")])
    emb = rk.Sequential([rk.Embedding(7, 3, mask_zero=True),
                         rk.Bidirectional(rk.GRU(4, reset_after=False)), rk.Dense(1)])
    for model in (masked, emb):
        path = export(model, tmp_path / "m.onnx")
        assert "Scan" in _ops(path) and "mask" in " ".join(
            r.reason for r in read_report(path).layers)
        assert max(check(model, path).values()) < 1e-5
    session = ort.InferenceSession(str(export(emb, tmp_path / "e.onnx")))
    ids = torch.tensor([[3, 0, 5, 2, 0, 0], [1, 4, 4, 6, 2, 1]])       # a gap, then padding
    got = session.run(["y"], {"x": ids.numpy(), "lengths": np.array([6, 6])})[0]
    with torch.no_grad():
        np.testing.assert_allclose(got, emb(ids).numpy(), atol=1e-5)


def test_any_other_module_is_traced_and_spliced(tmp_path):
    torch.manual_seed(6)
    model = rk.Sequential([rk.LSTM(4, input_size=3, return_sequences=True), nn.LayerNorm(4),
                           rk.Dropout(0.5), rk.GRU(3), nn.Tanh()])
    path = export(model, tmp_path / "t.onnx")
    assert [r.op for r in read_report(path).layers][1:3] == ["traced", "(none)"]
    assert max(check(model, path).values()) < 1e-5


@pytest.mark.parametrize("opset", [9, 10, 11, 13, 18, 20])
def test_opsets(opset, tmp_path):
    """Each opset's forms: Range or NonZero, ReverseSequence or a Gather, Equal on floats or
    not, axes as attributes or inputs (Unsqueeze 13, ReduceMax 18)."""
    torch.manual_seed(7)
    masked = rk.Sequential([rk.Masking(0.0), _layer("lnlstm", 3, 2, go_backwards=True,
                                                    return_sequences=True),
                            rk.Bidirectional(_layer("gru-before", 3, 3)),
                            rk.Dense(2, activation="softmax")])
    padded = rk.Sequential([rk.Bidirectional(_layer("custom", 3, 2, return_sequences=True)),
                            rk.Bidirectional(_layer("lstm", 2, 6, return_sequences=True),
                                             merge_mode="mul")])
    for model in (_randomize(masked, 8), _randomize(padded, 9)):
        path = export(model, tmp_path / "o.onnx", opset=opset)
        assert onnx.load(str(path)).opset_import[0].version == opset
        assert max(check(model, path).values()) < 1e-5


def test_keras_model_through_rnnkit_convert_into_onnx(tmp_path):
    """The model of issue 17: Bidirectional(GRU(5, reset_after=False, return_sequences)),
    LSTM(4), Dense(2), built in Keras, saved as .keras and converted by the CLI."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    from typer.testing import CliRunner

    from rnnkit.cli.main import app
    from rnnkit.interop.keras import load_keras
    L = keras.layers
    kmodel = keras.Sequential([keras.Input((None, 3)),
                               L.Bidirectional(L.GRU(5, reset_after=False,
                                                     return_sequences=True)),
                               L.LSTM(4), L.Dense(2)])
    rng = np.random.default_rng(0)
    kmodel.set_weights([rng.uniform(-0.5, 0.5, w.shape).astype("float32")
                        for w in kmodel.get_weights()])
    kmodel.save(tmp_path / "model.keras")
    out = tmp_path / "model.onnx"
    result = CliRunner().invoke(app, ["convert", "--from", "keras", str(tmp_path / "model.keras"),
                                      "--to", str(out)])
    assert result.exit_code == 0, result.output
    assert "DIFFERS" not in result.output and "y masked" in result.output
    assert "state inputs: no (Bidirectional layer 0" in result.output
    assert "forward GRU linear_before_reset=0; backward GRU" in result.output
    x = rng.normal(size=(3, 7, 3)).astype("float32")
    session = ort.InferenceSession(str(out))
    got = session.run(["y"], {"x": x, "lengths": np.array([7, 7, 7])})[0]
    want = kmodel.predict(x, verbose=0)
    want = want.detach().cpu().numpy() if hasattr(want, "detach") else np.asarray(want)
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert max(check(load_keras(tmp_path / "model.keras"), out).values()) < 1e-5


class _PairCell(LeakyCell):
    def forward(self, x, state=None):
        y, state = super().forward(x, state)
        return (y, y), state


BAD = [
    ("bi-with-state-inputs",
     lambda d: export(rk.Bidirectional(rk.LSTM(3, input_size=2)), d / "a.onnx",
                      state_inputs=True),
     ValueError, r"layer 0 is Bidirectional: .*cannot stream.*state_inputs=False"),
    ("merge-none",
     lambda d: export(rk.Sequential([rk.Bidirectional(rk.GRU(3, input_size=2),
                                                      merge_mode=None)]), d / "b.onnx"),
     ValueError, r"merge_mode=None\) returns a pair"),
    ("float64",
     lambda d: export(rk.LSTM(3, input_size=2).double(), d / "c.onnx"),
     ValueError, r"writes float32.*'cell.weight_ih' is torch.float64.*model.float\(\)"),
    ("opset-8",
     lambda d: export(rk.GRU(3, input_size=2), d / "d.onnx", opset=8),
     ValueError, r"opset must be an int in 9\.\.20, got 8"),
    ("lengths-str",
     lambda d: export(rk.GRU(3, input_size=2), d / "e.onnx", lengths="yes"),
     TypeError, r"lengths must be True or False, got 'yes'"),
    ("unbuilt",
     lambda d: export(rk.LSTM(3), d / "f.onnx"),
     ValueError, r"build the model first"),
    ("pair-output-cell",
     lambda d: export(rk.RNN(_PairCell(2, 3)), d / "g.onnx"),
     ValueError, r"_PairCell: ONNX export needs a tensor output y_t"),
    ("no-recurrent-layer",
     lambda d: export(rk.Sequential([rk.Dense(2, input_size=3)]), d / "h.onnx"),
     ValueError, r"no recurrent layer"),
]


@pytest.mark.parametrize("call, error, pattern", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_use_is_a_clear_error_and_writes_nothing(call, error, pattern, tmp_path):
    with pytest.raises(error, match=pattern):
        call(tmp_path)
    assert not list(tmp_path.glob("*.onnx"))


def test_check_and_read_report_refuse_foreign_files(tmp_path):
    gru = rk.GRU(3, input_size=2)
    path = export(gru, tmp_path / "g.onnx")
    with pytest.raises(ValueError, match=r"g\.onnx was not exported from this model"):
        check(rk.LayerNormLSTM(3, input_size=2), path)
    with pytest.raises(ValueError, match=r"g\.onnx was not exported from this model"):
        check(rk.GRU(4, input_size=2), path)
    foreign = tmp_path / "foreign.onnx"
    node = onnx.helper.make_node("Identity", ["a"], ["b"])
    info = onnx.helper.make_tensor_value_info
    onnx.save(onnx.helper.make_model(onnx.helper.make_graph(
        [node], "g", [info("a", onnx.TensorProto.FLOAT, [1])],
        [info("b", onnx.TensorProto.FLOAT, [1])])), str(foreign))
    with pytest.raises(ValueError, match=r"foreign\.onnx was not written by rnnkit's export"):
        read_report(foreign)


class _Untraceable(LeakyCell):
    def forward(self, x, state=None):
        y, state = super().forward(x, state)
        return torch.from_numpy(y.detach().numpy().copy()), state      # leaves torch


def test_a_step_that_tracing_would_freeze_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"traced step of _Untraceable does not reproduce"):
        export(rk.RNN(_Untraceable(2, 3)), tmp_path / "u.onnx")
    assert not list(tmp_path.glob("*.onnx"))


class _BesselCell(LeakyCell):
    def forward(self, x, state=None):
        y, state = super().forward(x, state)
        return torch.special.i0(y), state              # no ONNX symbolic in torch's exporter


def test_a_step_torch_cannot_export_is_named(tmp_path):
    with pytest.raises(ValueError, match=r"could not trace _BesselCell \(one step, opset 17\)"
                                         r".*aten::i0"):
        export(rk.RNN(_BesselCell(2, 3)), tmp_path / "u.onnx")
