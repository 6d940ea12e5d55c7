"""The rnnkit engine (engines/fused.py) against the readable loop: values and hand-derived
gradients, for every kernel object of the driver."""

import pytest
import torch

import rnnkit as rk
from rnnkit.cells import PeepholeLSTMCell
from rnnkit.cells.base import describe
from rnnkit.engines._ext import kernels, status
from rnnkit.engines.fused import KERNELS, _WholeSequence, run_fused
from rnnkit.engines.loop import run_loop
from rnnkit.engines.select import choose_engine

CELLS = {
    "lstm": lambda: rk.LSTMCell(3, 5),
    "lstm-nobias": lambda: rk.LSTMCell(3, 5, use_bias=False),
    "lnlstm": lambda: rk.LayerNormLSTMCell(3, 5),
    "lnlstm-nobias": lambda: rk.LayerNormLSTMCell(3, 5, use_bias=False, eps=1e-3),
    "peephole": lambda: PeepholeLSTMCell(3, 5),
    "peephole-nobias": lambda: PeepholeLSTMCell(3, 5, use_bias=False),
    "gru": lambda: rk.GRUCell(3, 5),
    "gru-nobias": lambda: rk.GRUCell(3, 5, use_bias=False),
    "gru-reset-before": lambda: rk.GRUCell(3, 5, reset_after=False),
    "simple-tanh": lambda: rk.SimpleRNNCell(3, 5),
    "simple-relu": lambda: rk.SimpleRNNCell(3, 5, activation="relu"),
    "simple-sigmoid": lambda: rk.SimpleRNNCell(3, 5, activation="sigmoid"),
    "simple-linear": lambda: rk.SimpleRNNCell(3, 5, activation="linear"),
    # above SEQ_MAX_H units SimpleRNN leaves the whole-sequence kernel for per-step GEMMs
    "simple-wide": lambda: rk.SimpleRNNCell(3, 40),
    "simple-wide-relu": lambda: rk.SimpleRNNCell(3, 40, activation="relu"),
}
MASK = torch.tensor([[1] * 6, [1, 1, 1, 0, 0, 0], [0, 1, 1, 0, 1, 1], [0] * 6], dtype=torch.bool)


def _run_both(make, dtype, masked, rec, monkeypatch=None):
    torch.manual_seed(0)
    cell = make().to(dtype)
    H = cell.hidden_size
    for p in cell.parameters():
        torch.nn.init.uniform_(p, -0.5, 0.5)
    x = torch.randn(4, 6, 3, dtype=dtype, requires_grad=True)
    st = cell.initial_state(x[:, 0])
    st = (type(st)(*(torch.randn_like(s).requires_grad_() for s in st))
          if isinstance(st, tuple) else torch.randn_like(st).requires_grad_())
    mask = MASK if masked else None
    q = (torch.rand(4, H, dtype=dtype) > 0.3).to(dtype) / 0.7 if rec else None
    results = []
    for fn in (run_fused, run_loop):
        y, last, s = fn(cell, x, st, mask, q)
        flat = [y, last] + (list(s) if isinstance(s, tuple) else [s])
        loss = sum((f * torch.sin(torch.arange(f.numel(), dtype=dtype) * (k + 1.3)).view_as(f))
                   .sum() for k, f in enumerate(flat))
        wrt = [x, *cell.parameters(), *(st if isinstance(st, tuple) else [st])]
        results.append((flat, torch.autograd.grad(loss, wrt)))
    return results


@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("rec", [False, True])
@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-10), (torch.float32, 1e-5)])
def test_fused_equals_loop_values_and_gradients(name, masked, rec, dtype, tol):
    (fa, ga), (fb, gb) = _run_both(CELLS[name], dtype, masked, rec)
    for a, b in zip(fa, fb):
        torch.testing.assert_close(a, b, atol=tol, rtol=0)
    for a, b in zip(ga, gb):
        torch.testing.assert_close(a, b, atol=tol * 10, rtol=0)


@pytest.mark.parametrize("name", ["lstm", "gru", "lnlstm", "peephole"])
def test_pytorch_fallback_equals_kernels(name, monkeypatch):
    import rnnkit.engines.fused as fused
    with_kernels = _run_both(CELLS[name], torch.float64, True, True)[0]
    monkeypatch.setattr(fused, "kernels", lambda: None)
    fallback = _run_both(CELLS[name], torch.float64, True, True)[0]
    for a, b in zip(with_kernels[0] + list(with_kernels[1]), fallback[0] + list(fallback[1])):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)


# one small cell per kernel object; "simple-steps" forces SimpleRNN's per-step path
GRADCHECK = {
    "simple": lambda: rk.SimpleRNNCell(2, 3),
    "simple-steps": lambda: rk.SimpleRNNCell(2, 3),
    "lstm": lambda: rk.LSTMCell(2, 3),
    "peephole": lambda: PeepholeLSTMCell(2, 3),
    "lnlstm": lambda: rk.LayerNormLSTMCell(2, 3),
    "gru": lambda: rk.GRUCell(2, 3),
    "gru_before": lambda: rk.GRUCell(2, 3, reset_after=False),
}


def test_every_built_in_kind_has_a_kernel_object():
    assert {describe(make()).kind for make in GRADCHECK.values()} == set(KERNELS)


