"""One contract test over every cell and layer: shapes, dtypes, gradients reach every
parameter, state_dict round trip, determinism under a seed, torch.compile smoke."""

import pytest
import torch

import rnnkit as rk

D, H, B, T = 3, 4, 2, 5

CELLS = {
    "SimpleRNNCell": lambda: rk.SimpleRNNCell(D, H),
    "SimpleRNNCell-relu": lambda: rk.SimpleRNNCell(D, H, activation="relu"),
    "LSTMCell": lambda: rk.LSTMCell(D, H),
    "GRUCell": lambda: rk.GRUCell(D, H),
    "GRUCell-reset-before": lambda: rk.GRUCell(D, H, reset_after=False),
    "LayerNormLSTMCell": lambda: rk.LayerNormLSTMCell(D, H),
    "StackedCells": lambda: rk.StackedCells([rk.LSTMCell(D, H), rk.GRUCell(H, H)]),
}
LAYERS = {
    "SimpleRNN": lambda: rk.SimpleRNN(H, input_size=D, return_sequences=True),
    "LSTM": lambda: rk.LSTM(H, input_size=D, return_sequences=True),
    "GRU": lambda: rk.GRU(H, input_size=D, return_sequences=True),
    "GRU-reset-before": lambda: rk.GRU(H, input_size=D, reset_after=False, return_sequences=True),
    "LayerNormLSTM": lambda: rk.LayerNormLSTM(H, input_size=D, return_sequences=True),
    "LayerNormLSTM-loop": lambda: rk.LayerNormLSTM(H, input_size=D, return_sequences=True,
                                                   engine="loop"),
    "LSTM-loop": lambda: rk.LSTM(H, input_size=D, return_sequences=True, engine="loop"),
    "LSTM-dropout": lambda: rk.LSTM(H, input_size=D, return_sequences=True, dropout=0.2,
                                    recurrent_dropout=0.2),
    "RNN(StackedCells)": lambda: rk.RNN(rk.StackedCells([rk.GRUCell(D, H), rk.LSTMCell(H, H)]),
                                        return_sequences=True),
    "Bidirectional": lambda: rk.Bidirectional(rk.LSTM(H // 2, input_size=D,
                                                      return_sequences=True)),
    "Dense": lambda: rk.Dense(H, input_size=D),
}


def _check_common(make, call, out_shape):
    for dtype in (torch.float32, torch.float64):
        torch.manual_seed(0)
        module = make().to(dtype)
        x = torch.randn(B, T, D, dtype=dtype)
        y = call(module, x)
        assert y.shape == out_shape and y.dtype == dtype
        y.square().sum().backward()
        for name, p in module.named_parameters():
            assert p.grad is not None and p.grad.abs().sum() > 0, f"no gradient reaches {name}"
    torch.manual_seed(1)
    a = make()
    torch.manual_seed(1)
    b = make()
    for (name, p), q in zip(a.named_parameters(), b.parameters()):
        assert torch.equal(p, q), f"{name} differs under the same seed"
    c = make()
    c.load_state_dict(a.state_dict())
    a.eval()
    c.eval()
    x = torch.randn(B, T, D)
    torch.testing.assert_close(call(a, x), call(c, x))


@pytest.mark.parametrize("name", CELLS)
def test_cell_contract(name):
    def call(cell, x):
        state = cell.initial_state(x[:, 0])
        outs = []
        for x_t in x.unbind(1):
            y, state = cell(x_t, state)
            outs.append(y)
        return torch.stack(outs, 1)
    _check_common(CELLS[name], call, (B, T, H))
    cell = CELLS[name]()
    assert cell.output_size == H
    y, state = cell(torch.zeros(B, D))
    assert y.shape == (B, H)


@pytest.mark.parametrize("name", LAYERS)
def test_layer_contract(name):
    _check_common(LAYERS[name], lambda m, x: m(x), (B, T, H))


@pytest.mark.parametrize("name", ["LSTM", "GRU-reset-before"])
def test_torch_compile_smoke(name):
    layer = LAYERS[name]()
    layer.eval()
    x = torch.randn(B, T, D)
    expected = layer(x)
    compiled = torch.compile(layer, backend="eager")
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), expected)
