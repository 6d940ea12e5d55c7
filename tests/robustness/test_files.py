"""Files cannot lose or fake data: saving never deletes what it did not write, and every
file rnnkit reads (weights, configs, checkpoints, vocabularies, Keras archives, side files)
is refused by name when it is altered, truncated, foreign, oversized or not a regular file."""

import json
import os
import pickle
import zipfile

import pytest
import torch

import rnnkit as rk
from rnnkit import io as rio
from rnnkit.data.text import TextVectorizer
from rnnkit.datasets import read_pairs
from rnnkit.explain import load_weights
from rnnkit.interop import keras as kx
from rnnkit.reference import Cell
from rnnkit.training.checkpoint import load_checkpoint, save_checkpoint

posix = pytest.mark.skipif(os.name != "posix", reason="needs /dev/zero and FIFOs")


def _tiny(units=3, cls=rk.SimpleRNN, **kw):
    torch.manual_seed(0)
    return rk.Sequential([cls(units, input_size=2, **kw), rk.Dense(1, input_size=units)])


def _saved(tmp_path, model=None):
    folder = tmp_path / "m"
    rk.save(model or _tiny(), folder)
    return folder


def _make(tmp_path, kind):
    """A path of the given kind: a symlink to /dev/zero, a FIFO, a folder, or a big file."""
    path = tmp_path / f"{kind}.json"
    if kind == "devzero":
        path.symlink_to("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    elif kind == "oversized":
        path.write_bytes(b" " * (rio.MAX_JSON_BYTES + 1))
    return path


BAD_FILE = {"devzero": "found a character device", "fifo": "found a FIFO",
            "folder": "found a folder", "oversized": "over the [0-9,]+-byte limit"}


# ---------------------------------------------------------------- save never deletes
def test_save_onto_a_file_is_refused_and_the_file_kept(tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    with pytest.raises(ValueError, match=r"notes.txt is a file, not a model folder"):
        rk.save(_tiny(), target)
    assert target.read_text() == "mine"


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_foreign_folder_is_refused_or_only_rnnkit_files_are_written(tmp_path, overwrite):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "cat.jpg").write_bytes(b"\xff\xd8 a cat")
    if not overwrite:
        with pytest.raises(ValueError, match=r"photos is a non-empty folder that is not an "
                                             r"rnnkit model folder.*overwrite=True"):
            rk.save(_tiny(), folder)
        assert sorted(p.name for p in folder.iterdir()) == ["cat.jpg"]
    else:
        rk.save(_tiny(), folder, overwrite=True)
        assert isinstance(rk.load(folder), rk.Sequential)
        assert sorted(p.name for p in folder.iterdir()) == ["cat.jpg", "config.json",
                                                            "weights.safetensors"]
    assert (folder / "cat.jpg").read_bytes() == b"\xff\xd8 a cat"


def test_resaving_a_model_folder_keeps_the_users_files(tmp_path):
    folder = _saved(tmp_path)
    (folder / "metrics.json").write_text("{}")
    (folder / "plot.png").write_bytes(b"png")
    model = _tiny(units=4)
    rk.save(model, folder)
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "metrics.json",
                                                        "plot.png", "weights.safetensors"]
    assert rk.load(folder).layers[0].units == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]      # no temporary leftovers


@pytest.mark.parametrize("name", ["../escape", "config", ".hidden", "a/b", ""])
def test_extra_file_names_cannot_leave_the_folder_or_replace_the_model(tmp_path, name):
    with pytest.raises(ValueError, match="extra file name"):
        rk.save(_tiny(), tmp_path / "m", extra={name: {}})
    assert not (tmp_path / "m").exists()


# ---------------------------------------------------------------- weights
def _data_start(path):
    head = path.read_bytes()[:8]
    return 8 + int.from_bytes(head, "little")


@pytest.mark.parametrize("where", [0, 5, 0.5, -1])
def test_a_flipped_byte_in_the_weights_is_a_checksum_mismatch(tmp_path, where):
    weights = _saved(tmp_path) / "weights.safetensors"
    data = bytearray(weights.read_bytes())
    start = _data_start(weights)
    at = {0.5: (start + len(data)) // 2, -1: len(data) - 1}.get(where, start + where)
    data[at] ^= 0x10
    weights.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"weights.safetensors: checksum mismatch: the file "
                                         r"was changed or corrupted"):
        rk.load(weights.parent)


