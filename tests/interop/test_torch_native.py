"""torch.nn <-> rnnkit: every cell type, stacked and bidirectional, both directions, exact."""

import numpy as np
import pytest
import torch
from torch import nn

import rnnkit as rk
from rnnkit.interop import from_torch, parity, to_torch
from rnnkit.interop.layouts import GATES, from_keras_arrays, reorder, to_keras_arrays

TORCH_MODULES = {
    "rnn-tanh": lambda: nn.RNN(3, 5, batch_first=True),
    "rnn-relu-nobias": lambda: nn.RNN(3, 5, nonlinearity="relu", bias=False, batch_first=True),
    "lstm": lambda: nn.LSTM(3, 5, batch_first=True),
    "gru": lambda: nn.GRU(3, 5, batch_first=True),
    "lstm-2-layers-bi": lambda: nn.LSTM(3, 5, num_layers=2, bidirectional=True,
                                        batch_first=True),
    "gru-3-layers-time-first": lambda: nn.GRU(3, 4, num_layers=3),
    "rnn-bi": lambda: nn.RNN(3, 4, bidirectional=True, batch_first=True),
    "lstm-cell": lambda: nn.LSTMCell(3, 5),
    "gru-cell": lambda: nn.GRUCell(3, 5),
    "rnn-cell": lambda: nn.RNNCell(3, 5, nonlinearity="relu"),
}


@pytest.mark.parametrize("name", TORCH_MODULES)
@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-5), (torch.float64, 1e-10)])
def test_from_torch_matches_outputs_and_states(name, dtype, tol):
    torch.manual_seed(0)
    m = TORCH_MODULES[name]().to(dtype)
    converted = from_torch(m).to(dtype)
    report = parity(m, converted)
    assert report and all(v < tol for v in report.values()), report


@pytest.mark.parametrize("name", TORCH_MODULES)
def test_round_trip_rnnkit_torch_rnnkit_keeps_every_weight(name):
    torch.manual_seed(1)
    first = from_torch(TORCH_MODULES[name]())
    back = from_torch(to_torch(first))
    a, b = first.state_dict(), back.state_dict()
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=0, rtol=0)


def test_to_torch_of_a_trained_rnnkit_model_and_refusals():
    torch.manual_seed(2)
    model = rk.Sequential([rk.Bidirectional(rk.GRU(4, return_sequences=True)),
                           rk.Bidirectional(rk.GRU(4, return_sequences=True))])
    x = torch.randn(3, 6, 2)
    model(x)
    twin = to_torch(model)
    assert isinstance(twin, nn.GRU) and twin.num_layers == 2 and twin.bidirectional
    torch.testing.assert_close(twin(x)[0], model(x), atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="reset_after=False\\) has no torch.nn twin"):
        to_torch(rk.GRU(4, input_size=2, reset_after=False))
    with pytest.raises(ValueError, match="proj_size"):
        from_torch(nn.LSTM(3, 5, proj_size=2))
    with pytest.raises(ValueError, match="sigmoid"):
        to_torch(rk.SimpleRNN(3, input_size=2, activation="sigmoid"))
    with pytest.raises(ValueError, match="equal layers"):
        to_torch(rk.Sequential([rk.LSTM(4, input_size=2, return_sequences=True),
                                rk.GRU(4, input_size=4, return_sequences=True)]))


def test_reorder_and_keras_arrays_round_trip():
    a = np.arange(6)[:, None] * np.ones((1, 2))
    out = reorder(a, ("r", "z", "n"), ("z", "r", "n"), 0)
    assert out[:, 0].tolist() == [2, 3, 0, 1, 4, 5]
    with pytest.raises(ValueError, match="name different gates"):
        reorder(a, ("r", "z", "n"), ("i", "f", "g"), 0)
    for cell in (rk.LSTMCell(3, 4), rk.GRUCell(3, 4), rk.GRUCell(3, 4, reset_after=False),
                 rk.SimpleRNNCell(3, 4), rk.LSTMCell(3, 4, use_bias=False)):
        arrays = to_keras_arrays(cell)
        assert arrays[0].shape == (3, cell.weight_ih.shape[0])      # Keras kernel (D, G·H)
        back = from_keras_arrays(cell, arrays)
        for k, v in back.items():
            np.testing.assert_array_equal(v, getattr(cell, k).detach().numpy())
    assert GATES["keras", "gru"] == ("z", "r", "n")
