"""The TF-IDF baselines beside SequenceClassifier, and the options that help RNNs on short
texts (max pooling, embedding dropout, language-model pretraining)."""

import copy
import json
import math
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
from rnnkit.tasks.classify import ClassifierConfig

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
    assert emb.dropout == 0.5 and clf.model.layers[1].weight_dropout == 0.0
    np.testing.assert_array_equal(clf.predict_proba(x[:20]), clf.predict_proba(x[:20]))
    ids = torch.tensor([[2, 3, 2, 3, 2, 3, 4, 5, 4, 5]] * 4)
    plain = torch.nn.functional.embedding(ids, emb.weight).detach()
    torch.manual_seed(0)
    emb.train()
    dropped = emb(ids).detach()
    emb.eval()
    ratio = (dropped / plain)[..., 0]                     # 0 or 2 per occurrence
    assert set(torch.unique(ratio.round(decimals=4)).tolist()) <= {0.0, 2.0}
    for token in (2, 3, 4, 5):                            # one draw per word, not per place
        assert torch.unique(ratio[ids == token].round(decimals=4)).numel() == 1


def test_weight_dropout_reaches_both_directions_is_off_at_prediction_and_is_saved(tmp_path):
    clf, x, y = _fitted(weight_dropout=0.5, embedding_dropout=0.1, bidirectional=True,
                        pooling="mean")
    bi = clf.model.layers[1]
    assert bi.forward_layer.weight_dropout == bi.backward_layer.weight_dropout == 0.5
    assert isinstance(bi.forward_layer.cell.weight_hh, torch.nn.Parameter)
    np.testing.assert_array_equal(clf.predict_proba(x[:30]), clf.predict_proba(x[:30]))
    clf.save(tmp_path / "m")
    back = SequenceClassifier.load(tmp_path / "m")
    assert back.config.weight_dropout == 0.5 and back.config.embedding_dropout == 0.1
    assert back.model.layers[1].backward_layer.weight_dropout == 0.5
    assert back.model.layers[0].dropout == 0.1
    np.testing.assert_array_equal(back.predict_proba(x[:30]), clf.predict_proba(x[:30]))


def test_weight_dropout_on_float_sequences_trains_with_the_mask():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 6, 3)).astype("float32"), [0, 1] * 32
    runs = {}
    for rate in (0.0, 0.5):
        clf = SequenceClassifier(cell="gru", units=8, weight_dropout=rate)
        clf.fit(x, y, epochs=1, val=0.0, seed=0, verbose=0)
        runs[rate] = clf.model.layers[0].cell.weight_hh.detach()
        if rate:          # the C++ step has no weight drop: autograd runs the masked matrix
            assert clf.model._trainer.step_choice.kind == "autograd"
    assert not torch.allclose(runs[0.0], runs[0.5])       # same seed: the masks made the change


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


def _spy_on_pretraining(monkeypatch):
    """Record the encoder before and after the language-model epochs, the ids they were
    given, every batch the Embedding saw meanwhile, and the weights fine-tuning starts from."""
    import rnnkit as rk
    seen = {"batches": []}
    pretrain, fit = SequenceClassifier._pretrain_steps, rk.Sequential.fit

    def pretrain_spy(self, ids, *args):
        seen["ids"], seen["before"] = ids.clone(), copy.deepcopy(self.model.state_dict())
        hook = self.model.layers[0].register_forward_hook(
            lambda m, inp, out: seen["batches"].append(inp[0].clone()))
        try:
            return pretrain(self, ids, *args)
        finally:
            hook.remove()
            seen["after"] = copy.deepcopy(self.model.state_dict())

    def fit_spy(model, *args, **kwargs):
        seen["start"] = copy.deepcopy(model.state_dict())
        return fit(model, *args, **kwargs)

    monkeypatch.setattr(SequenceClassifier, "_pretrain_steps", pretrain_spy)
    monkeypatch.setattr(rk.Sequential, "fit", fit_spy)
    return seen


def test_fine_tuning_starts_from_the_pretrained_encoder(monkeypatch):
    seen = _spy_on_pretraining(monkeypatch)
    x, y = _texts(64, seed=1)
    clf = SequenceClassifier(cell="gru", units=8, embedding=8, lr=1e-2, bidirectional=True,
                             pooling="max", pretrain_epochs=2)
    clf.fit(x, y, epochs=1, batch_size=32, val=0.25, seed=0, verbose=0)
    encoder = [k for k in seen["after"] if not k.startswith("layers.3.")]   # not the head
    assert any(k.startswith("layers.1.backward_layer.") for k in encoder)
    for key in encoder:
        assert torch.equal(seen["start"][key], seen["after"][key]), key  # fine-tuning's start
        assert not torch.equal(seen["after"][key], seen["before"][key]), key  # the LM moved it