@pytest.mark.parametrize("content, match", [
    ("half", r"weights.safetensors is not a readable safetensors file"),
    ("minus-one", r"weights.safetensors is not a readable safetensors file"),
    ("seven-bytes", r"weights.safetensors is not a readable safetensors file.*shorter than"),
    ("empty", r"weights.safetensors is not a readable safetensors file: 0 bytes"),
    ("pickle", r"weights.safetensors .*looks like a Python pickle; rnnkit never unpickles"),
    ("zip", r"weights.safetensors .*zip archive.*never unpickles"),
    ("random", r"weights.safetensors is not a readable safetensors file"),
    ("header-list", r"weights.safetensors .*header is not a JSON object"),
])
def test_truncated_and_foreign_weights_are_named(tmp_path, content, match):
    weights = _saved(tmp_path) / "weights.safetensors"
    data = weights.read_bytes()
    if content == "zip":
        torch.save({"w": torch.zeros(2)}, weights)
    else:
        weights.write_bytes({
            "half": data[:len(data) // 2], "minus-one": data[:-1], "seven-bytes": data[:7],
            "empty": b"", "pickle": pickle.dumps({"w": [0.0] * 64}),
            "random": bytes(torch.randint(0, 256, (300,), dtype=torch.uint8).tolist()),
            "header-list": (2).to_bytes(8, "little") + b"[]",
        }[content])
    with pytest.raises(ValueError, match=match):
        rk.load(weights.parent)


@pytest.mark.parametrize("poison", ["all-nan", "one-inf", "one-nan-bias"])
def test_non_finite_weights_are_refused_naming_file_and_tensor(tmp_path, poison):
    model = _tiny()
    folder = _saved(tmp_path, model)           # a clean save, then weights poisoned on disk
    with torch.no_grad():
        if poison == "all-nan":
            model.layers[0].cell.weight_ih.fill_(float("nan"))
        elif poison == "one-inf":
            model.layers[1].weight[0, 1] = float("inf")
        else:
            model.layers[0].cell.bias[2] = float("nan")
    name = {"all-nan": "layers.0.cell.weight_ih", "one-inf": "layers.1.weight",
            "one-nan-bias": "layers.0.cell.bias"}[poison]
    from rnnkit.io import write_tensors
    write_tensors(folder / "weights.safetensors", model.state_dict())
    with pytest.raises(ValueError, match=rf"weights.safetensors: tensor '{name}' holds \d+ "
                                         r"NaN or infinite"):
        rk.load(folder)
    with pytest.raises(ValueError, match=rf"the model given to save .*tensor '{name}'"):
        model.save(tmp_path / "again")        # save refuses what load would refuse
    assert not (tmp_path / "again").exists()


def test_files_written_before_checksums_still_load(tmp_path):
    from safetensors.torch import save_file
    folder = _saved(tmp_path)
    model = rk.load(folder)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()},
              folder / "weights.safetensors", metadata={"format": "rnnkit-model"})
    torch.testing.assert_close(rk.load(folder).state_dict(), model.state_dict())


# ---------------------------------------------------------------- config.json
def _layer0(config):
    return config["model"]["config"]["layers"][0]


