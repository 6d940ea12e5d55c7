"""``rnnkit convert`` through CliRunner: torch and Keras in, rnnkit / ONNX / Keras out."""

import os

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

import rnnkit as rk
from rnnkit.cli.main import app

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")


def _run(*args):
    return CliRunner().invoke(app, ["convert", *map(str, args)])


def _text(result) -> str:
    """The output with rich's error box and line wrapping taken out."""
    return " ".join(result.output.replace("│", " ").replace("╭", " ").replace("╰", " ").split())


def test_torch_state_dict_to_rnnkit_folder_with_parity(tmp_path):
    torch.manual_seed(0)
    module = nn.GRU(3, 8, num_layers=2, batch_first=True, bidirectional=True)
    torch.save(module.state_dict(), tmp_path / "gru.pt")
    result = _run(tmp_path / "gru.pt", "--from", "torch", "--arch", "gru:8x2:bi",
                  "--to", tmp_path / "m")
    assert result.exit_code == 0, result.output
    assert "torch.nn -> rnnkit" in result.output and "ok" in result.output
    model = rk.load(tmp_path / "m")
    x = torch.randn(2, 5, 3)
    torch.testing.assert_close(model(x), module(x)[0], atol=1e-5, rtol=0)
    bad = _run(tmp_path / "gru.pt", "--from", "torch", "--arch", "lstm:8x2",
               "--to", tmp_path / "n")
    assert bad.exit_code != 0 and "does not fit --arch" in _text(bad)
    worse = _run(tmp_path / "gru.pt", "--from", "torch", "--arch", "lstm:eight",
                 "--to", tmp_path / "n")
    assert worse.exit_code != 0 and "expected CELL:UNITSxLAYERS" in _text(worse)


def test_rnnkit_to_onnx_and_dry_run(tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    torch.manual_seed(1)
    rk.save(rk.Sequential([rk.LSTM(4, input_size=2), rk.Dense(1, input_size=4)]), tmp_path / "m")
    result = _run(tmp_path / "m", "--from", "rnnkit", "--to", tmp_path / "m.onnx")
    assert result.exit_code == 0, result.output
    assert "onnxruntime" in result.output and "DIFFERS" not in result.output
    assert (tmp_path / "m.onnx").is_file()
    dry = _run(tmp_path / "m", "--from", "rnnkit", "--to", tmp_path / "copy", "--dry-run")
    assert dry.exit_code == 0 and not (tmp_path / "copy").exists()


def test_keras_file_to_rnnkit_and_back(tmp_path):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    kmodel = keras.Sequential([keras.Input((None, 3)), keras.layers.GRU(4, reset_after=False),
                               keras.layers.Dense(1)])
    kmodel.save(tmp_path / "k.keras")
    result = _run(tmp_path / "k.keras", "--from", "keras", "--to", tmp_path / "m")
    assert result.exit_code == 0, result.output
    assert "Keras -> rnnkit" in result.output and "DIFFERS" not in result.output
    back = _run(tmp_path / "m", "--from", "rnnkit", "--to", tmp_path / "back.keras")
    assert back.exit_code == 0 and "rnnkit -> Keras" in back.output
    assert (tmp_path / "back.keras").is_file()


def test_a_forecast_folder_whose_forecasts_leave_the_network_is_refused_by_name(tmp_path):
    """The ES-RNN hybrid (smoothing between network steps) and auto's mean of it with the
    RNN have no one network to export: the error says so and names the rnn/ member."""
    import numpy as np

    from rnnkit.tasks import AutoForecaster, ForecastConfig, HybridForecaster
    from rnnkit.tasks.hybrid import HybridConfig, HybridPreset
    from rnnkit.types import Choice
    t = np.arange(120.0)
    y = 100 + t + 10 * np.sin(2 * np.pi * t / 12)
    hybrid = HybridForecaster(window=12, season=12, units=4)
    hybrid.fit(y, epochs=1, verbose=0)
    hybrid.save(tmp_path / "h")
    result = _run(tmp_path / "h", "--from", "rnnkit", "--to", tmp_path / "h.onnx")
    assert result.exit_code != 0 and "holds the ES-RNN hybrid" in _text(result)
    auto = AutoForecaster(ForecastConfig(cell="gru", units=4, window=12, season=12),
                          HybridPreset(HybridConfig(units=4, window=12, season=12), epochs=1),
                          stats=False)
    auto.fit(y, epochs=1, verbose=0)
    auto.chosen, auto.choice = auto.candidates["mean"], Choice("mean", "set by the test")
    auto.save(tmp_path / "m")
    result = _run(tmp_path / "m", "--from", "rnnkit", "--to", tmp_path / "m.onnx")
    text = _text(result)
    assert result.exit_code != 0 and "the mean of an RNN and the ES-RNN hybrid" in text
    assert "rnn/: convert that folder" in text and not (tmp_path / "m.onnx").exists()
    result = _run(tmp_path / "m" / "rnn", "--from", "rnnkit", "--to", tmp_path / "r.onnx")
    assert result.exit_code == 0, result.output                  # its RNN member converts
