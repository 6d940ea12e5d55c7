"""ONNX export: onnxruntime equals PyTorch for two sequence lengths from one file, with and
without state inputs and a lengths input; streaming through the exported state equals one
long run.  Every cell kind: test_onnx_cells.py."""

import numpy as np
import pytest
import torch

import rnnkit as rk

pytest.importorskip("onnx", reason="the [onnx] test extra (make test installs it)")
ort = pytest.importorskip("onnxruntime", reason="the [onnx] test extra (make test installs it)")
from rnnkit.interop.onnx import check, export, read_report  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning",
                                        "ignore::UserWarning")

MODELS = {
    "lstm": lambda: rk.LSTM(6, input_size=3, return_sequences=True),
    "gru-stack-dense": lambda: rk.Sequential([rk.GRU(5, input_size=3, return_sequences=True),
                                              rk.SimpleRNN(4, activation="relu"),
                                              rk.Dense(2, activation="tanh")]),
    "embedding-lstm": lambda: rk.Sequential([rk.Embedding(30, 4), rk.LSTM(5), rk.Dense(3)]),
}


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("state_inputs", [True, False])
@pytest.mark.parametrize("lengths", [True, False])
def test_onnxruntime_equals_torch_for_two_lengths(name, state_inputs, lengths, tmp_path):
    torch.manual_seed(0)
    model = MODELS[name]()
    path = export(model, tmp_path / "m.onnx", state_inputs=state_inputs, lengths=lengths)
    inputs = [i.name for i in ort.InferenceSession(str(path)).get_inputs()]
    assert ("lengths" in inputs) == lengths and ("h_0_in" in inputs) == state_inputs
    report = check(model, path, lengths=(3, 11))
    assert ("y masked" in report) == lengths
    assert report and max(report.values()) < 1e-5, report


def test_streaming_through_exported_states_equals_one_run(tmp_path):
    torch.manual_seed(1)
    model = rk.LSTM(4, input_size=2, return_sequences=True)
    session = ort.InferenceSession(str(export(model, tmp_path / "s.onnx")))
    x = torch.randn(1, 10, 2)
    h = c = np.zeros((1, 4), np.float32)
    parts = []
    for chunk in (x[:, :4], x[:, 4:]):
        y, h, c = session.run(None, {"x": chunk.numpy(), "lengths": [chunk.shape[1]],
                                     "h_0_in": h, "c_0_in": c})
        parts.append(y)
    with torch.no_grad():
        full = model(x).numpy()
    np.testing.assert_allclose(np.concatenate(parts, 1), full, atol=1e-5)


def test_export_refusals(tmp_path):
    with pytest.raises(ValueError, match="cannot stream"):
        export(rk.Sequential([rk.Bidirectional(rk.LSTM(3, input_size=2))]), tmp_path / "b.onnx",
               state_inputs=True)
    assert not list(tmp_path.glob("*.onnx"))


def test_what_torch_could_not_export_now_exports(tmp_path):
    """Issue 17: a reset-before GRU and a Bidirectional model export with the defaults."""
    model = rk.Sequential([rk.Bidirectional(rk.GRU(3, input_size=2, reset_after=False))])
    path = export(model, tmp_path / "a.onnx")
    report = read_report(path)
    assert not report.state_inputs and report.inputs == ("x", "lengths")
    assert "linear_before_reset=0" in report.layers[0].op
    assert max(check(model, path).values()) < 1e-5
