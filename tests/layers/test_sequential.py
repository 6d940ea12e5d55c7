import pytest
import torch

import rnnkit as rk


def test_summary_parameter_counts_equal_keras():
    text = rk.Sequential([rk.Embedding(66, 256), rk.GRU(1024, return_sequences=True),
                          rk.Dense(66)]).summary(input_shape=(100,), print_fn=None)
    for count in ("16,896", "3,938,304", "67,650", "Total params: 4,022,850"):
        assert count in text
    model = rk.Sequential([rk.Embedding(1000, 64), rk.GRU(256, return_sequences=True),
                           rk.SimpleRNN(128)])
    model(torch.ones(2, 10, dtype=torch.long))
    text = model.summary(print_fn=None)
    assert "247,296" in text and "(None, 10, 256)" in text and "(None, 128)" in text
    assert "0   SimpleRNN   (None, 128)    49,280" in rk.Sequential(
        [rk.SimpleRNN(128, input_size=256)]).summary(input_shape=(5, 256), print_fn=None)
    assert "33,024" in rk.Sequential([rk.LSTM(64)]).summary((5, 64), print_fn=None)


def test_summary_names_engine_and_why_native_was_not_eligible():
    model = rk.Sequential([rk.GRU(8, reset_after=False, return_sequences=True), rk.LSTM(4)])
    text = model.summary(input_shape=(5, 3), print_fn=None)
    assert "rnnkit" in text and "torch" in text
    assert ("layer 0: rnnkit (torch's kernel not eligible: GRUCell(reset_after=False) "
            "has no torch kernel)") in text
    with pytest.raises(ValueError, match="summary\\(\\) needs the input shape"):
        rk.Sequential([rk.LSTM(4)]).summary(print_fn=None)


def test_summary_does_not_disturb_rng_or_stateful_states():
    layer = rk.LSTM(4, input_size=3, stateful=True)
    model = rk.Sequential([layer])
    model(torch.randn(2, 5, 3))
    carried = layer._state
    before = torch.get_rng_state()
    model.summary(print_fn=None)
    assert torch.equal(torch.get_rng_state(), before) and layer._state is carried


def test_embedding_mask_flows_to_recurrent_layers():
    torch.manual_seed(0)
    model = rk.Sequential([rk.Embedding(20, 6, mask_zero=True), rk.LSTM(5, return_sequences=True),
                           rk.Dense(3), rk.GRU(4)])
    ids = torch.tensor([[3, 7, 2, 0, 0, 0], [3, 7, 2, 9, 1, 5]])
    alone = model(ids[:1, :3])
    torch.testing.assert_close(model(ids)[0], alone[0], atol=1e-6, rtol=0)
    torch.testing.assert_close(model(ids[:1, :3], lengths=torch.tensor([3])), alone)


def test_dense_is_applied_per_timestep():
    dense = rk.Dense(2, activation="relu", input_size=3)
    x = torch.randn(4, 5, 3)
    torch.testing.assert_close(dense(x)[:, 2], dense(x[:, 2]))
    with pytest.raises(ValueError, match="built for 3 input features"):
        dense(torch.randn(4, 4))


def test_tutorial_hand_computation_keras_layout_weights():
    """SimpleRNN(2, linear) + Dense(1): h_t = x_t wx + h_{t-1} wh + bh, out = h_3 wy + by."""
    wx = torch.tensor([[0.18662322, -1.2369459]])                     # Keras kernel (D, H)
    wh = torch.tensor([[0.86981213, -0.49338293], [0.49338293, 0.8698122]])
    wy = torch.tensor([[-0.4635998], [0.6538409]])
    rnn = rk.SimpleRNN(2, activation="linear", input_size=1, return_state=False)
    dense = rk.Dense(1, input_size=2)
    with torch.no_grad():                    # torch layout = Keras' transposed
        rnn.cell.weight_ih.copy_(wx.T)
        rnn.cell.weight_hh.copy_(wh.T)
        rnn.cell.bias.zero_()
        dense.weight.copy_(wy.T)
        dense.bias.zero_()
    x = torch.tensor([[[1.0], [2.0], [3.0]]])
    h3 = rnn(x)
    torch.testing.assert_close(h3, torch.tensor([[-1.30195881, -6.84172557]]), atol=1e-6,
                               rtol=0)
    out = rk.Sequential([rnn, dense])(x)
    assert abs(out.item() - (-3.86981216)) < 1e-6


def test_embedding_rejects_out_of_range_and_float_ids():
    emb = rk.Embedding(10, 3)
    with pytest.raises(ValueError, match=r"token id 10 is out of range .* \[0, 9\]"):
        emb(torch.tensor([[1, 10]]))
    with pytest.raises(ValueError, match="token id -1"):
        emb(torch.tensor([[-1]]))
    with pytest.raises(TypeError, match="integer token ids"):
        emb(torch.tensor([[1.0]]))


def test_sequential_rejects_return_state_layers_and_non_modules():
    with pytest.raises(ValueError, match="return_state=True"):
        rk.Sequential([rk.LSTM(3, return_state=True)])
    with pytest.raises(TypeError, match="layer 0 must be an nn.Module"):
        rk.Sequential(["lstm"])
