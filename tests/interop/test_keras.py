"""Keras 3 (torch backend) <-> rnnkit with real Keras models: objects and files, both ways."""

import os

import numpy as np
import pytest
import torch

import rnnkit as rk

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras", reason="the [keras] test extra (make test installs it)")
from rnnkit.interop.keras import (  # noqa: E402
    from_keras,
    load_keras,
    load_keras_weights,
    parity,
    save_keras,
    to_keras,
)

L = keras.layers
# Keras' own code trips NumPy 2 deprecations; they are not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _randomize(model, seed=0):
    rng = np.random.default_rng(seed)
    model.set_weights([rng.uniform(-0.5, 0.5, w.shape).astype("float32")
                       for w in model.get_weights()])
    return model


KERAS_MODELS = {
    "simple": lambda: keras.Sequential([keras.Input((None, 3)), L.SimpleRNN(5),
                                        L.Dense(2, activation="tanh")]),
    "simple-relu-seq": lambda: keras.Sequential([keras.Input((None, 3)),
                                                 L.SimpleRNN(4, activation="relu",
                                                             return_sequences=True)]),
    "lstm": lambda: keras.Sequential([keras.Input((None, 3)), L.LSTM(6, return_sequences=True),
                                      L.LSTM(4), L.Dense(1)]),
    "gru-after": lambda: keras.Sequential([keras.Input((None, 3)), L.GRU(5)]),
    "gru-before": lambda: keras.Sequential([keras.Input((None, 3)), L.GRU(5, reset_after=False)]),
    "bidirectional": lambda: keras.Sequential([keras.Input((None, 3)),
                                               L.Bidirectional(L.LSTM(4, return_sequences=True)),
                                               L.Bidirectional(L.GRU(3), merge_mode="sum")]),
    "masked": lambda: keras.Sequential([keras.Input((None, 3)), L.Masking(0.0), L.LSTM(4)]),
    "embedding": lambda: keras.Sequential([keras.Input((None,), dtype="int32"),
                                           L.Embedding(20, 4, mask_zero=True),
                                           L.Bidirectional(L.GRU(3)), L.Dense(2)]),
}


@pytest.mark.parametrize("name", KERAS_MODELS)
def test_keras_object_to_rnnkit_matches(name):
    kmodel = _randomize(KERAS_MODELS[name]())
    ours = from_keras(kmodel)
    assert parity(kmodel, ours)["output"] < 1e-5


@pytest.mark.parametrize("name", ["lstm", "gru-before", "bidirectional", "embedding", "masked"])
def test_keras_files_read_as_data_and_round_trip(name, tmp_path):
    kmodel = _randomize(KERAS_MODELS[name](), seed=3)
    kmodel.save(tmp_path / "m.keras")
    kmodel.save_weights(tmp_path / "m.weights.h5")
    ours = load_keras(tmp_path / "m.keras")
    assert parity(kmodel, ours)["output"] < 1e-5
    fresh = from_keras(_randomize(KERAS_MODELS[name](), seed=9))     # other weights
    load_keras_weights(fresh, tmp_path / "m.weights.h5")
    assert parity(kmodel, fresh)["output"] < 1e-5
    back = load_keras(save_keras(ours, tmp_path / "back.keras"))     # rnnkit -> Keras -> rnnkit
    a, b = ours.state_dict(), back.state_dict()
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=0, rtol=0)


def test_rnnkit_model_to_keras_matches():
    torch.manual_seed(0)
    model = rk.Sequential([rk.GRU(5, input_size=3, reset_after=False, return_sequences=True),
                           rk.Bidirectional(rk.LSTM(4)), rk.Dense(2, activation="sigmoid")])
    kmodel = to_keras(model)
    assert parity(kmodel, model)["output"] < 1e-5


def test_refusals_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="Conv1D: has no rnnkit twin"):
        from_keras(keras.Sequential([keras.Input((None, 3)), L.Conv1D(2, 3)]))
    with pytest.raises(ValueError, match="recurrent_activation"):
        from_keras(keras.Sequential([keras.Input((None, 3)),
                                     L.LSTM(2, recurrent_activation="hard_sigmoid")]))
    bad = tmp_path / "x.keras"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a Keras 3 .keras file"):
        load_keras(bad)
    with pytest.raises(ValueError, match="does not exist"):
        load_keras(tmp_path / "missing.keras")
    model = rk.Sequential([rk.LSTM(6, input_size=3, return_sequences=True),
                           rk.LSTM(4, return_sequences=True), rk.LSTM(2)])
    other = _randomize(KERAS_MODELS["lstm"]())
    other.save_weights(tmp_path / "o.weights.h5")
    with pytest.raises(ValueError, match="has no weights for layer 'lstm_2'"):
        load_keras_weights(model, tmp_path / "o.weights.h5")


@pytest.mark.parametrize("make", [lambda: L.LSTM(5, return_sequences=True, return_state=True),
                                  lambda: L.GRU(4, return_state=True, reset_after=False),
                                  lambda: L.SimpleRNN(3, return_state=True, go_backwards=True)])
def test_single_keras_layers_match_outputs_and_final_states(make):
    layer = make()
    layer.build((None, None, 3))
    rng = np.random.default_rng(1)
    layer.set_weights([rng.uniform(-0.5, 0.5, w.shape).astype("float32")
                       for w in layer.get_weights()])
    report = parity(layer, from_keras(layer))
    assert set(report) >= {"output", "h"} and max(report.values()) < 1e-5, report
