import pytest
import torch
from torch import nn

import rnnkit as rk

from ..helpers import randomize, torch_twin


def _bi(kind="lstm", **kw):
    make = {"lstm": rk.LSTM, "gru": rk.GRU, "simple": rk.SimpleRNN}[kind]
    layer = rk.Bidirectional(make(4, input_size=3, **kw))
    return randomize(layer).double()


@pytest.mark.parametrize("kind", ["simple", "lstm", "gru"])
@pytest.mark.parametrize("engine", ["loop", "torch"])
def test_matches_torch_bidirectional_with_padding(kind, engine):
    layer = _bi(kind, return_sequences=True, return_state=True, engine=engine)
    ref = torch_twin([layer.forward_layer.cell, layer.backward_layer.cell], bidirectional=True)
    x, lengths = torch.randn(3, 6, 3, dtype=torch.float64), torch.tensor([6, 2, 4])
    out, *states = layer(x, lengths=lengths)
    packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out_ref, hn = ref(packed)
    out_ref, _ = nn.utils.rnn.pad_packed_sequence(out_ref, batch_first=True, total_length=6)
    torch.testing.assert_close(out, out_ref, atol=1e-10, rtol=0)
    h_ref = hn[0] if isinstance(hn, tuple) else hn                  # (2, B, H)
    torch.testing.assert_close(states[0], h_ref[0], atol=1e-10, rtol=0)   # forward h
    torch.testing.assert_close(states[len(states) // 2], h_ref[1], atol=1e-10, rtol=0)


def test_last_output_is_backward_state_not_last_step():
    layer = _bi("gru")
    seq = _bi("gru", return_sequences=True)
    seq.load_state_dict(layer.state_dict())
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    last, full = layer(x), seq(x)
    torch.testing.assert_close(last[:, :4], full[:, -1, :4])      # forward: last step
    torch.testing.assert_close(last[:, 4:], full[:, 0, 4:])       # backward: after step 0


def test_padding_invariance_bidirectional():
    layer = _bi("lstm")
    short, long = torch.randn(1, 3, 3, dtype=torch.float64), torch.randn(1, 30, 3,
                                                                       dtype=torch.float64)
    batch = torch.cat([torch.cat([short, torch.ones(1, 27, 3, dtype=torch.float64)], 1), long])
    torch.testing.assert_close(layer(batch, lengths=torch.tensor([3, 30]))[0], layer(short)[0],
                               atol=1e-10, rtol=0)


@pytest.mark.parametrize("mode, width", [("concat", 8), ("sum", 4), ("mul", 4), ("ave", 4)])
def test_merge_modes(mode, width):
    layer = rk.Bidirectional(rk.LSTM(4, input_size=3, return_sequences=True), merge_mode=mode)
    assert layer(torch.randn(2, 5, 3)).shape == (2, 5, width)
    pair = rk.Bidirectional(rk.LSTM(4, input_size=3), merge_mode=None)(torch.randn(2, 5, 3))
    assert isinstance(pair, tuple) and pair[0].shape == pair[1].shape == (2, 4)


def test_backward_layer_has_fresh_weights_and_options():
    layer = rk.Bidirectional(rk.GRU(4, input_size=3))
    assert layer.backward_layer.go_backwards and not layer.forward_layer.go_backwards
    assert not torch.equal(layer.forward_layer.cell.weight_ih, layer.backward_layer.cell.weight_ih)
    with pytest.raises(ValueError, match="merge_mode must be one of"):
        rk.Bidirectional(rk.GRU(4), merge_mode="max")
    with pytest.raises(TypeError, match="wraps an rnnkit RNN layer"):
        rk.Bidirectional(nn.LSTM(3, 4))
