"""Review sentiment: rnnkit's RNN variants beside TF-IDF + linear models, on the same split.

The split is ``rnnkit classify reviews``'s: 80/20 by the seed, and the RNNs train on the
training part less the tenth they hold out for early stopping.  The TF-IDF baselines
(word 1-2-grams, a linear SVM and logistic regression; scikit-learn) are fitted on exactly
the texts the RNNs trained on and scored on the same test texts.  The variants are what is
known to help RNNs on short texts: a bidirectional layer with max or mean pooling over time,
AWD-LSTM's embedding dropout and weight-dropped recurrent matrix, and ULMFiT's
language-model pretraining of the encoder, fine-tuned plainly or with ULMFiT's schedule
(discriminative learning rates, gradual unfreezing).
Each row trains at most 4 epochs, stopping after 1 without improvement on the held-out
tenth and keeping its best epoch's weights, to stay near a minute per row on two cores.
The GRU row ends at the same weights as `rnnkit classify reviews` (8 epochs, patience 3):
its best epoch is the first.  A pretrained row may still be improving at the cap; its
epochs are in the printed log.
"""

from __future__ import annotations

from pathlib import Path

from . import Report, Row, conclude, epochs, fit_options, verdict

NAME = "classify-baselines"
TITLE = "Review sentiment: RNN variants beside TF-IDF + linear baselines"
PUBLISHED: dict[str, float] = {}
QUICK = {"train": 400, "test": 200, "units": 16}     # --quick: seconds

# (system, settings shown, SequenceClassifier options); every row: Embedding(64), 60 tokens,
# Adam 1e-3, batch 32, as `rnnkit classify reviews`; at most 4 epochs, patience 1
VARIANTS = [
    ("rnnkit GRU, last state", "the `rnnkit classify reviews` default",
     dict(cell="gru")),
    ("rnnkit BiGRU, max pooling", "bidirectional, max over time",
     dict(cell="gru", bidirectional=True, pooling="max")),
    ("rnnkit BiGRU, mean pooling", "bidirectional, mean over time",
     dict(cell="gru", bidirectional=True, pooling="mean")),
    ("rnnkit BiGRU, max + AWD dropouts", "as above; AWD-LSTM's embedding dropout 0.1 "
     "(words) and input dropout 0.65 (features, one mask per text)",
     dict(cell="gru", bidirectional=True, pooling="max", embedding_dropout=0.1,
          dropout=0.65)),
    ("rnnkit BiGRU, max + LM pretraining", "encoder first trained 1 epoch as a language "
     "model (both directions) on the training texts", dict(cell="gru", bidirectional=True,
                                                           pooling="max", pretrain_epochs=1)),
    ("rnnkit BiGRU, mean + weight drop", "mean pooling; AWD-LSTM's DropConnect on weight_hh "
     "0.5 (one mask per batch)", dict(cell="gru", bidirectional=True, pooling="mean",
                                      weight_dropout=0.5)),
    ("rnnkit BiGRU, mean + AWD dropouts", "mean pooling; embedding dropout 0.1, input "
     "dropout 0.65, weight drop 0.5", dict(cell="gru", bidirectional=True, pooling="mean",
                                           embedding_dropout=0.1, dropout=0.65,
                                           weight_dropout=0.5)),
    ("rnnkit BiGRU, mean + LM + ULMFiT tuning", "1 language-model epoch, then ULMFiT's "
     "fine-tuning: learning rates /2.6 per layer down, one layer unfrozen per epoch",
     dict(cell="gru", bidirectional=True, pooling="mean", pretrain_epochs=1,
          finetune="ulmfit")),
]
METRICS = ["test accuracy", "macro F1"]


def _data(seed: int, quick: bool):
    from .. import datasets
    train, test = datasets.load("reviews").split(0.2, seed=seed)
    if quick:                                           # a smoke run on part of the data
        train, test = (type(p)(p.texts[:n], p.labels[:n])
                       for p, n in zip((train, test), (QUICK["train"], QUICK["test"])))
    return train, test


