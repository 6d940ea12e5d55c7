import pytest
import torch
from torch import nn

import rnnkit as rk
from rnnkit.layers.recurrent import reverse_sequences

from ..helpers import randomize, torch_twin

LAYERS = {"simple": lambda **kw: rk.SimpleRNN(5, **kw), "lstm": lambda **kw: rk.LSTM(5, **kw),
          "gru": lambda **kw: rk.GRU(5, **kw)}
TOL = {torch.float32: 1e-5, torch.float64: 1e-10}


def _layer(kind, dtype=torch.float64, **kw):
    layer = LAYERS[kind](input_size=3, **kw)
    return randomize(layer).to(dtype)


def _twin_output(layer, x, lengths=None):
    ref = torch_twin([layer.cell])
    if lengths is None:
        out, hn = ref(x)
    else:
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True,
                                                   enforce_sorted=False)
        out, hn = ref(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
    h = hn[0][0] if isinstance(hn, tuple) else hn[0]
    return ref, out, h


@pytest.mark.parametrize("kind", ["simple", "lstm", "gru"])
@pytest.mark.parametrize("engine", ["loop", "torch"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_parity_with_torch_nn_forward_and_gradients(kind, engine, dtype):
    layer = _layer(kind, dtype, return_sequences=True, return_state=True, engine=engine)
    x = torch.randn(4, 6, 3, dtype=dtype, requires_grad=True)
    out, *state = layer(x)
    ref, out_ref, h_ref = _twin_output(layer, x)
    tol = TOL[dtype]
    torch.testing.assert_close(out, out_ref, atol=tol, rtol=0)
    torch.testing.assert_close(state[0], h_ref, atol=tol, rtol=0)
    assert layer.engine_choice.kind == engine
    (out ** 2).sum().backward()
    grad_x = x.grad.clone()
    x.grad = None
    (out_ref ** 2).sum().backward()
    torch.testing.assert_close(grad_x, x.grad, atol=tol * 10, rtol=0)
    torch.testing.assert_close(layer.cell.weight_hh.grad, ref.weight_hh_l0.grad,
                               atol=tol * 10, rtol=0)
    bias = layer.cell.bias_ih if kind == "gru" else layer.cell.bias
    torch.testing.assert_close(bias.grad, ref.bias_ih_l0.grad, atol=tol * 10, rtol=0)


@pytest.mark.parametrize("kind", ["simple", "lstm", "gru"])
@pytest.mark.parametrize("engine", ["loop", "torch"])
def test_parity_with_torch_packed_sequences(kind, engine):
    layer = _layer(kind, return_sequences=True, engine=engine)
    x, lengths = torch.randn(3, 7, 3, dtype=torch.float64), torch.tensor([7, 2, 5])
    _, out_ref, _ = _twin_output(layer, x, lengths)
    torch.testing.assert_close(layer(x, lengths=lengths), out_ref, atol=1e-10, rtol=0)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("engine", ["loop", "torch"])
def test_go_backwards_equals_torch_on_reversed_input(kind, engine):
    layer = _layer(kind, go_backwards=True, return_sequences=True, engine=engine)
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    _, out_ref, _ = _twin_output(layer, x.flip(1))
    torch.testing.assert_close(layer(x), out_ref, atol=1e-10, rtol=0)


def test_stacked_layers_equal_two_layer_torch_lstm():
    a = _layer("lstm", return_sequences=True)
    b = randomize(rk.LSTM(5, input_size=5)).double()
    model = rk.Sequential([a, b])
    x = torch.randn(3, 6, 3, dtype=torch.float64)
    out_ref, _ = torch_twin([a.cell, b.cell])(x)                   # nn.LSTM(num_layers=2)
    torch.testing.assert_close(model(x), out_ref[:, -1], atol=1e-10, rtol=0)


@pytest.mark.parametrize("kind", ["simple", "lstm", "gru"])
@pytest.mark.parametrize("engine", ["loop", "torch"])
@pytest.mark.parametrize("backwards", [False, True])
def test_padding_never_changes_a_result(kind, engine, backwards):
    layer = _layer(kind, return_sequences=True, return_state=True, engine=engine,
                   go_backwards=backwards)
    short = torch.randn(1, 3, 3, dtype=torch.float64)
    long = torch.randn(1, 40, 3, dtype=torch.float64)
    batch = torch.cat([torch.cat([short, torch.full((1, 37, 3), 9.0, dtype=torch.float64)], 1),
                       long])
    alone, *state_alone = layer(short)
    padded, *state_padded = layer(batch, lengths=torch.tensor([3, 40]))
    torch.testing.assert_close(padded[0, :3], alone[0], atol=1e-10, rtol=0)
    assert padded[0, 3:].abs().max() == 0                 # padded steps output zeros
    for s_alone, s_pad in zip(state_alone, state_padded):
        torch.testing.assert_close(s_pad[0], s_alone[0], atol=1e-10, rtol=0)
    torch.testing.assert_close(padded[1], layer(long)[0][0], atol=1e-10, rtol=0)


def test_interior_and_left_padding_use_loop_and_keep_state():
    layer = _layer("gru", return_state=True)
    x = torch.randn(1, 5, 3, dtype=torch.float64)
    mask = torch.tensor([[False, True, False, True, True]])
    out, h = layer(x, mask=mask)
    kind, reason = layer.engine_choice
    assert kind == "rnnkit" and "not right padding" in reason
    _, h_ref = layer(x[:, [1, 3, 4]])
    torch.testing.assert_close(h, h_ref, atol=1e-10, rtol=0)
    with pytest.raises(ValueError, match="engine='torch' cannot run this layer: mask is not"):
        _layer("gru", engine="torch")(x, mask=mask)


@pytest.mark.parametrize("kind", ["simple", "lstm", "gru"])
def test_native_keeps_state_of_rows_without_steps(kind):
    """A finished stream in a stateful chunk: the row has no real step at all."""
    native = _layer(kind, return_state=True, engine="torch")
    loop = _layer(kind, return_state=True, engine="loop")
    loop.load_state_dict(native.state_dict())
    x = torch.randn(3, 4, 3, dtype=torch.float64)
    mask = torch.tensor([[True] * 4, [False] * 4, [True, True, False, False]])
    h0 = torch.randn(3, 5, dtype=torch.float64)
    init = rk.LSTMState(h0, h0 * 2) if kind == "lstm" else h0
    a, b = native(x, init, mask=mask), loop(x, init, mask=mask)
    assert native.engine_choice.kind == "torch"
    for p, q in zip(a, b):
        torch.testing.assert_close(p, q, atol=1e-10, rtol=0)
    torch.testing.assert_close(a[1][1], h0[1])        # the empty row kept its state


def test_reverse_sequences_respects_padding_and_is_an_involution():
    x = torch.arange(10.0).view(2, 5, 1)
    mask = torch.tensor([[True, True, True, False, False], [True] * 5])
    rev, rmask = reverse_sequences(x, mask)
    assert rev[0, :, 0].tolist() == [2.0, 1.0, 0.0, 3.0, 4.0]
    assert rev[1, :, 0].tolist() == [9.0, 8.0, 7.0, 6.0, 5.0]
    assert rmask.tolist() == mask.tolist()
    torch.testing.assert_close(reverse_sequences(rev, mask)[0], x)


def test_initial_state_is_used_and_checked():
    layer = _layer("lstm", return_state=True)
    x = torch.randn(2, 4, 3, dtype=torch.float64)
    h0, c0 = torch.randn(2, 5, dtype=torch.float64), torch.randn(2, 5, dtype=torch.float64)
    out, h, c = layer(x, initial_state=rk.LSTMState(h0, c0))
    ref = torch_twin([layer.cell])
    _, (h_ref, c_ref) = ref(x, (h0[None], c0[None]))
    torch.testing.assert_close(c, c_ref[0], atol=1e-10, rtol=0)
    with pytest.raises(ValueError, match=r"must be LSTMState\(h=\(2, 5\), c=\(2, 5\)\), got"):
        layer(x, initial_state=rk.LSTMState(h0, c0[:, :4]))
    with pytest.raises(ValueError, match="initial_state for LSTMCell must be LSTMState"):
        layer(x, initial_state=(h0, c0))


def test_tbptt_equivalence_stateful_chunks_equal_full_forward():
    for engine in ("loop", "torch"):
        full = _layer("lstm", return_sequences=True, engine=engine)
        chunked = _layer("lstm", return_sequences=True, stateful=True, engine=engine)
        chunked.load_state_dict(full.state_dict())
        x = torch.randn(2, 12, 3, dtype=torch.float64)
        parts = [chunked(x[:, t:t + 5]) for t in range(0, 12, 5)]
        torch.testing.assert_close(torch.cat(parts, 1), full(x), atol=1e-10, rtol=0)
        chunked.reset_states()
        torch.testing.assert_close(chunked(x[:, :5]), full(x[:, :5]), atol=1e-10, rtol=0)
        with pytest.raises(ValueError, match="carries a state for batch 2, got batch 3"):
            chunked(torch.randn(3, 2, 3, dtype=torch.float64))


def test_stateful_state_is_detached():
    layer = rk.GRU(4, input_size=2, stateful=True)
    layer(torch.randn(1, 3, 2, requires_grad=True)).sum().backward()
    assert not layer._state.requires_grad


def test_dropout_one_mask_per_sequence_and_off_in_eval():
    layer = rk.SimpleRNN(4, activation="linear", input_size=6, dropout=0.5,
                         return_sequences=True, engine="loop").double()
    with torch.no_grad():
        layer.cell.weight_hh.zero_()                    # output_t = W_ih (x_t * mask)
        layer.cell.weight_ih.copy_(torch.eye(4, 6, dtype=torch.float64))
    x = torch.ones(3, 5, 6, dtype=torch.float64)
    out = layer(x)
    for b in range(3):                                  # the same mask at every step
        assert torch.equal(out[b], out[b, :1].expand(5, 4))
    assert set(out.unique().tolist()) <= {0.0, 2.0}
    layer.eval()
    assert torch.equal(layer(x), torch.ones(3, 5, 4, dtype=torch.float64))


def test_recurrent_dropout_moves_off_native_only_in_training():
    layer = rk.LSTM(4, input_size=3, recurrent_dropout=0.3)
    x = torch.randn(2, 5, 3)
    layer(x)
    kind, reason = layer.engine_choice
    assert kind == "rnnkit" and "recurrent_dropout" in reason
    layer.eval()
    layer(x)
    assert layer.engine_choice.kind == "torch"
    with pytest.raises(ValueError, match="needs a cell that supports it"):
        rk.RNN(rk.StackedCells([rk.LSTMCell(3, 4)]), recurrent_dropout=0.2)


@pytest.mark.parametrize("layer, reason", [
    (lambda: rk.GRU(3, reset_after=False), "GRUCell(reset_after=False) has no torch kernel"),
    (lambda: rk.SimpleRNN(3, activation="sigmoid"), "activation='sigmoid'"),
    (lambda: rk.RNN(rk.StackedCells([rk.LSTMCell(2, 3)])), "StackedCells is not a built-in"),
])
def test_engine_auto_falls_back_and_forced_native_names_the_reason(layer, reason):
    auto = layer()
    auto(torch.randn(2, 4, 2))
    expected = "loop" if "StackedCells" in reason else "rnnkit"
    assert auto.engine_choice.kind == expected and reason in auto.engine_choice.reason
    forced = layer()
    forced.engine = "torch"
    with pytest.raises(ValueError, match="engine='torch' cannot run this layer"):
        forced(torch.randn(2, 4, 2))


def test_return_options():
    x = torch.randn(2, 4, 3)
    assert rk.LSTM(5)(x).shape == (2, 5)
    out, h, c = rk.LSTM(5, return_state=True)(x)
    assert out.shape == h.shape == c.shape == (2, 5)
    torch.testing.assert_close(out, h)
    out, h = rk.GRU(5, return_sequences=True, return_state=True)(x)
    assert out.shape == (2, 4, 5)
    torch.testing.assert_close(out[:, -1], h)


class NestedCell(rk.RecurrentCell):
    """Two inputs (B, i1) and (B, i2, i3); two states (B, u1) and (B, u2, u3)."""

    def __init__(self, i1, i2, i3, u1, u2, u3):
        super().__init__()
        self.state_size = (u1, torch.Size([u2, u3]))
        self.output_size = (u1, torch.Size([u2, u3]))
        self.k1 = nn.Parameter(torch.randn(i1, u1) * 0.1)
        self.k23 = nn.Parameter(torch.randn(i2, i3, u2, u3) * 0.1)

    def forward(self, x, state=None):
        x1, x23 = x
        s1, s23 = self.initial_state(x) if state is None else state
        y1 = x1 @ self.k1                                          # (B, u1)
        y23 = torch.einsum("bij,ijkl->bkl", x23, self.k23)         # (B, u2, u3)
        return (y1, y23), (s1 + y1, s23 + y23)


def test_nested_cell_runs_through_rnn_and_trains():
    cell = NestedCell(4, 2, 3, 5, 6, 7)
    layer = rk.RNN(cell, return_sequences=True, return_state=True)
    x = (torch.randn(8, 10, 4), torch.randn(8, 10, 2, 3))
    (y1, y23), s1, s23 = layer(x)          # return_state flattens a tuple state
    assert y1.shape == (8, 10, 5) and y23.shape == (8, 10, 6, 7)
    assert s1.shape == (8, 5) and s23.shape == (8, 6, 7)
    torch.testing.assert_close(s1, y1.sum(1), atol=1e-5, rtol=0)   # states accumulate outputs
    kind, reason = layer.engine_choice
    assert kind == "loop" and "NestedCell is not a built-in" in reason
    target = (torch.randn(8, 10, 5), torch.randn(8, 10, 6, 7))

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = rk.RNN(NestedCell(4, 2, 3, 5, 6, 7), return_sequences=True)

        def forward(self, x):
            return self.rnn(x)

    model = Model()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for _ in range(30):
        y1, y23 = model(x)
        loss = ((y1 - target[0]) ** 2).mean() + ((y23 - target[1]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.9 * losses[0]
    masked = model.rnn(x, mask=torch.arange(10) < torch.tensor([10, 3, 5, 10, 1, 2, 9, 4])[:, None])
    assert masked[0][1, 3:].abs().max() == 0


@pytest.mark.parametrize("call, exc, match", [
    (lambda m: m(torch.randn(2, 3)), ValueError, r"expects input of shape \(B, T, D\), got shape"),
    (lambda m: m(torch.randn(2, 4, 7)), ValueError, "built for 3 input features"),
    (lambda m: m(torch.zeros(0, 4, 3)), ValueError, "empty batch"),
    (lambda m: m(torch.zeros(2, 0, 3)), ValueError, "no time steps"),
    (lambda m: m(torch.tensor([[[float("nan")] * 3]])), ValueError, "contains NaN"),
    (lambda m: m(torch.full((1, 2, 3), float("inf"))), ValueError, "contains inf"),
    (lambda m: m(torch.ones(2, 4, 3, dtype=torch.long)), TypeError, "floating-point input"),
    (lambda m: m(torch.ones(2, 4, 3, dtype=torch.float64)), TypeError, "differs from its param"),
    (lambda m: m(torch.ones(2, 4, 3), lengths=torch.tensor([5, 1])), ValueError,
     r"lengths must lie in \[1, T=4\], got values from 1 to 5"),
    (lambda m: m(torch.ones(2, 4, 3), lengths=torch.tensor([0, 1])), ValueError,
     r"lengths must lie in \[1, T=4\]"),
    (lambda m: m(torch.ones(2, 4, 3), lengths=torch.tensor([1, 2, 3])), ValueError,
     r"lengths must have shape \(B,\) = \(2,\)"),
    (lambda m: m(torch.ones(2, 4, 3), lengths=torch.tensor([1.0, 2.0])), TypeError, "integers"),
    (lambda m: m(torch.ones(2, 4, 3), mask=torch.ones(2, 5, dtype=torch.bool)), ValueError,
     r"mask must have shape \(B, T\) = \(2, 4\), got \(2, 5\)"),
    (lambda m: m(torch.ones(2, 4, 3), mask=torch.full((2, 4), 2)), ValueError, "boolean"),
    (lambda m: m(torch.ones(2, 4, 3), mask=torch.ones(2, 4), lengths=torch.tensor([1, 2])),
     ValueError, "not both"),
])
def test_bad_input_gets_a_clear_error(call, exc, match):
    with pytest.raises(exc, match=match):
        call(rk.LSTM(4, input_size=3))


@pytest.mark.parametrize("make, match", [
    (lambda: rk.LSTM(0), "units must be a positive int, got 0"),
    (lambda: rk.LSTM(4, engine="cudnn"), "engine must be one of 'auto', 'loop', 'torch'"),
    (lambda: rk.GRU(4, dropout=1.0), r"dropout must be a number in \[0, 1\), got 1.0"),
    (lambda: rk.RNN("lstm"), "cell must be an nn.Module"),
])
def test_bad_options_get_a_clear_error(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_lazy_build_takes_input_device_dtype_and_size():
    layer = rk.GRU(4)
    assert not layer.built and list(layer.parameters()) == []
    layer(torch.randn(2, 3, 7, dtype=torch.float64))
    assert layer.input_size == 7 and layer.cell.weight_ih.dtype == torch.float64
