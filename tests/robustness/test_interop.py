"""Red-team campaign 2 on the converters (ids I*, C16): bad paths, options and weights are a
ValueError or TypeError naming the file, option or parameter, before torch, onnxruntime or
Keras fail in their own words; a foreign pickle is refused without advising to unpickle it."""

import os
import pickle

import pytest
import torch
from torch import nn

import rnnkit as rk
from rnnkit.interop import from_torch, to_torch
from rnnkit.interop import onnx as rk_onnx
from rnnkit.interop.keras import from_keras
from rnnkit.interop.torch_native import assign, read_state_dict

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


def _gru():
    return rk.GRU(4, input_size=3)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    path = tmp_path_factory.mktemp("onnx") / "gru.onnx"
    torch.manual_seed(0)
    model = _gru()
    rk_onnx.export(model, path)
    return model, path


def _nan(module, name, index=(0, 0), value=float("nan")):
    with torch.no_grad():
        getattr(module, name)[index] = value
    return module


def _save(d, obj, name="w.pt"):
    path = d / name
    torch.save(obj, path)
    return path


class _Evil:
    def __reduce__(self):
        return (os.system, ("true",))       # never run: the restricted loader refuses it


def _pickle(d):
    path = d / "evil.pt"
    path.write_bytes(pickle.dumps({"weight_ih_l0": _Evil()}, protocol=4))
    return path


# (id, call taking the tmp folder, exception type, regex the message must match)
EXPORT = [
    ("I14-dev-null-folder", lambda d: rk_onnx.export(_gru(), "/dev/null/m.onnx"),
     ValueError, r"cannot write /dev/null/m\.onnx: /dev/null is a file, not a folder"),
    ("missing-folder", lambda d: rk_onnx.export(_gru(), d / "no" / "m.onnx"),
     ValueError, r"cannot write .*m\.onnx: the folder .*no does not exist"),
    ("path-is-folder", lambda d: rk_onnx.export(_gru(), d),
     ValueError, r"is a folder; give a file name"),
    ("path-none", lambda d: rk_onnx.export(_gru(), None),
     TypeError, r"path must be a file name"),
    ("I15-opset-5", lambda d: rk_onnx.export(_gru(), d / "m.onnx", opset=5),
     ValueError, r"opset must be an int in 9\.\.20.*got 5"),
    ("opset-too-new", lambda d: rk_onnx.export(_gru(), d / "m.onnx", opset=99),
     ValueError, r"opset must be an int in 9\.\.20.*got 99"),
    ("opset-bool", lambda d: rk_onnx.export(_gru(), d / "m.onnx", opset=True),
     ValueError, r"opset must be an int .*got True"),
    ("opset-str", lambda d: rk_onnx.export(_gru(), d / "m.onnx", opset="17"),
     ValueError, r"opset must be an int .*got '17'"),
    ("state-inputs-str", lambda d: rk_onnx.export(_gru(), d / "m.onnx", state_inputs="no"),
     TypeError, r"state_inputs must be True or False, got 'no'"),
    ("model-str", lambda d: rk_onnx.export("gru", d / "m.onnx"),
     TypeError, r"export needs an rnnkit layer or Sequential, got str"),
]

CHECK = [
    ("I18-missing-file", lambda m, p, d: rk_onnx.check(m, d / "nope.onnx"),
     ValueError, r"nope\.onnx: no such file \(expected an ONNX model\)"),
    ("I19-garbage-file", lambda m, p, d: rk_onnx.check(m, _text(d, "garbage.onnx")),
     ValueError, r"garbage\.onnx is not a readable ONNX model"),
    ("folder", lambda m, p, d: rk_onnx.check(m, d),
     ValueError, r"expected an ONNX model in a regular file, found a folder"),
    ("path-none", lambda m, p, d: rk_onnx.check(m, None),
     TypeError, r"path must be an ONNX file name"),
    ("other-model", lambda m, p, d: rk_onnx.check(rk.LSTM(4, input_size=3), p),
     ValueError, r"gru\.onnx was not exported from this model"),
    ("lengths-zero", lambda m, p, d: rk_onnx.check(m, p, lengths=(0,)),
     ValueError, r"lengths must be an int >= 1, got 0"),
    ("lengths-int", lambda m, p, d: rk_onnx.check(m, p, lengths=5),
     ValueError, r"lengths must be a non-empty tuple"),
    ("batch-zero", lambda m, p, d: rk_onnx.check(m, p, batch=0),
     ValueError, r"batch must be an int >= 1, got 0"),
    ("seed-negative", lambda m, p, d: rk_onnx.check(m, p, seed=-1),
     ValueError, r"seed must be an int >= 0, got -1"),
    ("model-str", lambda m, p, d: rk_onnx.check("gru", p),
     TypeError, r"check needs the rnnkit model"),
]

