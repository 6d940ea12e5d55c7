import json
import pickle

import pytest
import torch

import rnnkit as rk


def _model():
    model = rk.Sequential([rk.Embedding(30, 8, mask_zero=True),
                           rk.Bidirectional(rk.LSTM(6, return_sequences=True), "sum"),
                           rk.GRU(5, reset_after=False), rk.Dropout(0.1),
                           rk.Dense(2, activation="softmax")])
    model(torch.randint(0, 30, (2, 7)))
    return model


def test_round_trip_gives_identical_predictions(tmp_path):
    model = _model().eval()
    model.save(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["config.json",
                                                                 "weights.safetensors"]
    loaded = rk.load(tmp_path / "m").eval()
    assert loaded.input_shape == (7,)
    ids = torch.randint(0, 30, (3, 9))
    torch.testing.assert_close(loaded(ids), model(ids), atol=0, rtol=0)
    model.save(tmp_path / "m")                   # overwriting an existing folder works
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_custom_cells_round_trip_with_registry(tmp_path):
    model = rk.Sequential([rk.RNN(rk.StackedCells([rk.LSTMCell(3, 4), rk.SimpleRNNCell(
        4, 2, activation="relu")]))])
    x = torch.randn(2, 5, 3)
    rk.save(model, tmp_path / "s")
    torch.testing.assert_close(rk.load(tmp_path / "s")(x), model(x))


def test_unbuilt_or_unregistered_models_refuse_to_save(tmp_path):
    with pytest.raises(ValueError, match="LSTM is not built yet"):
        rk.Sequential([rk.LSTM(3)]).save(tmp_path / "x")
    with pytest.raises(ValueError, match="Linear is not registered for saving"):
        rk.Sequential([torch.nn.Linear(2, 2)]).save(tmp_path / "x")
    assert not (tmp_path / "x").exists() and list(tmp_path.iterdir()) == []


def test_corrupt_truncated_and_foreign_files_are_named(tmp_path):
    _model().save(tmp_path / "m")
    weights = tmp_path / "m" / "weights.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="weights.safetensors is not a readable safetensors"):
        rk.load(tmp_path / "m")
    (tmp_path / "m" / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="config.json is not valid JSON"):
        rk.load(tmp_path / "m")
    (tmp_path / "m" / "config.json").write_text(json.dumps({"format": "keras", "version": 1}))
    with pytest.raises(ValueError, match="is not an rnnkit-model file"):
        rk.load(tmp_path / "m")
    (tmp_path / "m" / "config.json").write_text(json.dumps(
        {"format": "rnnkit-model", "version": 99, "model": {}}))
    with pytest.raises(ValueError, match="format version 99; this rnnkit reads version 1"):
        rk.load(tmp_path / "m")
    (tmp_path / "m" / "config.json").write_text(json.dumps(
        {"format": "rnnkit-model", "version": 1,
         "model": {"class": "os.system", "config": {}}}))
    with pytest.raises(ValueError, match="unknown class 'os.system'"):
        rk.load(tmp_path / "m")
    with pytest.raises(ValueError, match="no saved model there"):
        rk.load(tmp_path / "nothing")


def test_pickles_are_never_loaded(tmp_path):
    torch.save({"weight": torch.zeros(2)}, tmp_path / "model.pt")
    with pytest.raises(ValueError, match="zip archive.*never unpickles"):
        rk.load(tmp_path / "model.pt")
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(ValueError, match="looks like a Python pickle"):
        rk.load(tmp_path / "evil.pkl")


def test_shape_and_key_mismatch_are_named(tmp_path):
    rk.save(rk.Sequential([rk.LSTM(4, input_size=3)]), tmp_path / "a")
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    config["model"]["config"]["layers"][0]["config"]["units"] = 5
    (tmp_path / "a" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"layers.0.cell.\w+ has shape \(16,?.*\), "
                                         r"the model expects \(20"):
        rk.load(tmp_path / "a")
    config["model"]["config"]["layers"][0] = {"class": "GRU", "config": {"units": 4,
                                                                         "input_size": 3}}
    (tmp_path / "a" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="does not match the model: missing"):
        rk.load(tmp_path / "a")


def test_layernorm_lstm_model_saves_and_loads(tmp_path):
    torch.manual_seed(0)
    model = rk.Sequential([rk.LayerNormLSTM(6, input_size=2, eps=1e-4), rk.Dense(1)])
    x = torch.randn(3, 5, 2)
    model.eval()
    expected = model(x)
    model.save(tmp_path / "m")
    loaded = rk.load(tmp_path / "m")
    loaded.eval()
    assert loaded.layers[0].cell.eps == 1e-4
    torch.testing.assert_close(loaded(x), expected)


def test_resave_replaces_only_rnnkit_files_and_drops_its_own_stale_extras(tmp_path):
    model = rk.Sequential([rk.SimpleRNN(3, input_size=2)])
    rk.save(model, tmp_path / "m", extra={"vocab": {"tokens": ["a"]}, "settings": {"k": 1}})
    (tmp_path / "m" / "notes.txt").write_text("mine")
    rk.save(model, tmp_path / "m", extra={"settings": {"k": 2}})
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [
        "config.json", "notes.txt", "settings.json", "weights.safetensors"]
    assert json.loads((tmp_path / "m" / "settings.json").read_text()) == {"k": 2}
    assert json.loads((tmp_path / "m" / "config.json").read_text())["files"] == [
        "weights.safetensors", "settings.json", "config.json"]


def test_weights_carry_a_checksum_and_the_tensor_helpers_stay_importable(tmp_path):
    from rnnkit import io
    from rnnkit.saving import load_state_checked, read_tensors, write_tensors
    assert (write_tensors, read_tensors) == (io.write_tensors, io.read_tensors)
    model = rk.Sequential([rk.GRU(2, input_size=1)])
    model.save(tmp_path / "m")
    tensors, meta = read_tensors(tmp_path / "m" / "weights.safetensors")
    raw = json.loads((tmp_path / "m" / "weights.safetensors").read_bytes()[8:][
        :int.from_bytes((tmp_path / "m" / "weights.safetensors").read_bytes()[:8], "little")])
    assert raw["__metadata__"][io.CHECKSUM_KEY] == io.tensor_checksum(tensors)
    assert meta == {"format": "rnnkit-model"}
    fresh = rk.Sequential([rk.GRU(2, input_size=1)])
    load_state_checked(fresh, tensors, "w")
    torch.testing.assert_close(fresh.state_dict(), model.state_dict())