@pytest.mark.parametrize("edit, match", [
    (lambda c: _layer0(c)["config"].update(units=10**8),
     r"config.json: layers\[0\].units=100000000 is over the limit 65536"),
    (lambda c: _layer0(c)["config"].update(units=-3),
     r"config.json: layers\[0\].units must be a non-negative int, got -3"),
    (lambda c: _layer0(c)["config"].update(units="3"),
     r"config.json: layers\[0\].units must be a non-negative int, got '3'"),
    (lambda c: _layer0(c)["config"].update(units=3.0),
     r"config.json: layers\[0\].units must be a non-negative int, got 3.0"),
    (lambda c: _layer0(c)["config"].update(units=True),
     r"config.json: layers\[0\].units must be a non-negative int, got True"),
    (lambda c: _layer0(c)["config"].update(input_size=1 << 20),
     r"config.json: layers\[0\].input_size=1048576 is over the limit"),
    (lambda c: _layer0(c)["config"].update(units=0),
     r"config.json: units must be a positive int, got 0"),
    (lambda c: _layer0(c)["config"].update(units=60000, input_size=60000),
     r"config.json: the model would hold about [\d,]+ parameters, over the limit"),
    (lambda c: c["model"]["config"]["layers"].insert(
        0, {"class": "Embedding", "config": {"input_dim": 1 << 23, "output_dim": 2}}),
     r"config.json: layers\[0\].input_dim=8388608 is over the limit 4194304"),
    (lambda c: _layer0(c).update({"class": "os.system"}),
     r"config.json: unknown class 'os.system' in config at layers\[0\]"),
    (lambda c: _layer0(c).update({"class": "Linear"}),
     r"config.json: unknown class 'Linear'"),
    (lambda c: c.pop("model"), r"config.json lacks 'model'"),
    (lambda c: c.pop("format"), r"config.json is not an rnnkit-model file"),
    (lambda c: c.pop("version"), r"config.json has format version None"),
    (lambda c: _layer0(c).pop("config"),
     r"config.json: layers\[0\] must be \{'class': ..., 'config': ...\}"),
    (lambda c: c["model"].pop("class"),
     r"config.json: the model must be \{'class': ..., 'config': ...\}"),
    (lambda c: _layer0(c)["config"].update(bogus=1),
     r"config.json: invalid model config \(TypeError: .*bogus"),
    (lambda c: _layer0(c)["config"].update(activation="os.system"),
     r"config.json: .*activation"),
])
def test_bad_configs_are_refused_before_anything_is_built(tmp_path, edit, match):
    folder = _saved(tmp_path)
    config = json.loads((folder / "config.json").read_text())
    edit(config)
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=match):
        rk.load(folder)


@pytest.mark.parametrize("kind", [pytest.param(k, marks=posix) for k in BAD_FILE])
def test_config_json_must_be_a_small_regular_file(tmp_path, kind):
    folder = _saved(tmp_path)
    (folder / "config.json").unlink()
    made = _make(tmp_path, kind)
    os.replace(made, folder / "config.json") if kind != "devzero" else \
        (folder / "config.json").symlink_to("/dev/zero")
    with pytest.raises(ValueError, match=rf"config.json: .*{BAD_FILE[kind]}"):
        rk.load(folder)


@pytest.mark.parametrize("text, match", [
    ("[1, 2]", "config.json must hold a JSON object"),
    ("[" * 100_000 + "]" * 100_000, "config.json is not valid JSON.*nested too deeply"),
    ("\xff\xfe", "config.json: expected .* as UTF-8 text"),
])
def test_config_json_content_must_be_a_json_object(tmp_path, text, match):
    folder = _saved(tmp_path)
    (folder / "config.json").write_bytes(text.encode("latin-1"))
    with pytest.raises(ValueError, match=match):
        rk.load(folder)


# ---------------------------------------------------------------- vocabulary side files
@pytest.mark.parametrize("kind", [pytest.param(k, marks=posix) for k in BAD_FILE])
def test_vocabulary_must_be_a_small_regular_file(tmp_path, kind):
    path = _make(tmp_path, kind)
    with pytest.raises(ValueError, match=rf"{kind}.json: .*{BAD_FILE[kind]}"):
        TextVectorizer.load(path)


# ---------------------------------------------------------------- checkpoints
def _checkpoint(tmp_path, model=None):
    model = model or _tiny()
    path = tmp_path / "ck.safetensors"
    save_checkpoint(path, model, torch.optim.Adam(model.parameters()), torch.Generator(), 2,
                    {"loss": [1.0, 0.5]})
    return path


def _resume(path, model=None):
    model = model or _tiny()
    return load_checkpoint(path, model, torch.optim.Adam(model.parameters()), torch.Generator())


def test_a_checkpoint_resumes_into_the_same_model(tmp_path):
    assert _resume(_checkpoint(tmp_path)) == (2, {"loss": [1.0, 0.5]})


@pytest.mark.parametrize("key", ["epoch", "history", "optimizer", "param_groups",
                                 "optim_scalars", "model"])
def test_checkpoint_metadata_missing_a_key_is_named(tmp_path, key):
    path = _checkpoint(tmp_path)
    tensors, meta = rio.read_tensors(path)
    inner = json.loads(meta["rnnkit"])
    del inner[key]
    rio.write_tensors(path, tensors, {"rnnkit": json.dumps(inner)})
    with pytest.raises(ValueError, match=rf"ck.safetensors: checkpoint metadata lacks '{key}'"):
        _resume(path)
    if key == "model":
        with pytest.raises(ValueError, match="checkpoint metadata lacks 'model'"):
            rk.load(path)