@pytest.mark.parametrize("name", GRADCHECK)
@pytest.mark.parametrize("rec", [False, True])
def test_torch_gradcheck_on_the_driver(name, rec, monkeypatch):
    """torch's numeric gradcheck of the whole-sequence Function, every input at once:
    x, the initial state(s) and every weight the kernel object names."""
    import rnnkit.engines.fused as fused
    if name == "simple-steps":
        monkeypatch.setattr(fused, "SEQ_MAX_H", 0)
    torch.manual_seed(1)
    cell = GRADCHECK[name]().double()
    kernel = KERNELS[describe(cell).kind](cell)
    B, T, D, H = 2, 3, 2, 3
    d = dict(dtype=torch.float64, requires_grad=True)
    weights = [None if w is None else (torch.randn_like(w) * 0.5).requires_grad_()
               for w in kernel.weights(cell)]
    states = [torch.randn(B, H, **d) for _ in range(2 if kernel.paired else 1)]
    mask = torch.tensor([[True, True, True], [True, False, True]])
    q = torch.tensor([[2.0, 0.0, 2.0], [0.0, 2.0, 2.0]], dtype=torch.float64) if rec else None
    inputs = [torch.randn(B, T, D, **d), *states, *(w for w in weights if w is not None)]

    def fn(x, *rest):
        h0, c0 = (rest[0], rest[1]) if kernel.paired else (rest[0], None)
        given = iter(rest[len(states):])
        ws = [None if w is None else next(given) for w in weights]
        return _WholeSequence.apply(kernel, x, h0, c0, mask, q, *ws)
    assert torch.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-6)


def test_layer_chooses_fused_where_it_is_faster_and_explains():
    gru = rk.GRU(16, input_size=3)
    gru(torch.randn(2, 4, 3))
    kind, reason = gru.engine_choice
    assert kind == "rnnkit" and "faster than torch's" in reason
    small = rk.SimpleRNN(16, input_size=3)          # whole-sequence kernel, if it could build
    small(torch.randn(2, 4, 3))
    assert small.engine_choice.kind == ("rnnkit" if kernels() is not None else "torch")
    wide = rk.SimpleRNN(64, input_size=3)            # per-step fused ops, no compiler needed
    wide(torch.randn(2, 4, 3))
    assert wide.engine_choice.kind == "rnnkit"
    relu_cuda_like = rk.SimpleRNN(64, input_size=3, engine="torch")
    relu_cuda_like(torch.randn(2, 4, 3))
    assert relu_cuda_like.engine_choice.kind == "torch"
    sigmoid = rk.SimpleRNN(16, input_size=3, activation="sigmoid")
    sigmoid(torch.randn(2, 4, 3))
    kind, reason = sigmoid.engine_choice
    assert kind == "rnnkit" and "torch has only tanh" in reason
    lstm = rk.LSTM(16, input_size=3, recurrent_dropout=0.2)
    lstm(torch.randn(2, 4, 3))
    kind, reason = lstm.engine_choice
    assert kind == "rnnkit" and "recurrent_dropout" in reason
    custom = rk.RNN(rk.StackedCells([rk.LSTMCell(3, 4)]))
    custom(torch.randn(2, 4, 3))
    assert custom.engine_choice.kind == "loop"
    with pytest.raises(ValueError, match="engine='rnnkit' cannot run this layer: StackedCells"):
        choose_engine("rnnkit", custom.cell, torch.zeros(1), None)


def test_engines_agree_inside_a_trained_model():
    torch.manual_seed(0)
    x, y = torch.randn(16, 8, 3), torch.randn(16, 1)
    finals = {}
    for engine in ("loop", "rnnkit", "torch"):
        rk.set_seed(0)                      # same initial weights for every engine
        model = rk.Sequential([rk.GRU(6, input_size=3, engine=engine), rk.Dense(1, input_size=6)])
        model.fit(x, y, epochs=3, batch_size=4, seed=0, verbose=0)
        finals[engine] = [p.detach() for p in model.parameters()]
    for a, b, c in zip(*finals.values()):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
        torch.testing.assert_close(a, c, atol=1e-5, rtol=0)


def test_extension_status_is_reported():
    assert status().startswith(("C++ step kernels", "PyTorch ops"))
    assert (kernels() is None) == status().startswith("PyTorch ops")


def test_layernorm_lstm_layer_runs_fused_and_trains():
    torch.manual_seed(0)
    layer = rk.LayerNormLSTM(8, input_size=3)
    assert "LayerNormLSTMCell has no torch kernel" in (rk.engines.native_blocker(
        layer.cell, torch.zeros(1, 1, 3), True, False) or "")
    x, y = torch.randn(32, 10, 3), torch.randn(32, 1)
    model = rk.Sequential([layer, rk.Dense(1)])
    hist = model.fit(x, y, epochs=15, batch_size=8, seed=0, verbose=0)
    assert layer.engine_choice.kind == "rnnkit"
    assert hist.history["loss"][-1] < 0.8 * hist.history["loss"][0]


@pytest.mark.parametrize("name", ["lstm", "gru", "lnlstm", "peephole", "simple-tanh",
                                  "simple-wide"])
def test_bfloat16_runs_the_pytorch_ops_path_and_agrees_with_the_loop(name):
    """The C++ kernels take float32/float64; other dtypes run the same Function in ops."""
    torch.manual_seed(0)
    cell = CELLS[name]().to(torch.bfloat16)
    x = torch.randn(4, 6, 3, dtype=torch.bfloat16)
    out = run_fused(cell, x, cell.initial_state(x[:, 0]))[0]
    ref = run_loop(cell, x, cell.initial_state(x[:, 0]))[0]
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), ref.float(), atol=3e-2, rtol=0)
