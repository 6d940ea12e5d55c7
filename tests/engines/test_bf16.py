"""bf16 mixed precision (rnnkit.precision): every engine and cell against fp32, fit(precision=).

The tolerance.  bfloat16 keeps 8 significant bits: unit roundoff u = 2^-9.  Under bf16 only
the products change (states, gate math and sums stay fp32), and each product rounds its two
operands and its result once: at most 3u relative error per pre-activation and step.  Over
T = 6 steps these errors add at most (the gates' sigmoid/tanh do not amplify them; the state
passes them on), so every output, state and gradient is within 6 * 3u = 18u (3.5 %) of fp32,
measured as a relative Frobenius error.  The worst errors seen are 2-7x below that
(1.6e-2 for a SimpleRNN's gradients, 4e-3 to 9e-3 elsewhere: random rounding partly
cancels).  A bound for one step, 3u, would be too tight; a fixed 1e-1 would
hide a wrong product.  Each test also checks the result *differs* from fp32 by more than
fp32 rounding, so the products did run in bf16.
"""

import pytest
import torch

import rnnkit as rk
from rnnkit.cells import PeepholeLSTMCell
from rnnkit.engines.fused import run_fused
from rnnkit.engines.loop import run_loop
from rnnkit.precision import BF16_MIN_H, bf16_blocker

U = 2.0 ** -9                 # bf16 unit roundoff
T = 6
BOUND = T * 3 * U             # see the module docstring

CELLS = {
    "lstm": lambda: rk.LSTMCell(3, 40),
    "peephole": lambda: PeepholeLSTMCell(3, 40),
    "lnlstm": lambda: rk.LayerNormLSTMCell(3, 40),
    "gru": lambda: rk.GRUCell(3, 40),
    "gru-nobias": lambda: rk.GRUCell(3, 40, use_bias=False),
    "gru-reset-before": lambda: rk.GRUCell(3, 40, reset_after=False),
    "simple-tanh": lambda: rk.SimpleRNNCell(3, 40),
    "simple-small": lambda: rk.SimpleRNNCell(3, 8),    # the whole-sequence C++ loop
}
MASK = torch.tensor([[1] * T, [1, 1, 1, 0, 0, 0], [0, 1, 1, 0, 1, 1], [0] * T], dtype=torch.bool)

pytestmark = pytest.mark.skipif(bf16_blocker(torch.device("cpu"), torch.float32) is not None,
                                reason="this CPU has no bfloat16")   # CI CPUs all have it


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach().float(), b.detach()
    return float((a - b).norm() / b.norm().clamp_min(1e-30))


def _setup(make):
    cell = make()
    for p in cell.parameters():
        torch.nn.init.uniform_(p, -0.5, 0.5)
    x = torch.randn(4, T, 3, requires_grad=True)
    st = cell.initial_state(x[:, 0])
    return cell, x, st


def _outputs_and_grads(run, cell, x, st, mask, q):
    y, last, s = run(cell, x, st, mask, q)
    flat = [y, last] + (list(s) if isinstance(s, tuple) else [s])
    loss = sum((f * torch.sin(torch.arange(f.numel()) * (k + 1.3)).view_as(f)).sum()
               for k, f in enumerate(flat))
    return flat, torch.autograd.grad(loss, [x, *cell.parameters()])


def _check_close(got, want):
    (f1, g1), (f0, g0) = got, want
    errors = [_rel(a, b) for a, b in zip([*f1, *g1], [*f0, *g0]) if b.norm() > 0]
    for a in [*f1, *g1]:
        assert a.dtype == torch.float32                 # states and gradients stay fp32
    assert max(errors) < BOUND, errors
    assert max(errors) > 1e-5, "identical to fp32: the products did not run in bf16"