@pytest.mark.parametrize("other, match", [
    (lambda: _tiny(activation="relu"), r"layers\[0\].activation='tanh'; this model has 'relu'"),
    (lambda: _tiny(units=4), r"layers\[0\].units=3; this model has 4"),
    (lambda: _tiny(cls=rk.GRU), r"layers\[0\].class='SimpleRNN'; this model has 'GRU'"),
    (lambda: rk.Sequential([rk.SimpleRNN(3, input_size=2)]),
     r"layers=.*; this model has"),
])
def test_a_checkpoint_for_another_model_names_the_first_difference(tmp_path, other, match):
    path = _checkpoint(tmp_path)
    with pytest.raises(ValueError, match=r"ck.safetensors was written for " + match):
        _resume(path, other())


def test_a_checkpoint_names_a_cell_field_inside_rnn(tmp_path):
    def make(act):
        torch.manual_seed(0)
        return rk.Sequential([rk.RNN(rk.SimpleRNNCell(2, 3, activation=act))])
    path = _checkpoint(tmp_path, make("tanh"))
    with pytest.raises(ValueError, match=r"written for layers\[0\].cell.activation='tanh'; "
                                         r"this model has 'relu'"):
        _resume(path, make("relu"))


@pytest.mark.parametrize("offset", [0, -1])
def test_a_flipped_byte_in_a_checkpoint_is_a_checksum_mismatch(tmp_path, offset):
    path = _checkpoint(tmp_path)
    data = bytearray(path.read_bytes())
    data[_data_start(path) if offset == 0 else len(data) - 1] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"ck.safetensors: checksum mismatch"):
        _resume(path)


# ---------------------------------------------------------------- Keras archives
def _keras_file(tmp_path, config, members=None, name="m.keras"):
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("metadata.json", "{}")
        z.writestr("config.json", config if isinstance(config, str) else json.dumps(config))
        z.writestr("model.weights.h5", b"\x89HDF\r\n")
        for member, data in (members or {}).items():
            z.writestr(member, data)
    return path


def _sequential(*layers):
    return {"module": "keras", "class_name": "Sequential", "registered_name": None,
            "config": {"name": "s", "layers": [
                {"module": "keras.layers", "class_name": "InputLayer",
                 "config": {"batch_shape": [None, None, 3]}, "registered_name": None},
                *layers]}}


def _dense(**config):
    return {"module": "keras.layers", "class_name": "Dense", "registered_name": None,
            "config": {"units": 1, **config}}


@pytest.mark.parametrize("config, match", [
    (_sequential({"module": "os", "class_name": "system", "config": {}}),
     r"layers\[1\] names module='os', class_name='system'"),
    (_sequential(_dense(activation={"module": "builtins", "class_name": "function",
                                    "config": "eval", "registered_name": "function"})),
     r"layers\[1\].config.activation names module='builtins'"),
    (_sequential({"module": "keras.layers", "class_name": "Lambda", "config": {}}),
     r"class_name='Lambda'"),
    (_sequential({"module": "keras.layers", "class_name": "Dense",
                  "registered_name": "custom>Evil", "config": {"units": 1}}),
     r"registered_name='custom>Evil'"),
    (_sequential(_dense(kernel_initializer={"module": "keras.initializers",
                                            "class_name": "__lambda__", "config": {}})),
     r"kernel_initializer names module='keras.initializers', class_name='__lambda__'"),
    ({**_sequential(), "module": "importlib"}, r"names module='importlib'"),
    ({**_sequential(), "compile_config": {"loss": {"module": "subprocess",
                                                   "class_name": "Popen", "config": {}}}},
     r"compile_config.loss names module='subprocess'"),
    (_sequential({"class_name": "Evil", "config": {}}), r"class_name='Evil'"),
])
def test_keras_configs_naming_foreign_objects_are_refused(tmp_path, config, match):
    path = _keras_file(tmp_path, config)
    with pytest.raises(ValueError, match=r"m.keras: config.json.*" + match):
        kx.load_keras(path)


def test_a_keras_config_json_bomb_is_refused_before_inflating(tmp_path):
    path = _keras_file(tmp_path, " " * (rio.MAX_JSON_BYTES + 1))
    assert path.stat().st_size < 100_000
    with pytest.raises(ValueError, match=r"m.keras: config.json inflates to [\d,]+ bytes"):
        kx.load_keras(path)