def _fit(options: dict, seed: int, data, quick: bool, row: str):
    from ..tasks import SequenceClassifier
    train, test = data
    clf = SequenceClassifier(units=QUICK["units"] if quick else 64, max_length=60, **options)
    clf.fit(train.texts, train.labels, epochs=epochs(1 if quick else 4), patience=1,
            seed=seed, **fit_options(row))
    return clf, clf.evaluate(test.texts, test.labels)


def _add(row: Row, seconds: float, m: dict) -> None:
    row.seconds.append(seconds)
    row.scores["test accuracy"].append(m["accuracy"])
    row.scores["macro F1"].append(m["macro_f1"])


def _add_baselines(report: Report, rows: dict[str, Row], m: dict) -> None:
    """The TF-IDF rows from an ``evaluate`` result, or its note when they are missing."""
    for b in (m.get("baselines") or {}).values():
        row = rows.setdefault(b["system"], Row(
            b["system"], f"scikit-learn, fitted on the same {b['train_samples']:,} texts",
            [], {k: [] for k in METRICS}))
        _add(row, b["fit_seconds"], b)
    if m.get("baselines_note") and m["baselines_note"] not in report.notes:
        report.notes.append(m["baselines_note"])


def run(seeds: list[int], quick: bool = False, out: str | Path | None = None) -> Report:
    report = Report(f"{TITLE} (seeds {','.join(map(str, seeds))}; medians [min-max])",
                    METRICS)
    rows: dict[str, Row] = {}           # baselines first, then the RNN variants
    scored: set[int] = set()            # seeds whose baselines are in (one fit per split)
    best = None
    for system, settings, options in VARIANTS:
        for s in seeds:
            data = _data(s, quick)
            clf, m = _fit(options, s, data, quick, f"{system.split(', ')[-1]}-seed{s}"
                          .replace(" ", "-"))
            if s not in scored:
                _add_baselines(report, rows, m)
                scored.add(s)
            _add(rows.setdefault(system, Row(system, settings, [], {k: [] for k in METRICS})),
                 clf.fit_seconds, m)
            val = max(clf.history.get("val_accuracy") or [0.0])   # chosen on validation,
            if best is None or val > best[1]:                      # never on the test part
                best = (clf, val, data[1])
    report.rows = list(rows.values())
    report.notes.append("fit s: wall-clock seconds on a shared machine, indicative only; the "
                        "RNN rows include early stopping's validation passes (and the "
                        "language-model epochs where pretrained).")
    report.quick = quick
    report.notes += conclude(report, conclusions(report))
    if out is not None and best is not None:
        clf, _, test = best
        clf.report(out, test.texts, test.labels)
        clf.save(Path(out) / "model")
        report.notes.append(f"wrote {out}/metrics.json, confusion.png, training.png, model/ "
                            "(the RNN with the best validation accuracy)")
    return report


def conclusions(report: Report) -> list[str]:
    """The best RNN row against the best baseline row, by median test accuracy."""
    rnn = [r for r in report.rows if r.system.startswith("rnnkit")]
    base = [r for r in report.rows if not r.system.startswith("rnnkit")]
    if not rnn:
        return []
    top = max(rnn, key=lambda r: r.median("test accuracy"))
    acc = top.median("test accuracy")
    if not base:
        return [f"Most accurate RNN: {top.system} ({acc:.4f}); no baseline to compare with."]
    ref = max(base, key=lambda r: r.median("test accuracy"))
    ref_acc = ref.median("test accuracy")
    return [f"Best RNN, {top.system} ({acc:.4f}), {verdict(acc, ref_acc, False, 0.005)} "
            f"{ref.system} ({ref_acc:.4f}): {100 * (acc - ref_acc):+.1f} points of accuracy."]