CONVERT = [
    ("I23-from-keras-str", lambda d: from_keras("not a model"),
     TypeError, r"from_keras converts a Keras model or layer .*got str"),
    ("from-keras-none", lambda d: from_keras(None),
     TypeError, r"from_keras converts a Keras model or layer .*got NoneType"),
    ("I3-from-torch-nan", lambda d: from_torch(_nan(nn.GRU(3, 4), "weight_hh_l0")),
     ValueError, r"nn\.GRU parameter 'weight_hh_l0' holds 1 NaN or infinite value"),
    ("from-torch-inf-cell", lambda d: from_torch(_nan(nn.LSTMCell(3, 4), "bias_ih", 1,
                                                      float("inf"))),
     ValueError, r"nn\.LSTMCell parameter 'bias_ih' holds 1 NaN or infinite"),
    ("from-torch-nan-reverse", lambda d: from_torch(_nan(
        nn.LSTM(3, 4, bidirectional=True), "weight_ih_l0_reverse")),
     ValueError, r"parameter 'weight_ih_l0_reverse' holds 1 NaN"),
    ("to-torch-nan", lambda d: to_torch(_nan(rk.GRU(4, input_size=3).cell, "weight_hh")),
     ValueError, r"weight_hh.* holds 1 NaN or infinite"),
    ("assign-nan", lambda d: assign(nn.Linear(2, 2), {
        "weight": torch.full((2, 2), float("nan")).numpy(),
        "bias": torch.zeros(2).numpy()}, "Dense"),
     ValueError, r"Dense: weight holds 4 NaN or infinite value"),
    ("C16-foreign-pickle", lambda d: read_state_dict(_pickle(d)),
     ValueError, r"evil\.pt holds Python objects besides tensors.*never unpickles"),
    ("torch-save-global", lambda d: read_state_dict(_save(d, {"f": os.system})),
     ValueError, r"w\.pt holds Python objects besides tensors"),
    ("not-a-torch-file", lambda d: read_state_dict(_text(d, "w.pt")),
     ValueError, r"w\.pt is not a torch state_dict file"),
    ("a-bare-tensor", lambda d: read_state_dict(_save(d, torch.zeros(2))),
     ValueError, r"w\.pt holds a Tensor, not a state_dict"),
    ("non-tensor-entry", lambda d: read_state_dict(_save(d, {"weight_ih_l0": [1, 2]})),
     ValueError, r"w\.pt: entry 'weight_ih_l0' is a list, not a tensor"),
    ("missing-state-dict", lambda d: read_state_dict(d / "none.pt"),
     ValueError, r"none\.pt: no such file"),
]


def _text(d, name):
    path = d / name
    path.write_text("hello, not a model\n")
    return path


@pytest.mark.parametrize("call, error, pattern", [c[1:] for c in EXPORT],
                         ids=[c[0] for c in EXPORT])
def test_export_refuses_with_a_named_reason(tmp_path, call, error, pattern):
    with pytest.raises(error, match=pattern) as info:
        call(tmp_path)
    assert type(info.value) is error
    assert not list(tmp_path.glob("*.onnx"))          # nothing half-written


@pytest.mark.parametrize("call, error, pattern", [c[1:] for c in CHECK],
                         ids=[c[0] for c in CHECK])
def test_check_refuses_with_a_named_reason(tmp_path, exported, call, error, pattern):
    model, path = exported
    with pytest.raises(error, match=pattern) as info:
        call(model, path, tmp_path)
    assert type(info.value) is error


@pytest.mark.parametrize("call, error, pattern", [c[1:] for c in CONVERT],
                         ids=[c[0] for c in CONVERT])
def test_converters_refuse_with_a_named_reason(tmp_path, call, error, pattern):
    with pytest.raises(error, match=pattern) as info:
        call(tmp_path)
    assert type(info.value) is error


@pytest.mark.parametrize("make", [lambda d: read_state_dict(_pickle(d)),
                                  lambda d: read_state_dict(_save(d, {"f": os.system}))])
def test_a_foreign_pickle_refusal_never_advises_unpickling(tmp_path, make):
    with pytest.raises(ValueError) as info:
        make(tmp_path)
    message = str(info.value)
    assert "weights_only" not in message and "False" not in message
    assert "trusted source" not in message


def test_the_supported_opsets_still_export_and_check(tmp_path, exported):
    model, path = exported
    assert max(rk_onnx.check(model, path).values()) < 1e-4
    assert rk_onnx.export(model, tmp_path / "m9.onnx", opset=9).is_file()


def test_read_state_dict_returns_a_plain_state_dict(tmp_path):
    gru = nn.GRU(3, 4, batch_first=True)
    state = read_state_dict(_save(tmp_path, gru.state_dict()))
    assert sorted(state) == sorted(gru.state_dict())
    assert from_torch(gru).cell.hidden_size == 4