def test_a_keras_archive_inflating_over_the_cap_is_refused(tmp_path, monkeypatch):
    path = _keras_file(tmp_path, _sequential(), members={"assets/pad": b"\0" * (2 << 20)})
    monkeypatch.setattr(kx, "MAX_KERAS_BYTES", 1 << 20)
    with pytest.raises(ValueError, match=r"m.keras: the archive inflates to [\d,]+ bytes, over"):
        kx.load_keras(path)


def test_a_keras_archive_with_too_many_members_is_refused(tmp_path):
    path = _keras_file(tmp_path, _sequential(),
                       members={f"assets/{i}": b"" for i in range(kx.MAX_KERAS_MEMBERS)})
    with pytest.raises(ValueError, match=r"m.keras: the archive holds \d+ members, over"):
        kx.load_keras(path)


@pytest.mark.parametrize("kind, match", [
    ("text", r"m.keras is not a Keras 3 .keras file \(not a zip archive"),
    ("no-weights", r"m.keras is not a Keras 3 .keras file \(no model.weights.h5"),
    ("bad-json", r"m.keras is not a Keras 3 .keras file"),
    ("folder", r"m.keras: .*found a folder"),
    pytest.param("devzero", r"m.keras: .*found a character device", marks=posix),
])
def test_keras_files_that_are_not_keras_archives(tmp_path, kind, match):
    path = tmp_path / "m.keras"
    if kind == "text":
        path.write_text("hello")
    elif kind == "no-weights":
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("config.json", json.dumps(_sequential()))
    elif kind == "bad-json":
        _keras_file(tmp_path, "{not json")
    elif kind == "folder":
        path.mkdir()
    else:
        path.symlink_to("/dev/zero")
    with pytest.raises(ValueError, match=match):
        kx.load_keras(path)


def test_convert_refuses_a_keras_file_naming_os_before_keras_reads_it(tmp_path):
    from typer.testing import CliRunner

    from rnnkit.cli.main import app
    path = _keras_file(tmp_path, _sequential({"module": "os", "class_name": "system",
                                              "config": {}}))
    result = CliRunner().invoke(app, ["convert", str(path), "--from", "keras",
                                      "--to", str(tmp_path / "out")])
    assert result.exit_code != 0
    assert "module='os'" in " ".join(result.output.replace("│", " ").split())
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- other side files
@pytest.mark.parametrize("text, match", [
    ("{not json", r"w.json is not valid JSON"),
    ("[1, 2]", r"w.json: expected a JSON object of arrays"),
    ('{"weight_ih": [[1, "a"]], "weight_hh": [[1]]}', r"w.json: weight_ih must be a numeric"),
    ('{"weight_ih": [[1], [2, 3]], "weight_hh": [[1]]}', r"w.json: weight_ih must be a numeric"),
    ('{"weight_ih": [[NaN]], "weight_hh": [[1]]}', r"w.json: weight_ih holds NaN"),
    ('{"weight_ih": [[1]]}', r"w.json: weight_hh must be a 2-D array"),
])
def test_explain_weights_files_are_checked(tmp_path, text, match):
    path = tmp_path / "w.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=match):
        load_weights(path, Cell("simple", activation="tanh"))


@pytest.mark.parametrize("kind", [pytest.param(k, marks=posix)
                                  for k in ("devzero", "fifo", "folder")])
def test_side_text_files_must_be_regular(tmp_path, kind):
    from rnnkit.cli.generate import _load_text
    path = _make(tmp_path, kind)
    with pytest.raises(ValueError, match=rf"{kind}.json: .*{BAD_FILE[kind]}"):
        read_pairs(path)
    with pytest.raises(ValueError, match=rf"{kind}.json: .*{BAD_FILE[kind]}"):
        _load_text(str(path))
    with pytest.raises(ValueError, match=rf"{kind}.json: .*{BAD_FILE[kind]}"):
        load_weights(path, Cell("simple"))


def test_sentence_pairs_over_the_size_cap_are_refused(tmp_path, monkeypatch):
    import rnnkit.datasets.pairs as pairs
    path = tmp_path / "pairs.txt"
    path.write_text("hello\tbonjour\n" * 100)
    monkeypatch.setattr(pairs, "MAX_TEXT_BYTES", 1000)
    with pytest.raises(ValueError, match=r"pairs.txt: sentence pairs .* over the 1,000-byte"):
        read_pairs(path)
    path.write_bytes(b"caf\xe9\tcafe\n")
    monkeypatch.undo()
    with pytest.raises(ValueError, match=r"pairs.txt: expected UTF-8 text"):
        read_pairs(path)
