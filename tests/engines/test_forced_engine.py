"""RNNKIT_ENGINE=loop: one switch that puts every layer and fit on the readable path, so a
breakpoint in a cell's forward fires during fit."""

import pytest
import torch

import rnnkit as rk
from rnnkit.cells import GRUCell
from rnnkit.types import Choice


def _calls_to_cell_forward(monkeypatch) -> list[int]:
    calls = [0]
    forward = GRUCell.forward

    def counted(self, *args, **kwargs):
        calls[0] += 1
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(GRUCell, "forward", counted)
    return calls


def _fit():
    rk.set_seed(0)
    model = rk.Sequential([rk.GRU(4), rk.Dense(1)])
    model.fit(torch.randn(8, 5, 2), torch.randn(8, 1), epochs=1, batch_size=4, verbose=0)
    return model


def test_a_cell_breakpoint_fires_during_fit_only_with_the_switch(monkeypatch):
    calls = _calls_to_cell_forward(monkeypatch)
    monkeypatch.delenv("RNNKIT_ENGINE", raising=False)
    model = _fit()
    assert calls[0] == 0                     # a small GRU: the C++ step, no Python cell
    assert model._trainer.step_choice.kind == "cpp"
    monkeypatch.setenv("RNNKIT_ENGINE", "loop")
    model = _fit()
    assert calls[0] >= 2 * 5                 # two batches of five steps, at least
    assert "RNNKIT_ENGINE=loop" in str(model._trainer.step_choice)
    model(torch.randn(2, 5, 2))
    assert model.layers[0].engine_choice.reason.startswith("RNNKIT_ENGINE=loop")


def test_the_switch_leaves_an_explicit_engine_alone(monkeypatch):
    monkeypatch.setenv("RNNKIT_ENGINE", "loop")
    layer = rk.GRU(4, engine="rnnkit")
    layer(torch.randn(2, 3, 2))
    assert layer.engine_choice.kind == "rnnkit"


def test_a_bad_switch_value_is_named(monkeypatch):
    monkeypatch.setenv("RNNKIT_ENGINE", "fast")
    with pytest.raises(ValueError, match="RNNKIT_ENGINE must be 'loop' or unset, got 'fast'"):
        rk.GRU(4)(torch.randn(2, 3, 2))


def test_readable_does_the_same_for_a_block(monkeypatch):
    calls = _calls_to_cell_forward(monkeypatch)
    monkeypatch.delenv("RNNKIT_ENGINE", raising=False)
    with rk.readable():
        model = _fit()
    assert calls[0] >= 10 and "RNNKIT_ENGINE=loop" in str(model._trainer.step_choice)
    seen = calls[0]
    _fit()                                   # outside the block: fast paths again
    assert calls[0] == seen


def test_old_engine_and_step_names_still_work_and_warn():
    with pytest.warns(DeprecationWarning, match="engine='native' is now engine='torch'"):
        layer = rk.LSTM(4, input_size=3, engine="native")
    assert layer.engine == "torch" and layer.get_config()["engine"] == "torch"
    with pytest.warns(DeprecationWarning, match="engine='fused' is now engine='rnnkit'"):
        assert rk.GRU(4, engine="fused").engine == "rnnkit"
    layer(torch.randn(2, 5, 3))
    assert layer.engine_choice == Choice("torch", "engine='torch' requested")
    model = rk.Sequential([rk.SimpleRNN(3, input_size=1), rk.Dense(1)])
    with pytest.warns(DeprecationWarning, match="step='compiled' is now step='cpp'"):
        model.fit(torch.randn(8, 5, 1), torch.randn(8, 1), epochs=1, verbose=0,
                  step="compiled")
    assert model._trainer.step_choice.kind == "cpp"


def test_choices_are_records_that_print_kind_and_reason():
    layer = rk.GRU(4, input_size=3, reset_after=False)
    assert layer.engine_choice is None               # nothing ran yet
    layer(torch.randn(2, 5, 3))
    kind, reason = layer.engine_choice
    assert kind == "rnnkit" and reason.startswith("torch's kernel not eligible")
    assert str(layer.engine_choice) == f"rnnkit ({reason})"
