"""Each built-in cell describes itself once; the fast paths read that, not its type."""

import pytest
import torch

import rnnkit as rk
from rnnkit.cells import GRUCell, LayerNormLSTMCell, LSTMCell, SimpleRNNCell
from rnnkit.cells.base import describe
from rnnkit.engines.select import cell_blocker
from rnnkit.interop.layouts import cell_kind


@pytest.mark.parametrize("cell, kind, op, layout", [
    (SimpleRNNCell(2, 3), "simple", "rnn_tanh", "simple"),
    (SimpleRNNCell(2, 3, activation="relu"), "simple", "rnn_relu", "simple"),
    (SimpleRNNCell(2, 3, activation="sigmoid"), "simple", None, "simple"),
    (LSTMCell(2, 3), "lstm", "lstm", "lstm"),
    (GRUCell(2, 3), "gru", "gru", "gru"),
    (GRUCell(2, 3, reset_after=False), "gru_before", None, "gru_before"),
    (LayerNormLSTMCell(2, 3), "lnlstm", None, None),
])
def test_descriptors_say_what_each_path_needs(cell, kind, op, layout):
    d = describe(cell)
    assert (d.kind, d.torch_op, d.layout) == (kind, op, layout)
    assert d.gates * cell.hidden_size == cell.weight_ih.shape[0]
    assert (cell_blocker(cell) is None) == (op is not None)
    if layout is None:
        with pytest.raises(ValueError, match="has no foreign layout"):
            cell_kind(cell)
    else:
        assert cell_kind(cell) == layout


def test_a_custom_callable_activation_is_not_fused():
    d = describe(SimpleRNNCell(2, 3, activation=lambda x: x.clamp(-1, 1)))
    assert not d.fused and "custom callable" in d.not_fused and d.torch_op is None


def test_a_subclass_that_changes_the_math_runs_its_own_forward():
    class Leaky(LSTMCell):
        calls = 0

        def forward(self, x, state=None, **kw):
            Leaky.calls += 1
            out, st = super().forward(x, state, **kw)
            return 0.5 * out, st

    assert describe(Leaky(2, 3)) is None
    layer = rk.RNN(Leaky(2, 3))
    layer(torch.randn(4, 5, 2))
    assert layer.engine_choice.kind == "loop" and Leaky.calls == 5
