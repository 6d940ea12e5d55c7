"""ONNX export: onnxruntime equals PyTorch for two sequence lengths from one file, with and
without state inputs; streaming through the exported state equals one long run."""

import numpy as np
import pytest
import torch

import rnnkit as rk

pytest.importorskip("onnx", reason="the [onnx] test extra (make test installs it)")
ort = pytest.importorskip("onnxruntime", reason="the [onnx] test extra (make test installs it)")
from rnnkit.interop.onnx import check, export  # noqa: E402

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
def test_onnxruntime_equals_torch_for_two_lengths(name, state_inputs, tmp_path):
    torch.manual_seed(0)
    model = MODELS[name]()
    path = export(model, tmp_path / "m.onnx", state_inputs=state_inputs)
    report = check(model, path, lengths=(3, 11))
    assert report and max(report.values()) < 1e-5, report


def test_streaming_through_exported_states_equals_one_run(tmp_path):
    torch.manual_seed(1)
    model = rk.LSTM(4, input_size=2, return_sequences=True)
    session = ort.InferenceSession(str(export(model, tmp_path / "s.onnx")))
    x = torch.randn(1, 10, 2)
    h = c = np.zeros((1, 4), np.float32)
    parts = []
    for chunk in (x[:, :4], x[:, 4:]):
        y, h, c = session.run(None, {"x": chunk.numpy(), "h_0_in": h, "c_0_in": c})
        parts.append(y)
    with torch.no_grad():
        full = model(x).numpy()
    np.testing.assert_allclose(np.concatenate(parts, 1), full, atol=1e-5)


def test_export_refusals(tmp_path):
    with pytest.raises(ValueError, match="reset_after=False"):
        export(rk.GRU(3, input_size=2, reset_after=False), tmp_path / "a.onnx")
    with pytest.raises(ValueError, match="cannot stream"):
        export(rk.Sequential([rk.Bidirectional(rk.LSTM(3, input_size=2))]), tmp_path / "b.onnx")
    with pytest.raises(ValueError, match="padding masks"):
        export(rk.Sequential([rk.Masking(0.0), rk.LSTM(3, input_size=2)]), tmp_path / "c.onnx")
