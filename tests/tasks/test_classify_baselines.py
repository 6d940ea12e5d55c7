"""The TF-IDF baselines beside SequenceClassifier, and the options that help RNNs on short
texts (max pooling, embedding dropout, language-model pretraining)."""

import json
import sys

import numpy as np
import pytest
import torch
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.pipeline import make_pipeline
from sklearn.svm import LinearSVC
from typer.testing import CliRunner

from rnnkit.cli.main import app
from rnnkit.tasks import SequenceClassifier
from rnnkit.tasks.classify import ClassifierConfig, _embedding_dropout

WORDS = {1: ["good", "fine", "warm", "witty", "bright"], 0: ["dull", "flat", "cold", "slow",
                                                            "grim"]}
SHARED = ["film", "story", "cast", "plot", "the", "a", "is", "very"]


def _texts(n, seed):
    """Noisy snippets: mostly shared words, a few that lean to their class, some that lie."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(n):
        y = int(rng.integers(2))
        lean = y if rng.random() < 0.8 else 1 - y
        words = list(rng.choice(SHARED, 4)) + list(rng.choice(WORDS[lean], 2))
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(y)
    return texts, np.array(labels)


def _fitted(val=0.25, **options):
    x, y = _texts(120, seed=1)
    clf = SequenceClassifier(cell="gru", units=8, embedding=8, lr=1e-2, **options)
    clf.fit(x, y, epochs=2, batch_size=16, val=val, seed=3, verbose=0)
    return clf, x, y


def test_baseline_scores_match_a_direct_scikit_learn_fit_on_the_same_split():
    clf, x, y = _fitted(val=0.25)
    # the texts the RNN trained on: fit()'s seeded shuffle, less the validation quarter
    order = np.random.default_rng(3).permutation(len(y))
    train = order[int(round(len(y) * 0.25)):]
    test_x, test_y = _texts(60, seed=2)
    m = clf.evaluate(test_x, test_y)
    assert set(m["baselines"]) == {"tfidf_svm", "tfidf_logreg"}
    for name, model in [("tfidf_svm", LinearSVC(C=1.0, random_state=3)),
                        ("tfidf_logreg", LogisticRegression(C=10.0, max_iter=1000))]:
        direct = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True), model)
        direct.fit([x[i] for i in train], y[train])
        pred = direct.predict(test_x)
        got = m["baselines"][name]
        assert got["train_samples"] == len(train) == 90
        assert got["accuracy"] == pytest.approx(accuracy_score(test_y, pred), abs=1e-12)
        assert got["macro_f1"] == pytest.approx(f1_score(test_y, pred, average="macro"),
                                                abs=1e-12)
        assert got["fit_seconds"] > 0
    assert 0.6 < m["baselines"]["tfidf_svm"]["accuracy"] < 1.0     # a real, noisy task


def test_report_includes_the_baseline_and_a_loaded_model_says_why_it_has_none(tmp_path):
    clf, x, y = _fitted(pooling="max", bidirectional=True)
    metrics = clf.report(tmp_path / "r", x[:40], y[:40])
    saved = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert saved["baselines"] == metrics["baselines"]
    assert saved["baselines"]["tfidf_svm"]["system"] == "TF-IDF 1-2-grams + linear SVM"
    clf.save(tmp_path / "m")
    back = SequenceClassifier.load(tmp_path / "m")
    np.testing.assert_array_equal(back.predict(x[:20]), clf.predict(x[:20]))
    note = back.evaluate(x[:40], y[:40])["baselines_note"]
    assert "training texts" in note and "baselines" not in back.evaluate(x[:40], y[:40])


def _without_sklearn(monkeypatch):
    for name in [m for m in sys.modules if m == "sklearn" or m.startswith("sklearn.")]:
        monkeypatch.setitem(sys.modules, name, None)     # None in sys.modules: ImportError
    monkeypatch.setitem(sys.modules, "sklearn", None)


def test_missing_extra_is_one_line_and_never_a_failure(monkeypatch):
    clf, x, y = _fitted()
    _without_sklearn(monkeypatch)
    m = clf.evaluate(x[:40], y[:40])
    assert "baselines" not in m and m["accuracy"] >= 0
    assert m["baselines_note"] == ("TF-IDF baseline skipped: scikit-learn is not installed "
                                   "(pip install 'rnnkit[baselines]')")


def test_cli_prints_the_baseline_rows_or_the_missing_extra_line(monkeypatch):
    r = CliRunner().invoke(app, ["classify", "reviews", "--quick", "--pooling", "max",
                                 "--bidirectional", "--quiet"])
    assert r.exit_code == 0, r.output
    rows = {ln.split()[1]: ln for ln in r.output.splitlines() if ln.startswith("quick: ")
            and len(ln.split()) > 2}
    assert "tfidf+svm" in rows and "tfidf+logreg" in rows and "bi-gru" in rows, r.output
    assert float(rows["tfidf+svm"].split()[2]) > 0.5
    _without_sklearn(monkeypatch)
    r = CliRunner().invoke(app, ["classify", "reviews", "--quick", "--quiet"])
    assert r.exit_code == 0, r.output
    assert "quick: TF-IDF baseline skipped: scikit-learn is not installed (pip install " \
           "'rnnkit[baselines]')" in r.output
    assert "tfidf+svm" not in r.output


def test_embedding_dropout_drops_whole_words_while_training_only():
    clf, x, y = _fitted(embedding_dropout=0.5)
    emb = clf.model.layers[0]
    assert not emb._forward_hooks                        # removed after fit: a plain Embedding
    ids = torch.tensor([[2, 3, 2, 3, 2, 3, 4, 5, 4, 5]] * 4)
    plain = emb(ids)
    torch.manual_seed(0)
    with _embedding_dropout(clf.model, 0.5):
        emb.train()
        dropped = emb(ids)
        emb.eval()
        torch.testing.assert_close(emb(ids), plain)      # no dropout at prediction
    ratio = (dropped / plain)[..., 0]                     # 0 or 2 per occurrence
    assert set(torch.unique(ratio.round(decimals=4)).tolist()) <= {0.0, 2.0}
    for token in (2, 3, 4, 5):                            # one draw per word, not per place
        assert torch.unique(ratio[ids == token].round(decimals=4)).numel() == 1


def test_language_model_pretraining_learns_and_feeds_the_classifier():
    x, y = _texts(64, seed=1)
    clf = SequenceClassifier(cell="gru", units=8, embedding=8, lr=1e-2, bidirectional=True,
                             pooling="max", pretrain_epochs=3)
    history = clf.fit(x, y, epochs=1, batch_size=32, val=0.0, seed=0, verbose=0)
    assert len(history["lm_loss"]) == 3 and history["lm_loss"][-1] < history["lm_loss"][0]
    assert "loss" in history and clf.fit_seconds > 0
    # the same seed without pretraining gives another encoder: the LM weights were kept
    plain = SequenceClassifier(cell="gru", units=8, embedding=8, lr=1e-2, bidirectional=True,
                               pooling="max")
    plain.fit(x, y, epochs=1, batch_size=32, val=0.0, seed=0, verbose=0)
    assert not torch.allclose(clf.model.layers[0].weight, plain.model.layers[0].weight,
                              atol=1e-3)


def test_bad_options_are_named():
    with pytest.raises(ValueError, match="pooling must be one of 'last', 'mean', 'max'"):
        ClassifierConfig(pooling="median")
    with pytest.raises(ValueError, match="embedding_dropout"):
        ClassifierConfig(embedding_dropout=1.0)
    with pytest.raises(ValueError, match="pretrain_epochs"):
        ClassifierConfig(pretrain_epochs=-1)
    with pytest.raises(ValueError, match="apply to texts only"):
        SequenceClassifier(embedding_dropout=0.1).fit(np.zeros((8, 3, 2)), [0, 1] * 4,
                                                      epochs=1, verbose=0)


def test_the_table_conclusion_is_computed_from_its_rows():
    from rnnkit.tutorials import Report, Row, classify_baselines, get
    assert get("classify-baselines") is classify_baselines
    rows = [Row("TF-IDF 1-2-grams + linear SVM", "", [1.0], {"test accuracy": [0.794]}),
            Row("rnnkit GRU, last state", "", [20.0], {"test accuracy": [0.765]}),
            Row("rnnkit BiGRU, max pooling", "", [40.0], {"test accuracy": [0.781]})]
    said = classify_baselines.conclusions(Report("t", ["test accuracy"], rows))
    assert said == ["Best RNN, rnnkit BiGRU, max pooling (0.7810), loses to TF-IDF 1-2-grams "
                    "+ linear SVM (0.7940): -1.3 points of accuracy."]
    rows[2].scores["test accuracy"] = [0.796]
    said = classify_baselines.conclusions(Report("t", ["test accuracy"], rows))
    assert said[0].startswith("Best RNN, rnnkit BiGRU, max pooling (0.7960), ties with")


def test_classifiers_on_the_same_split_share_one_baseline_fit():
    a, x, y = _fitted(pooling="mean")
    b, _, _ = _fitted(pooling="max")
    ma, mb = a.evaluate(x[:40], y[:40]), b.evaluate(x[:40], y[:40])
    assert ma["baselines"] == mb["baselines"]            # the same fit, the same fit time
    c, _, _ = _fitted(val=0.5)                           # other training texts: a new fit
    assert c.evaluate(x[:40], y[:40])["baselines"]["tfidf_svm"]["train_samples"] == 60
