"""precision= reaches the training of every task, and --precision every training command."""

import numpy as np
import pytest
from typer.testing import CliRunner

from rnnkit.cli.main import app
from rnnkit.tasks import Forecaster, SequenceClassifier, TextGenerator


def test_the_classifier_trains_in_bf16_when_asked():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 8, 8)).astype(np.float32), rng.integers(0, 3, 64)
    losses = {}
    for p in ("fp32", "bf16"):
        clf = SequenceClassifier(cell="gru", units=16)
        clf.fit(x, y, epochs=2, verbose=0, precision=p, seed=0)
        assert clf.model._trainer.precision_choice.kind == p
        losses[p] = clf.history["loss"]
    assert losses["bf16"] != losses["fp32"]                      # the products ran in bf16
    np.testing.assert_allclose(losses["bf16"], losses["fp32"], rtol=1e-2)


def test_the_forecaster_and_generator_take_precision_and_refuse_fp16():
    t = np.arange(120, dtype=np.float64)
    f = Forecaster(cell="gru", units=8, window=6)
    f.fit((np.sin(t / 5) + 2).astype(np.float32), epochs=1, verbose=0, precision="auto")
    assert f.model(__import__("torch").zeros(1, 6, 1)).shape == (1, 1)
    gen = TextGenerator(cell="gru", units=8, embedding=4, seq_len=10, batch_size=2)
    with pytest.raises(ValueError, match="precision"):
        gen.fit("to be or not to be " * 20, epochs=1, verbose=0, precision="fp16")


@pytest.mark.parametrize("command", [["classify", "digits"], ["translate", "tiny"],
                                     ["forecast", "sine"]])
def test_every_training_command_refuses_a_bad_precision_by_name(command):
    out = CliRunner().invoke(app, [*command, "--quick", "--dry-run", "--precision", "fp16"])
    assert out.exit_code == 2 and "--precision" in out.output
    assert "must be one of fp32, bf16, auto, got 'fp16'" in out.output


def test_the_plan_names_the_precision():
    out = CliRunner().invoke(app, ["classify", "digits", "--quick", "--dry-run",
                                   "--precision", "bf16"])
    assert out.exit_code == 0, out.output
    assert "precision" in out.output and "bf16" in out.output
