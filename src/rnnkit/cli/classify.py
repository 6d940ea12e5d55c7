"""``rnnkit classify``: train a SequenceClassifier on a shipped dataset, report, save; or
compare SimpleRNN, LSTM and GRU on the same split."""

from __future__ import annotations

from pathlib import Path

import typer

from .options import out_folder

DATASETS = ("digits", "mnist5k", "reviews")
CELLS = ("simple", "lstm", "gru", "lnlstm")
DEFAULTS = {   # settings that reach the figures in the README on this CPU
    "digits": dict(cell="gru", units=64, epochs=40, lr=3e-3, patience=5),
    "mnist5k": dict(cell="gru", units=128, epochs=30, lr=2e-3, patience=5),
    "reviews": dict(cell="gru", units=64, epochs=8, lr=1e-3, patience=3),
}


def _data(name: str, seed: int):
    from .. import datasets
    d = datasets.load(name)
    train, test = d.split(0.2, seed=seed)
    if name == "reviews":
        return (train.texts, train.labels), (test.texts, test.labels), d.classes
    return (train.x, train.y), (test.x, test.y), d.classes


def _one(cell, units, bidirectional, pooling, epochs, lr, patience, seed, train, dry_run):
    from ..tasks import SequenceClassifier
    clf = SequenceClassifier(cell=cell, units=units, bidirectional=bidirectional,
                             pooling=pooling, lr=lr, max_length=60)
    x, y = train
    if dry_run:
        x, y = x[:64], y[:64]
    clf.fit(x, y, epochs=1 if dry_run else epochs, patience=patience, seed=seed, verbose=0)
    return clf


def classify(
    dataset: str = typer.Argument(..., help=f"one of {', '.join(DATASETS)}"),
    cell: str = typer.Option(None, help="simple | lstm | gru | lnlstm (default: per dataset)"),
    units: int = typer.Option(None, min=1, help="hidden units (default: per dataset)"),
    bidirectional: bool = typer.Option(False, "--bidirectional/--one-way"),
    pooling: str = typer.Option("last", help="last | mean (over the real steps)"),
    epochs: int = typer.Option(None, min=1, help="at most this many (early stopping)"),
    lr: float = typer.Option(None, help="Adam learning rate (default: per dataset)"),
    compare: bool = typer.Option(False, "--compare",
                                 help="train SimpleRNN, LSTM and GRU on the same split"),
    seed: int = typer.Option(0),
    out: Path = typer.Option(None, help="write metrics.json, confusion.png, training.png "
                             "and the model here"),
    dry_run: bool = typer.Option(False, "--dry-run", help="64 samples, one epoch"),
) -> None:
    """Classify sequences: digits read row by row, or review snippets (fresh/rotten).
    Prints test accuracy, macro precision/recall/F1 and the fit time."""
    if dataset not in DATASETS:
        raise typer.BadParameter(f"unknown dataset {dataset!r}; choose from "
                                 f"{', '.join(DATASETS)}", param_hint="DATASET")
    if lr is not None and not lr > 0:
        raise ValueError(f"--lr must be a positive number, got {lr:g}")
    if pooling not in ("last", "mean"):
        raise ValueError(f"--pooling must be last or mean, got {pooling!r}")
    if cell is not None and cell not in CELLS:
        raise ValueError(f"--cell must be one of {', '.join(CELLS)}, got {cell!r}")
    if seed < 0:
        raise ValueError(f"--seed must be >= 0, got {seed}")
    out_folder(out)
    d = DEFAULTS[dataset]
    units, epochs, lr = units or d["units"], epochs or d["epochs"], lr or d["lr"]
    cell = cell or d["cell"]
    train, test, classes = _data(dataset, seed)
    cells = ["simple", "lstm", "gru"] if compare else [cell]
    typer.echo(f"{dataset}: {len(train[1])} training and {len(test[1])} test samples, "
               f"classes {', '.join(classes)}")
    typer.echo(f"{'cell':8s}{'accuracy':>10s}{'macro F1':>10s}{'precision':>11s}"
               f"{'recall':>8s}{'epochs':>8s}{'fit s':>8s}")
    for c in cells:
        clf = _one(c, units, bidirectional, pooling, epochs, lr, d["patience"], seed, train,
                   dry_run)
        m = clf.evaluate(*test)
        name = ("bi-" if bidirectional else "") + c
        typer.echo(f"{name:8s}{m['accuracy']:10.4f}{m['macro_f1']:10.4f}"
                   f"{m['macro_precision']:11.4f}{m['macro_recall']:8.4f}"
                   f"{len(clf.history['loss']):8d}{clf.fit_seconds:8.1f}")
        if out is not None:
            target = out / c if compare else out
            clf.report(target, *test)
            clf.save(target / "model")
            typer.echo(f"  wrote {target}/metrics.json, confusion.png, training.png, model/")