@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("rec", [False, True])
def test_rnnkit_engine_bf16_close_to_fp32(name, masked, rec):
    cell, x, st = _setup(CELLS[name])
    mask = MASK if masked else None
    q = (torch.rand(4, cell.hidden_size) > 0.3).float() / 0.7 if rec else None
    bf16 = lambda *a: run_fused(*a, gemm_dtype=torch.bfloat16)     # noqa: E731
    _check_close(_outputs_and_grads(bf16, cell, x, st, mask, q),
                 _outputs_and_grads(run_fused, cell, x, st, mask, q))


@pytest.mark.parametrize("name", ["lstm", "gru", "simple-tanh", "lnlstm"])
def test_loop_engine_under_autocast(name):
    """The readable loop under autocast: products in bf16, the carried state in fp32."""
    cell, x, st = _setup(CELLS[name])

    def loop_bf16(*args):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return run_loop(*args)
    _check_close(_outputs_and_grads(loop_bf16, cell, x, st, MASK, None),
                 _outputs_and_grads(run_loop, cell, x, st, MASK, None))


@pytest.mark.parametrize("layer", [rk.LSTM, rk.GRU, rk.SimpleRNN])
@pytest.mark.parametrize("engine", ["loop", "torch", "rnnkit", "auto"])
def test_layers_honour_autocast(layer, engine):
    """A layer called under torch.autocast(bfloat16) runs at precision bf16 on every engine,
    and its outputs and states come back in fp32."""
    torch.manual_seed(0)
    model = layer(40, input_size=3, engine=engine, return_sequences=True, return_state=True)
    x = torch.randn(4, T, 3)
    want = model(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = model(x)
        grads = torch.autograd.grad(sum(g.sum() for g in got), list(model.parameters()))
    assert {g.dtype for g in grads} == {torch.float32}       # backward inside autocast too
    assert model.precision_choice.kind == "bf16"
    assert "autocast" in model.precision_choice.reason
    assert [g.dtype for g in got] == [torch.float32] * len(got)
    assert max(_rel(g, w) for g, w in zip(got, want)) < BOUND
    if engine == "auto":            # bf16: rnnkit's kernels keep the state and gates fp32
        assert model.engine_choice.kind == "rnnkit"
    model(x)
    assert model.precision_choice.kind == "fp32"      # outside autocast: fp32 again


def test_bf16_input_from_an_autocast_dense():
    """Under autocast a Dense hands over bf16; the next recurrent layer takes it in fp32."""
    model = rk.Sequential([rk.Dense(8, input_size=3), rk.GRU(16, return_sequences=True)])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = model(torch.randn(2, T, 3))
    assert y.dtype == torch.float32


def _data():
    g = torch.Generator().manual_seed(1)
    return torch.randn(64, 12, 4, generator=g), torch.randn(64, 1, generator=g)


def _fit(precision, H=32, **kw):
    x, y = _data()
    model = rk.Sequential([rk.LSTM(H, input_size=4), rk.Dense(1, input_size=H)])
    history = model.fit(x, y, epochs=2, batch_size=16, verbose=0, seed=0, precision=precision,
                        **kw)
    return model, history.history["loss"]


def test_fit_bf16_keeps_master_weights_and_optimizer_state_fp32():
    model, losses = _fit("bf16")
    _, want = _fit("fp32")
    trainer = model._trainer
    assert trainer.precision_choice.kind == "bf16"
    assert trainer.step_choice.kind == "autograd" and "fp32 only" in trainer.step_choice.reason
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    state = [v for s in trainer.optimizer.state.values() for v in s.values()
             if isinstance(v, torch.Tensor) and v.is_floating_point()]
    assert state and {v.dtype for v in state} == {torch.float32}
    assert all(abs(a - b) / b < BOUND for a, b in zip(losses, want)), (losses, want)
    assert losses != want                                  # bf16 products did run


def test_fit_bf16_with_tbptt_and_masks():
    x, y = _data()
    x[:8, 9:] = 0.0                                         # padding, masked by Masking
    for precision in ("fp32", "bf16"):
        model = rk.Sequential([rk.LSTM(16, input_size=4, return_sequences=True),
                               rk.Dense(1, input_size=16)])
        h = model.fit(x, torch.randn(64, 12, 1, generator=torch.Generator().manual_seed(2)),
                      epochs=1, batch_size=16, verbose=0, seed=0, tbptt=4,
                      precision=precision).history["loss"]
        if precision == "fp32":
            want = h
    assert abs(h[0] - want[0]) / want[0] < BOUND and h != want


def test_summary_names_the_precision_and_why():
    model, _ = _fit("bf16")
    text = model.summary(print_fn=None)
    assert "precision: bf16 (precision='bf16'" in text
    assert "layer 0: rnnkit (bf16: bf16 products, fp32 states" in text   # what trained
    model, _ = _fit("auto")
    assert model._trainer.precision_choice.kind == "fp32"
    assert f"H < {BF16_MIN_H}" in model.summary(print_fn=None)


def test_auto_takes_bf16_from_the_crossover():
    model, _ = _fit("auto", H=BF16_MIN_H)
    choice = model._trainer.precision_choice
    assert choice.kind == "bf16" and str(BF16_MIN_H) in choice.reason
    assert model.layers[0].precision_choice.kind == "bf16"
    model, _ = _fit("auto", H=BF16_MIN_H, step="cpp")       # the C++ step is fp32 only
    assert model._trainer.precision_choice.kind == "fp32"


@pytest.mark.parametrize("bad", ["fp16", "float16", "bfloat16", None, 16])
def test_unknown_precision_refused(bad):
    with pytest.raises(ValueError, match="precision must be one of"):
        _fit(bad)


def test_bf16_refused_where_it_cannot_run():
    with pytest.raises(ValueError, match="step='cpp' computes in fp32 only"):
        _fit("bf16", step="cpp")
    x, y = _data()
    model = rk.Sequential([rk.GRU(8, input_size=4), rk.Dense(1, input_size=8)]).double()
    with pytest.raises(ValueError, match="precision='bf16' cannot run: .*float64"):
        model.fit(x.double(), y.double(), verbose=0, precision="bf16")
    layer = rk.GRU(8, input_size=4).double()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        with pytest.raises(ValueError, match="precision='bf16' cannot run: .*float64"):
            layer(x.double())


def test_predict_in_bf16():
    model, _ = _fit("fp32")
    x, _ = _data()
    want = model.predict(x)
    got = model.predict(x, precision="bf16")
    assert got.dtype == torch.float32
    assert 0 < _rel(got, want) < BOUND
    assert torch.equal(model.predict(x, precision="auto"), want)     # H=32: fp32
    with pytest.raises(ValueError, match="precision must be one of"):
        model.predict(x, precision="fp16")


def test_bench_puts_bf16_rows_beside_fp32():
    from rnnkit import bench
    results, facts = bench.run(["tiny"], ["gru"], reps=1, quick=True,
                               precisions=("fp32", "bf16"))
    rows = {r.system: r for r in results}
    assert rows["rnnkit engine=auto bf16"].precision == "bf16"
    assert rows["torch.nn autocast bf16"].precision == "bf16"
    assert rows["torch.nn"].precision == "fp32" and rows["torch.nn"].vs_torch == 1.0
    assert facts["gemm_gflops_bf16"] > 0


@pytest.mark.parametrize("layer", [rk.LSTM, rk.GRU, rk.SimpleRNN])
def test_streaming_step_under_autocast_keeps_the_state_fp32(layer):
    model, x = layer(40, input_size=3), torch.randn(2, 3)
    want, state = model.step(x)
    want, _ = model.step(x, state)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y, state = model.step(x)
        y, state = model.step(x, state)
    leaves = list(state) if isinstance(state, tuple) else [state]
    assert {a.dtype for a in [y, *leaves]} == {torch.float32}
    assert _rel(y, want) < BOUND


@pytest.mark.parametrize("name", ["lstm", "lnlstm", "gru", "gru-reset-before", "simple-tanh",
                                  "simple-small"])
@pytest.mark.parametrize("gemm_dtype", [None, torch.bfloat16])
def test_recycled_backward_scratch_changes_nothing(name, gemm_dtype):
    """Backward's dz/dzh (and their bf16 copies) come back from fused._SCRATCH filled with
    the last call's numbers; every step overwrites them, so gradients do not change."""
    cell, x, st = _setup(CELLS[name])
    run = lambda *a: run_fused(*a, gemm_dtype=gemm_dtype)     # noqa: E731
    _, first = _outputs_and_grads(run, cell, x, st, MASK, None)
    other = torch.randn_like(x, requires_grad=True)             # fills the scratch anew
    _outputs_and_grads(run, cell, other, st, None, None)
    _, again = _outputs_and_grads(run, cell, x, st, MASK, None)
    for a, b in zip(first, again):
        assert torch.equal(a, b)


@pytest.mark.parametrize("name", ["lstm", "lnlstm", "gru", "gru-reset-before", "simple-tanh"])
@pytest.mark.parametrize("gemm_dtype", [None, torch.bfloat16])
def test_an_inference_forward_recycles_its_buffers_and_changes_nothing(name, gemm_dtype):
    """With no gradient to follow, the forward's gates (and the bf16 product) come from
    fused._SCRATCH and go back there at its end: the outputs equal a forward that keeps
    them for a backward, call after call."""
    import rnnkit.engines.fused as fused
    cell, x, st = _setup(CELLS[name])
    want, h_want, *_ = run_fused(cell, x, st, MASK, gemm_dtype=gemm_dtype)
    assert want.requires_grad                                 # a training forward
    gates = ((x.shape[0] * x.shape[1], cell.weight_ih.shape[0]), x.dtype)
    fused._SCRATCH.pop(gates, None)
    with torch.no_grad():
        first = run_fused(cell, x, st, MASK, gemm_dtype=gemm_dtype)
        assert fused._SCRATCH.get(gates)                      # handed back to the pool
        run_fused(cell, torch.randn_like(x), st, None, gemm_dtype=gemm_dtype)  # refills them
        again = run_fused(cell, x, st, MASK, gemm_dtype=gemm_dtype)
    for a, b in ((first[0], want), (again[0], want), (again[1], h_want)):
        assert torch.equal(a, b.detach())


def test_the_scratch_pool_keeps_a_few_shapes_only():
    """A server sees many sequence lengths: the pool keeps the SCRATCH_SHAPES shapes used
    last, SCRATCH_KEEP tensors each, not one entry per length ever seen."""
    import rnnkit.engines.fused as fused
    layer = rk.LSTM(8, input_size=3, engine="rnnkit", return_sequences=True)
    with torch.no_grad():
        for T in range(1, 3 * fused.SCRATCH_SHAPES):
            layer(torch.randn(2, T, 3))
    assert len(fused._SCRATCH) <= fused.SCRATCH_SHAPES
    assert all(len(v) <= fused.SCRATCH_KEEP for v in fused._SCRATCH.values())
    assert fused._held_bytes() <= fused.SCRATCH_BYTES
    last = (3 * fused.SCRATCH_SHAPES - 1) * 2                  # T·B rows of the last call
    assert any(key[0][0] == last for key in fused._SCRATCH)     # the newest shape is kept


def test_the_scratch_pool_keeps_its_bytes_under_the_cap(monkeypatch):
    import rnnkit.engines.fused as fused
    monkeypatch.setattr(fused, "SCRATCH_BYTES", 64 * 1024)
    layer = rk.GRU(32, input_size=3, engine="rnnkit", return_sequences=True)
    with torch.no_grad():
        for T in (50, 60, 70, 80):                  # gates of 2·T x 96 float32: 38-61 KB
            layer(torch.randn(2, T, 3))
    assert fused._held_bytes() <= 64 * 1024 and len(fused._SCRATCH) >= 1
