"""``rnnkit classify``: train a SequenceClassifier on a shipped dataset, report, save; or
compare SimpleRNN, LSTM and GRU on the same split.  On texts, the TF-IDF + linear-model
baselines (scikit-learn, an optional extra) are printed beside the RNN, fitted on the same
training texts."""

from __future__ import annotations

from typing import Annotated

import typer

from .options import (
    DryRun,
    Epochs,
    LogDir,
    Out,
    Precision,
    Quick,
    Quiet,
    Seed,
    Threads,
    log_folder,
    model_folder,
    out_folder,
    plan,
    result,
    verbose_level,
)

DATASETS = ("digits", "mnist5k", "reviews")
CELLS = ("simple", "lstm", "gru", "lnlstm")
DEFAULTS = {   # settings that reach the figures in the README on this CPU
    "digits": dict(cell="gru", units=64, epochs=40, lr=3e-3, patience=5),
    "mnist5k": dict(cell="gru", units=128, epochs=30, lr=2e-3, patience=5),
    "reviews": dict(cell="gru", units=64, epochs=8, lr=1e-3, patience=3),
}
QUICK = dict(train=256, test=200, units=16, epochs=2)   # --quick: seconds on 2 cores
NAMES = {"simple": "SimpleRNN", "lstm": "LSTM", "gru": "GRU", "lnlstm": "LayerNormLSTM"}
POOLINGS = ("last", "mean", "max")
BASELINE_ROWS = {"tfidf_svm": "tfidf+svm", "tfidf_logreg": "tfidf+logreg"}


def _row(name: str, m: dict, epochs: str, seconds: float) -> str:
    return (f"{name:14s}{m['accuracy']:10.4f}{m['macro_f1']:10.4f}"
            f"{m['macro_precision']:11.4f}{m['macro_recall']:8.4f}{epochs:>8s}{seconds:8.1f}")


def _baseline_plan(dataset: str) -> str:
    if dataset != "reviews":
        return "none (TF-IDF baselines are for texts)"
    from ..tasks.baselines_text import missing_message
    return missing_message() or ("TF-IDF word 1-2-grams + linear SVM and + logistic "
                                 "regression (scikit-learn), on the RNN's training texts")


def _data(name: str, seed: int):
    from .. import datasets
    d = datasets.load(name)
    train, test = d.split(0.2, seed=seed)
    if name == "reviews":
        return (train.texts, train.labels), (test.texts, test.labels), d.classes
    return (train.x, train.y), (test.x, test.y), d.classes


def _describe(name: str, train, test, classes) -> str:
    x = train[0]
    shape = ("texts" if isinstance(x, (list, tuple))
             else f"{x.shape[1]} steps of {x.shape[2]} features")
    return (f"{name}: {len(train[1])} training and {len(test[1])} test samples ({shape}), "
            f"classes {', '.join(map(str, classes))}")


