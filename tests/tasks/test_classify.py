"""SequenceClassifier: learns, padding never changes a prediction, saves, reports, CLI."""

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import rnnkit as rk
from rnnkit.cli.main import app
from rnnkit.tasks import SequenceClassifier
from rnnkit.tasks.classify import classification_metrics

# a word task only an order-aware model solves: is "not" right before "good"?
POS = ["good film", "a good story", "not bad at all", "good and not long", "very good"]
NEG = ["not good", "a not good story", "bad film", "this is not good", "bad and not good"]


def _texts(n=8):
    return (POS + NEG) * n, ([1] * len(POS) + [0] * len(NEG)) * n


@pytest.mark.parametrize("cell, bidirectional, pooling", [("lstm", True, "last"),
                                                          ("gru", False, "mean")])
def test_text_classifier_learns_and_padding_never_changes_a_prediction(cell, bidirectional,
                                                                       pooling):
    x, y = _texts()
    clf = SequenceClassifier(cell=cell, units=16, bidirectional=bidirectional,
                             pooling=pooling, embedding=8, lr=1e-2)
    clf.fit(x, y, epochs=40, batch_size=16, val=0.0, verbose=0)
    assert clf.evaluate(POS + NEG, [1] * 5 + [0] * 5)["accuracy"] == 1.0
    alone = clf.predict_proba(["good film"])                    # 2 tokens, no padding
    padded = clf.predict_proba(["good film", "a not good story about a long film"])
    np.testing.assert_allclose(alone[0], padded[0], atol=1e-6)  # the tutorial's check


def test_multiclass_float_sequences_save_load_and_report(tmp_path):
    d = rk.datasets.load("digits")
    train, test = d.split(0.2, seed=0)
    clf = SequenceClassifier(cell="gru", units=32, lr=3e-3)
    clf.fit(train.x[:600], train.y[:600], epochs=6, verbose=0)
    m = clf.evaluate(test.x, test.y)
    assert m["accuracy"] > 0.6 and len(m["confusion"]) == 10
    clf.save(tmp_path / "m")
    back = SequenceClassifier.load(tmp_path / "m")
    np.testing.assert_array_equal(back.predict(test.x[:50]), clf.predict(test.x[:50]))
    metrics = clf.report(tmp_path / "r", test.x, test.y)
    assert json.loads((tmp_path / "r" / "metrics.json").read_text())["accuracy"] == \
        metrics["accuracy"]
    assert (tmp_path / "r" / "confusion.png").stat().st_size > 5000


def test_metrics_by_hand():
    m = classification_metrics(np.array([0, 1, 1, 1]), np.array([0, 1, 0, 1]), ("a", "b"))
    assert m["accuracy"] == 0.75 and m["confusion"] == [[1, 1], [0, 2]]
    assert m["per_class"]["b"]["precision"] == pytest.approx(2 / 3)
    assert m["per_class"]["a"]["recall"] == 0.5


def test_bad_input_is_named():
    clf = SequenceClassifier(cell="gru", units=4)
    with pytest.raises(ValueError, match="one class only"):
        clf.fit(["a b", "b a"], [1, 1], epochs=1, verbose=0)
    with pytest.raises(ValueError, match="cell must be one of"):
        SequenceClassifier(cell="transformer")
    with pytest.raises(ValueError, match="not trained"):
        clf.predict(["a"])
    clf.fit(["a b", "b a"] * 4, [0, 1] * 4, epochs=1, val=0.0, verbose=0)
    with pytest.raises(ValueError, match="trained on texts"):
        clf.predict(torch.zeros(1, 2, 3).numpy())
    with pytest.raises(ValueError, match="label 'maybe' was not seen"):
        clf.evaluate(["a"], ["maybe"])


def test_cli_classify_quick_and_compare(tmp_path):
    r = CliRunner().invoke(app, ["classify", "digits", "--quick", "--compare",
                                 "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    for cell in ("simple", "lstm", "gru"):
        assert cell in r.output and (tmp_path / cell / "metrics.json").is_file()
    bad = CliRunner().invoke(app, ["classify", "imagenet"])
    assert bad.exit_code != 0 and "unknown dataset" in bad.output
