"""rnnkit.model: Sequential (a LayerStack that trains) and load (folders and checkpoints)."""

import json

import pytest
import torch

import rnnkit as rk
from rnnkit import io, saving
from rnnkit.layers import LayerStack
from rnnkit.model import Sequential, load

# config.json exactly as rnnkit wrote it while Sequential lived in layers/sequential.py
OLD_CONFIG = {
    "format": "rnnkit-model", "version": 1,
    "model": {"class": "Sequential", "config": {"layers": [
        {"class": "SimpleRNN", "config": {
            "units": 2, "input_size": 1, "activation": "tanh", "use_bias": True,
            "return_sequences": False, "return_state": False, "go_backwards": False,
            "stateful": False, "dropout": 0.0, "recurrent_dropout": 0.0, "engine": "auto"}},
        {"class": "Dense", "config": {"units": 1, "activation": "linear", "use_bias": True,
                                      "input_size": 2}}],
        "input_shape": [3, 1]}},
    "files": ["weights.safetensors", "config.json"],
}


def test_a_model_folder_from_before_the_split_loads_with_its_weights(tmp_path):
    w = {"layers.0.cell.weight_ih": torch.tensor([[0.5], [-1.0]]),
         "layers.0.cell.weight_hh": torch.tensor([[0.1, 0.2], [0.3, -0.4]]),
         "layers.0.cell.bias": torch.tensor([0.0, 0.1]),
         "layers.1.weight": torch.tensor([[1.0, -2.0]]), "layers.1.bias": torch.tensor([0.5])}
    (tmp_path / "m").mkdir()
    io.write_tensors(tmp_path / "m" / "weights.safetensors", w, {"format": "rnnkit-model"})
    (tmp_path / "m" / "config.json").write_text(json.dumps(OLD_CONFIG))
    model = rk.load(tmp_path / "m")
    assert type(model) is Sequential and model.input_shape == (3, 1)
    x = torch.tensor([[[1.0], [2.0], [-1.0]]])
    h = torch.zeros(2)
    for t in range(3):                           # h_t = tanh(W_ih x_t + W_hh h_{t-1} + b)
        h = torch.tanh(w["layers.0.cell.weight_ih"] @ x[0, t] + w["layers.0.cell.weight_hh"] @ h
                       + w["layers.0.cell.bias"])
    want = w["layers.1.weight"] @ h + w["layers.1.bias"]
    torch.testing.assert_close(model.eval()(x)[0], want)


def test_sequential_is_a_layer_stack_that_trains_and_saves_as_sequential(tmp_path):
    model = rk.Sequential([rk.SimpleRNN(3), rk.Dense(1)])
    assert rk.Sequential is Sequential and isinstance(model, LayerStack)
    assert not hasattr(rk.layers, "Sequential")         # layers know no training
    model.fit(torch.randn(8, 4, 1), torch.randn(8, 1), epochs=1, verbose=0)
    assert "training step: " in model.summary(print_fn=None)
    model.save(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["model"]["class"] == "Sequential"


def test_a_bare_layer_stack_has_no_training_and_is_not_saved(tmp_path):
    stack = LayerStack([rk.SimpleRNN(3, input_size=1)])
    assert not hasattr(stack, "fit") and "training step" not in stack.summary((4, 1), None)
    with pytest.raises(ValueError, match="LayerStack is not registered for saving"):
        rk.save(stack, tmp_path / "s")


def test_load_reads_a_checkpoint_file_and_saving_load_points_to_it(tmp_path):
    model = rk.Sequential([rk.GRU(3), rk.Dense(1)])
    x, y = torch.randn(8, 4, 1), torch.randn(8, 1)
    model.fit(x, y, epochs=1, verbose=0, checkpoint=tmp_path / "ck.safetensors")
    loaded = load(tmp_path / "ck.safetensors")
    torch.testing.assert_close(loaded.eval()(x), model.eval()(x))
    with pytest.raises(ValueError, match="a training checkpoint loads with rnnkit.load"):
        saving.load(tmp_path / "ck.safetensors")
    with pytest.raises(TypeError, match="load takes a folder path"):
        load(3)