def classify(
    dataset: Annotated[str, typer.Argument(metavar="DATASET",
                                           help=f"One of {', '.join(DATASETS)}.")],
    cell: Annotated[str | None, typer.Option(
        metavar="CELL", help="simple | lstm | gru | lnlstm (default: per dataset).")] = None,
    units: Annotated[int | None, typer.Option(
        min=1, metavar="N", help="Hidden units (default: per dataset).")] = None,
    bidirectional: Annotated[bool, typer.Option(
        "--bidirectional/--no-bidirectional", show_default=False,
        help="Read each sequence both ways (default: one way).")] = False,
    pooling: Annotated[str, typer.Option(
        metavar="last|mean|max",
        help="The last state, or the mean or max over the real steps.")] = "last",
    embedding_dropout: Annotated[float, typer.Option(
        metavar="RATE", help="Texts: share of words dropped per batch while training "
                             "(AWD-LSTM's embedding dropout).")] = 0.0,
    pretrain_epochs: Annotated[int, typer.Option(
        min=0, metavar="N", help="Texts: first train the encoder N epochs as a language "
                                 "model on the training texts (ULMFiT).")] = 0,
    weight_dropout: Annotated[float, typer.Option(
        metavar="RATE", help="Share of the recurrent matrix dropped per batch while "
                             "training (AWD-LSTM's weight drop).")] = 0.0,
    finetune: Annotated[str, typer.Option(
        metavar="all|ulmfit", help="After --pretrain-epochs: train every layer at once, or "
                                   "as ULMFiT does (lower rates below, one layer unfrozen "
                                   "per epoch).")] = "all",
    lr: Annotated[float | None, typer.Option(
        metavar="RATE", help="Adam learning rate (default: per dataset).")] = None,
    compare: Annotated[bool, typer.Option(
        "--compare", help="Train SimpleRNN, LSTM and GRU on the same split.")] = False,
    epochs: Epochs = None,
    quick: Quick = False,
    dry_run: DryRun = False,
    out: Out = None,
    seed: Seed = 0,
    threads: Threads = None,
    precision: Precision = "fp32",
    quiet: Quiet = False,
    logdir: LogDir = None,
) -> None:
    """Classify sequences: digits read row by row, or review snippets (fresh or rotten).

    Prints test accuracy, macro precision, recall and F1, and the fit time; on reviews
    also the TF-IDF + linear SVM and + logistic regression baselines fitted on the same
    training texts (when scikit-learn is installed: pip install 'rnnkit[baselines]').
    With --out it writes metrics.json (baselines included), confusion.png, training.png
    and the model (one folder per cell with --compare).
    """
    if dataset not in DATASETS:
        raise typer.BadParameter(f"unknown dataset {dataset!r}; choose from "
                                 f"{', '.join(DATASETS)}", param_hint="DATASET")
    if lr is not None and not lr > 0:
        raise ValueError(f"--lr must be a positive number, got {lr:g}")
    if pooling not in POOLINGS:
        raise ValueError(f"--pooling must be last, mean or max, got {pooling!r}")
    if (embedding_dropout or pretrain_epochs) and dataset != "reviews":
        raise ValueError("--embedding-dropout and --pretrain-epochs apply to texts (reviews) "
                         f"only, not to {dataset}")
    if cell is not None and cell not in CELLS:
        raise ValueError(f"--cell must be one of {', '.join(CELLS)}, got {cell!r}")
    out_folder(out)
    if out is not None:
        for c in ["simple", "lstm", "gru"] if compare else [""]:
            model_folder(out / c / "model")
    log_folder(logdir)
    d = DEFAULTS[dataset]
    units = units or (QUICK["units"] if quick else d["units"])
    epochs = epochs or (QUICK["epochs"] if quick else d["epochs"])
    lr, cell = lr or d["lr"], cell or d["cell"]
    cells = ["simple", "lstm", "gru"] if compare else [cell]
    train, test, classes = _data(dataset, seed)
    if quick:
        train = (train[0][:QUICK["train"]], train[1][:QUICK["train"]])
        test = (test[0][:QUICK["test"]], test[1][:QUICK["test"]])
    from ..tasks import SequenceClassifier
    settings = dict(units=units, bidirectional=bidirectional, pooling=pooling, lr=lr,
                    max_length=60, embedding_dropout=embedding_dropout,
                    pretrain_epochs=pretrain_epochs, weight_dropout=weight_dropout,
                    finetune=finetune)
    for c in cells:     # every setting checked by the classifier itself, before any training
        SequenceClassifier(cell=c, **settings)
    if dry_run:
        way = "bidirectional" if bidirectional else "one-way"
        plan(f"rnnkit classify {dataset}" + (" --quick" if quick else ""), {
            "data": _describe(dataset, train, test, classes),
            "model": f"{', '.join(f'{NAMES[c]}({units})' for c in cells)}, {way}, "
                     f"{pooling} pooling, Adam lr {lr:g}"
                     + (f", embedding dropout {embedding_dropout:g}" if embedding_dropout
                        else "")
                     + (f", {pretrain_epochs} language-model epochs first" if pretrain_epochs
                        else "")
                     + (f", weight drop {weight_dropout:g}" if weight_dropout else "")
                     + (", ULMFiT fine-tuning" if finetune == "ulmfit" else ""),
            "baselines": _baseline_plan(dataset),
            "epochs": f"at most {epochs} (early stopping after {d['patience']} without "
                      "improvement on a tenth of the training samples)",
            "threads": threads or "chosen from the model's size",
            "precision": precision,
            "progress": "none (--quiet)" if quiet else "a bar on a terminal, one line per "
                                                      "epoch elsewhere",
            "logdir": logdir or "none",
            "writes": (f"{out}/" + ("{simple,lstm,gru}/" if compare else "")
                       + "metrics.json, confusion.png, training.png, model/")
            if out is not None else "nothing (no --out)",
        })
        return
    result(_describe(dataset, train, test, classes)
           + (f"; a {epochs}-epoch smoke run, not a result" if quick else ""), quick)
    rows, baselines = [], None
    for c in cells:
        if not quiet and len(cells) > 1:
            result(f"{NAMES[c]}({units}):", quick)        # a title above its epoch lines
        clf = SequenceClassifier(cell=c, **settings)
        clf.fit(*train, epochs=epochs, patience=d["patience"], seed=seed,
                verbose=verbose_level(quiet), threads=threads, precision=precision,
                log_dir=None if logdir is None else (logdir / c if compare else logdir))
        m = clf.evaluate(*test)
        name = ("bi-" if bidirectional else "") + c
        rows.append(_row(name, m, str(len(clf.history["loss"])), clf.fit_seconds))
        if baselines is None:      # the same seed and split for every cell: score them once
            baselines = m.get("baselines") or m.get("baselines_note", "")
        if out is not None:
            target = out / c if compare else out
            clf.report(target, *test)
            clf.save(target / "model")
            result(f"wrote {target}/metrics.json, confusion.png, training.png, model/", quick)
    if isinstance(baselines, dict):
        rows += [_row(BASELINE_ROWS[k], b, "-", b["fit_seconds"]) for k, b in baselines.items()]
    result(f"{'model':14s}{'accuracy':>10s}{'macro F1':>10s}{'precision':>11s}"
           f"{'recall':>8s}{'epochs':>8s}{'fit s':>8s}", quick)
    result("\n".join(rows), quick)
    if isinstance(baselines, dict):
        n = next(iter(baselines.values()))["train_samples"]
        result(f"tfidf rows: scikit-learn on the same {n:,} training texts as the RNN "
               "(word 1-2-grams)", quick)
    elif baselines:
        result(baselines, quick)