def test_pretraining_reads_the_training_part_only(monkeypatch):
    seen = _spy_on_pretraining(monkeypatch)
    x, y = _texts(80, seed=1)
    test_x = ["grim grim grim cold story"] * 10              # never passed to fit
    clf = SequenceClassifier(cell="gru", units=8, embedding=8, pretrain_epochs=2)
    clf.fit(x, y, epochs=1, batch_size=16, val=0.25, seed=5, verbose=0)
    clf.evaluate(test_x, [0] * 10)
    order = np.random.default_rng(5).permutation(len(y))   # fit's split: val first, then train
    train, val = order[20:], order[:20]
    want = clf._inputs([x[i] for i in train])
    torch.testing.assert_close(seen["ids"], want, atol=0, rtol=0)
    # every batch the Embedding read is a training row; each row once per epoch
    rows = lambda t: sorted(tuple(r[r != 0].tolist()) for r in t)   # noqa: E731
    read = rows(torch.cat([torch.nn.functional.pad(b, (0, want.shape[1] - b.shape[1]))
                           for b in seen["batches"]]))
    assert read == sorted(rows(want) * 2)
    assert not set(rows(clf._inputs([x[i] for i in val]))) <= set(read)   # val rows left out
    assert len(seen["batches"]) == 2 * math.ceil(60 / 16)   # and nothing after fit (evaluate)


def test_ulmfit_fine_tuning_unfreezes_one_group_per_epoch_at_discriminative_rates(monkeypatch):
    from rnnkit.tasks import classify
    states, rates = [], []
    begin = classify._GradualUnfreezing.on_epoch_begin

    def spy(self, trainer, epoch):
        states.append(copy.deepcopy(trainer.model.state_dict()))
        rates.append([g["lr"] for g in trainer.optimizer.param_groups])
        begin(self, trainer, epoch)

    monkeypatch.setattr(classify._GradualUnfreezing, "on_epoch_begin", spy)
    x, y = _texts(64, seed=1)
    clf = SequenceClassifier(cell="gru", units=8, embedding=8, lr=1e-2, pooling="mean",
                             pretrain_epochs=1, finetune="ulmfit")
    clf.fit(x, y, epochs=4, batch_size=16, val=0.0, seed=0, verbose=0)
    states.append(copy.deepcopy(clf.model.state_dict()))
    assert rates[0] == pytest.approx([1e-2, 1e-2 / 2.6, 1e-2 / 2.6 ** 2])

    def moved(k, prefix):
        return any(not torch.equal(states[k][n], states[k + 1][n]) for n in states[k]
                   if n.startswith(prefix))

    # layers: 0 Embedding, 1 GRU, 2 mean pooling, 3 Dense (the head)
    assert [moved(k, "layers.3.") for k in range(4)] == [True] * 4
    assert [moved(k, "layers.1.") for k in range(4)] == [False, True, True, True]
    assert [moved(k, "layers.0.") for k in range(4)] == [False, False, True, True]
    assert all(p.requires_grad for p in clf.model.parameters())     # none left frozen


def test_bad_options_are_named():
    with pytest.raises(ValueError, match="pooling must be one of 'last', 'mean', 'max'"):
        ClassifierConfig(pooling="median")
    with pytest.raises(ValueError, match="embedding_dropout"):
        ClassifierConfig(embedding_dropout=1.0)
    for rate in (1.0, -0.1, float("nan")):
        with pytest.raises(ValueError, match=r"weight_dropout must be a finite number in \[0, 1\)"):
            ClassifierConfig(weight_dropout=rate)
    with pytest.raises(TypeError, match="weight_dropout must be a finite number"):
        ClassifierConfig(weight_dropout="0.5")
    with pytest.raises(ValueError, match="pretrain_epochs"):
        ClassifierConfig(pretrain_epochs=-1)
    with pytest.raises(ValueError, match="finetune='ulmfit' fine-tunes a pretrained encoder"):
        ClassifierConfig(finetune="ulmfit")
    with pytest.raises(ValueError, match="finetune must be one of 'all', 'ulmfit'"):
        ClassifierConfig(finetune="slow", pretrain_epochs=1)
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


def test_every_table_row_is_a_valid_classifier():
    from rnnkit.tutorials import classify_baselines
    systems = [system for system, _, _ in classify_baselines.VARIANTS]
    assert len(set(systems)) == len(systems)
    for _, _, options in classify_baselines.VARIANTS:
        ClassifierConfig(**options)


def test_classifiers_on_the_same_split_share_one_baseline_fit():
    a, x, y = _fitted(pooling="mean")
    b, _, _ = _fitted(pooling="max")
    ma, mb = a.evaluate(x[:40], y[:40]), b.evaluate(x[:40], y[:40])
    assert ma["baselines"] == mb["baselines"]            # the same fit, the same fit time
    c, _, _ = _fitted(val=0.5)                           # other training texts: a new fit
    assert c.evaluate(x[:40], y[:40])["baselines"]["tfidf_svm"]["train_samples"] == 60
