import numpy as np
import pytest
import torch
from torch import nn

from rnnkit.cells import GRUCell, LSTMCell, SimpleRNNCell, StackedCells
from rnnkit.types import LSTMState

from ..helpers import randomize


def _sig(a):
    return 1 / (1 + np.exp(-a))


@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.float64, 1e-10)])
def test_lstm_cell_matches_torch_lstmcell(dtype, tol):
    cell = randomize(LSTMCell(3, 5)).to(dtype)
    ref = nn.LSTMCell(3, 5).to(dtype)
    with torch.no_grad():
        ref.weight_ih.copy_(cell.weight_ih)
        ref.weight_hh.copy_(cell.weight_hh)
        ref.bias_ih.copy_(cell.bias)
        ref.bias_hh.zero_()
    x = torch.randn(4, 3, dtype=dtype)
    h0, c0 = torch.randn(4, 5, dtype=dtype), torch.randn(4, 5, dtype=dtype)
    y, (h, c) = cell(x, LSTMState(h0, c0))
    h_ref, c_ref = ref(x, (h0, c0))
    torch.testing.assert_close(h, h_ref, atol=tol, rtol=0)
    torch.testing.assert_close(c, c_ref, atol=tol, rtol=0)
    (h.sum() + c.sum()).backward()
    (h_ref.sum() + c_ref.sum()).backward()
    torch.testing.assert_close(cell.weight_hh.grad, ref.weight_hh.grad, atol=tol, rtol=0)
    torch.testing.assert_close(cell.bias.grad, ref.bias_ih.grad, atol=tol, rtol=0)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_simple_cell_matches_torch_rnncell(activation):
    cell = randomize(SimpleRNNCell(3, 4, activation=activation)).double()
    ref = nn.RNNCell(3, 4, nonlinearity=activation).double()
    with torch.no_grad():
        ref.weight_ih.copy_(cell.weight_ih)
        ref.weight_hh.copy_(cell.weight_hh)
        ref.bias_ih.copy_(cell.bias)
        ref.bias_hh.zero_()
    x, h0 = torch.randn(2, 3, dtype=torch.float64), torch.randn(2, 4, dtype=torch.float64)
    torch.testing.assert_close(cell(x, h0)[0], ref(x, h0), atol=1e-10, rtol=0)


def test_gru_cell_reset_after_matches_torch_grucell():
    cell = randomize(GRUCell(3, 4)).double()
    ref = nn.GRUCell(3, 4).double()
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(ref, name).copy_(getattr(cell, name))
    x, h0 = torch.randn(2, 3, dtype=torch.float64), torch.randn(2, 4, dtype=torch.float64)
    torch.testing.assert_close(cell(x, h0)[0], ref(x, h0), atol=1e-10, rtol=0)


def test_gru_reset_before_golden_values():
    """Cho et al.'s form, which torch lacks: checked against the equations in NumPy."""
    cell = GRUCell(2, 3, reset_after=False).double()
    D, H = 2, 3
    w_ih = np.arange(3 * H * D, dtype=np.float64).reshape(3 * H, D) / 20 - 0.4
    w_hh = np.arange(3 * H * H, dtype=np.float64).reshape(3 * H, H) / 30 - 0.3
    b = np.linspace(-0.2, 0.3, 3 * H)
    with torch.no_grad():
        cell.weight_ih.copy_(torch.from_numpy(w_ih))
        cell.weight_hh.copy_(torch.from_numpy(w_hh))
        cell.bias.copy_(torch.from_numpy(b))
    x, h = np.array([[1.0, -2.0]]), np.array([[0.5, -0.1, 0.2]])
    gx = x @ w_ih.T + b
    r = _sig(gx[:, :H] + h @ w_hh[:H].T)
    z = _sig(gx[:, H:2 * H] + h @ w_hh[H:2 * H].T)
    n = np.tanh(gx[:, 2 * H:] + (r * h) @ w_hh[2 * H:].T)
    expected = (1 - z) * n + z * h
    y, _ = cell(torch.from_numpy(x), torch.from_numpy(h))
    np.testing.assert_allclose(y.detach().numpy(), expected, atol=1e-12)


def test_keras_parameter_counts_and_forget_bias():
    assert sum(p.numel() for p in GRUCell(256, 1024).parameters()) == 3_938_304
    assert sum(p.numel() for p in GRUCell(64, 256).parameters()) == 247_296
    assert sum(p.numel() for p in SimpleRNNCell(256, 128).parameters()) == 49_280
    assert sum(p.numel() for p in LSTMCell(64, 64).parameters()) == 33_024
    assert sum(p.numel() for p in GRUCell(64, 256, reset_after=False).parameters()) == 246_528
    cell = LSTMCell(3, 4)
    assert cell.bias[4:8].tolist() == [1.0] * 4 and cell.bias[:4].abs().sum() == 0
    assert LSTMCell(3, 4, unit_forget_bias=False).bias.abs().sum() == 0
    w = cell.weight_hh.detach()                               # (4H, H): orthonormal columns
    torch.testing.assert_close(w.T @ w, torch.eye(4), atol=1e-5, rtol=0)
    assert not hasattr(LSTMCell(3, 4, use_bias=False), "bias")


def test_use_bias_false_runs_and_has_no_bias():
    for cell in (SimpleRNNCell(3, 4, use_bias=False), LSTMCell(3, 4, use_bias=False),
                 GRUCell(3, 4, use_bias=False), GRUCell(3, 4, use_bias=False, reset_after=False)):
        assert all("bias" not in n for n, _ in cell.named_parameters())
        y, _ = cell(torch.randn(2, 3))
        assert y.shape == (2, 4)


def test_callable_activation():
    cell = SimpleRNNCell(2, 3, activation=torch.nn.functional.softsign)
    y, _ = cell(torch.randn(1, 2) * 100)
    assert y.abs().max() < 1


def test_stacked_cells_chain_states():
    cell = StackedCells([LSTMCell(3, 8), GRUCell(8, 4)])
    x = torch.randn(2, 3)
    y, (s1, s2) = cell(x)
    y1, s1_ref = cell.cells[0](x)
    y2, _ = cell.cells[1](y1)
    torch.testing.assert_close(y, y2)
    torch.testing.assert_close(s1.c, s1_ref.c)
    with pytest.raises(ValueError, match="expects input_size=5 but cell 0 outputs 8"):
        StackedCells([LSTMCell(3, 8), GRUCell(5, 4)])


@pytest.mark.parametrize("bad, match", [
    (torch.zeros(2, 4), r"expects one step of shape \(B, 3\), got \(2, 4\)"),
    (torch.zeros(2, 5, 3), r"got \(2, 5, 3\)"),
])
def test_cell_rejects_wrong_step_shape(bad, match):
    with pytest.raises(ValueError, match=match):
        LSTMCell(3, 4)(bad)


@pytest.mark.parametrize("kwargs, match", [
    ({"input_size": 0, "hidden_size": 3}, "input_size must be a positive int"),
    ({"input_size": 2, "hidden_size": 2.5}, "hidden_size must be a positive int"),
])
def test_cell_rejects_bad_sizes(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LSTMCell(**kwargs)


def test_unknown_activation_named():
    with pytest.raises(ValueError, match="activation must be one of .* got 'swishy'"):
        SimpleRNNCell(2, 3, activation="swishy")
