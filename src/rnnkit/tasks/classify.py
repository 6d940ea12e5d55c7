"""Sequence classification: texts (through a TextVectorizer and an Embedding) or float
sequences (digits read row by row) to one class, with any cell, bidirectional or not,
last-state or mean pooling.

    clf = SequenceClassifier(cell="lstm", units=64, bidirectional=True)
    clf.fit(train_texts, train_labels, epochs=5)          # or (N, T, D) float arrays
    clf.evaluate(test_texts, test_labels)   # accuracy, per-class precision/recall/F1, confusion
    clf.predict(["a fine film"]); clf.save("runs/reviews"); SequenceClassifier.load(...)
    clf.report("runs/reviews", test_texts, test_labels)   # metrics.json + confusion.png

Two classes use one logit and binary cross-entropy; more use C logits and sparse
categorical cross-entropy.  Padding never changes a prediction: the Embedding's mask
reaches the recurrent layer and the pooling.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import layers as L
from ..data.text import TextVectorizer
from ..training.losses import BinaryCrossentropy, SparseCategoricalCrossentropy
from ._args import (
    check_share,
    check_structure,
    choice_field,
    flag_field,
    int_field,
    number_field,
    units_field,
)

__all__ = ["SequenceClassifier", "ClassifierConfig", "classification_metrics"]

CELLS = ("simple", "lstm", "gru", "lnlstm")


@dataclass(frozen=True)
class ClassifierConfig:
    cell: str = "lstm"
    units: int = 64
    bidirectional: bool = False
    pooling: str = "last"            # last | mean
    embedding: int = 64              # E, for text input
    max_tokens: int | None = 20000   # vocabulary cap, for text input
    mode: str = "word"               # char | word, for text input
    max_length: int | None = 200     # tokens kept per text (the first ones)
    dropout: float = 0.0
    recurrent_dropout: float = 0.0
    lr: float = 1e-3

    def __post_init__(self) -> None:
        fields = {
            "cell": choice_field("cell", self.cell, CELLS),
            "units": units_field("units", self.units),
            "bidirectional": flag_field("bidirectional", self.bidirectional),
            "pooling": choice_field("pooling", self.pooling, ("last", "mean")),
            "embedding": units_field("embedding", self.embedding),
            "max_tokens": int_field("max_tokens", self.max_tokens, minimum=3, none=True),
            "mode": choice_field("mode", self.mode, ("char", "word")),
            "max_length": int_field("max_length", self.max_length, none=True),
            "dropout": number_field("dropout", self.dropout, low_open=False, high=1.0),
            "recurrent_dropout": number_field("recurrent_dropout", self.recurrent_dropout,
                                              low_open=False, high=1.0),
            "lr": number_field("lr", self.lr),
        }
        for name, value in fields.items():       # NumPy scalars become Python ones
            object.__setattr__(self, name, value)


def classification_metrics(pred: np.ndarray, true: np.ndarray,
                           classes: Sequence[str]) -> dict[str, Any]:
    """Accuracy, per-class precision/recall/F1 (and their macro means), confusion matrix
    (rows: true class, columns: predicted)."""
    C = len(classes)
    cm = np.zeros((C, C), dtype=np.int64)
    np.add.at(cm, (true, pred), 1)
    tp = np.diag(cm).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(cm.sum(0) > 0, tp / cm.sum(0), 0.0)
        recall = np.where(cm.sum(1) > 0, tp / cm.sum(1), 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    per_class = {c: {"precision": float(p), "recall": float(r), "f1": float(f),
                     "support": int(s)}
                 for c, p, r, f, s in zip(classes, precision, recall, f1, cm.sum(1))}
    return {"accuracy": float(tp.sum() / max(1, cm.sum())), "samples": int(cm.sum()),
            "macro_precision": float(precision.mean()), "macro_recall": float(recall.mean()),
            "macro_f1": float(f1.mean()), "per_class": per_class,
            "confusion": cm.tolist(), "classes": list(classes)}


class SequenceClassifier:
    """Fit, predict, evaluate, save/load and report a sequence classifier.

    Example:
        >>> import rnnkit as rk
        >>> clf = SequenceClassifier(cell="gru", units=8, mode="char", embedding=4)
        >>> _ = clf.fit(["ab", "ba", "aab", "bba"] * 8, [0, 1, 0, 1] * 8, epochs=2, verbose=0)
        >>> clf.predict(["ab"]).shape
        (1,)
    """

    def __init__(self, config: ClassifierConfig | None = None, **options: Any):
        self.config = config or ClassifierConfig(**options)
        self.vectorizer: TextVectorizer | None = None
        self.classes: tuple[str, ...] = ()
        self.model: L.Sequential | None = None
        self.history: dict[str, list[float]] = {}
        self.fit_seconds = 0.0

    # ------------------------------------------------------------------ data
    def _is_text(self, x: Any) -> bool:
        if isinstance(x, np.ndarray):
            return x.dtype.kind in "US"
        return isinstance(x, (list, tuple)) and any(isinstance(t, str) for t in x)

    def _inputs(self, x: Any) -> torch.Tensor:
        if isinstance(x, np.ndarray) and x.dtype.kind in "US":       # an array of texts
            x = x.tolist()
        if x is None or (hasattr(x, "__len__") and len(x) == 0):
            raise ValueError(f"x holds no samples (got {x!r}): pass texts or float "
                             "sequences (N, T, D)")
        if self._is_text(x):
            if self.vectorizer is None:
                raise ValueError("this classifier was trained on float sequences, got texts")
            ids = self.vectorizer.encode(list(x), length=None)
            if self.config.max_length:
                ids = ids[:, :self.config.max_length]
            if ids.shape[1] == 0:
                raise ValueError("every text is empty after standardisation")
            return torch.from_numpy(ids)
        if self.vectorizer is not None:
            raise ValueError("this classifier was trained on texts; pass a list of strings")
        try:
            raw = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
            if np.iscomplexobj(raw):
                raise TypeError(f"x must hold real numbers, got {raw.dtype}")
            arr = np.asarray(raw, dtype=np.float32)
        except (TypeError, ValueError) as err:
            raise ValueError(f"x must be texts (a list of str) or float sequences (N, T, D), "
                             f"got a {type(x).__name__} that is neither ({err})") from None
        if arr.ndim != 3:
            raise ValueError(f"expected texts or float sequences (N, T, D), got shape "
                             f"{arr.shape}")
        return torch.from_numpy(arr)

    def _labels(self, y: Any) -> np.ndarray:
        try:
            y = np.asarray(y)
        except ValueError as err:
            raise ValueError(f"labels must be one per sample (N,), got a ragged "
                             f"{type(y).__name__} ({err})") from None
        if y.ndim != 1:
            raise ValueError(f"labels must be one per sample (N,), got shape {y.shape}")
        if len(y) == 0:
            raise ValueError("labels are empty: pass one label per sample")
        for i, v in enumerate(y.tolist()):
            if v is None or (isinstance(v, float) and not math.isfinite(v)):
                raise ValueError(f"labels[{i}] is {v!r}: every sample needs a class (an int "
                                 "or a string)")
        if not self.classes:
            try:
                names = np.unique(y)
            except TypeError:
                kinds = sorted({type(v).__name__ for v in y.tolist()})
                raise TypeError(f"labels must be all ints or all strings, got a mix of "
                                f"{', '.join(kinds)}") from None
            if len(names) < 2:
                raise ValueError(f"the labels hold one class only ({names.tolist()}): nothing "
                                 "to classify")
            self.classes = tuple(str(c) for c in names)
        index = {c: i for i, c in enumerate(self.classes)}
        try:
            return np.array([index[str(v)] for v in y], dtype=np.int64)
        except KeyError as err:
            raise ValueError(f"label {err.args[0]!r} was not seen in training (classes "
                             f"{list(self.classes)})") from None

    # ------------------------------------------------------------------ model
    def _build(self, features: int | None) -> L.Sequential:
        c = self.config
        make = {"simple": L.SimpleRNN, "lstm": L.LSTM, "gru": L.GRU,
                "lnlstm": L.LayerNormLSTM}[c.cell]
        stack: list[torch.nn.Module] = []
        if features is None:
            stack.append(L.Embedding(self.vectorizer.size, c.embedding, mask_zero=True))
        rnn = make(c.units, return_sequences=c.pooling == "mean", dropout=c.dropout,
                   recurrent_dropout=c.recurrent_dropout,
                   input_size=c.embedding if features is None else features)
        stack.append(L.Bidirectional(rnn) if c.bidirectional else rnn)
        if c.pooling == "mean":
            stack.append(L.MeanOverTime())
        width = c.units * (2 if c.bidirectional else 1)
        stack.append(L.Dense(1 if len(self.classes) == 2 else len(self.classes),
                             input_size=width))
        return L.Sequential(stack)

    def _loss(self):
        if len(self.classes) == 2:
            return BinaryCrossentropy(from_logits=True)
        return SparseCategoricalCrossentropy(from_logits=True)

    # ------------------------------------------------------------------ fit / predict
    def fit(self, x: Any, y: Any, *, epochs: int = 10, batch_size: int = 32, val: float = 0.1,
            patience: int | None = 3, seed: int = 0, verbose: int = 1,
            log_dir: str | Path | None = None, threads: int | None = None) -> dict[str, list]:
        """Train; ``val`` (a share of the training samples, taken after a seeded shuffle)
        drives early stopping with ``patience``.  ``verbose=1`` prints one line per epoch
        (a bar on a terminal); ``log_dir`` and ``threads`` go to ``Trainer.fit``.  Returns
        the history."""
        import rnnkit as rk
        rk.set_seed(seed)
        self.classes = ()
        if self._is_text(x):
            c = self.config
            self.vectorizer = TextVectorizer(mode=c.mode, max_tokens=c.max_tokens).adapt(x)
        else:
            self.vectorizer = None
        xs, ys = self._inputs(x), self._labels(y)
        if len(xs) != len(ys):
            raise ValueError(f"{len(xs)} samples but {len(ys)} labels")
        check_share("val", val, len(ys))
        self.model = self._build(None if self.vectorizer else xs.shape[2])
        order = np.random.default_rng(seed).permutation(len(ys))
        n_val = int(round(len(ys) * val)) if val else 0
        tr, va = order[n_val:], order[:n_val]
        target = torch.from_numpy(ys).float() if len(self.classes) == 2 else torch.from_numpy(ys)
        callbacks = [rk.EarlyStopping(patience=patience)] if (patience and n_val) else []
        t0 = time.perf_counter()
        hist = self.model.fit(xs[tr], target[tr], epochs=epochs, batch_size=batch_size,
                              loss=self._loss(), lr=self.config.lr,
                              metrics=["accuracy"],
                              validation_data=(xs[va], target[va]) if n_val else None,
                              callbacks=callbacks, seed=seed, verbose=verbose,
                              log_dir=log_dir, threads=threads)
        self.fit_seconds = time.perf_counter() - t0
        self.history = hist.history
        return self.history

    def _require(self) -> L.Sequential:
        if self.model is None:
            raise ValueError("the classifier is not trained: call fit() or load()")
        return self.model

    def predict_proba(self, x: Any) -> np.ndarray:
        """(N, C) class probabilities."""
        logits = self._require().predict(self._inputs(x)).double()
        if len(self.classes) == 2:
            p = torch.sigmoid(logits.reshape(-1))
            return torch.stack([1 - p, p], 1).numpy()
        return torch.softmax(logits, -1).numpy()

    def predict(self, x: Any) -> np.ndarray:
        """(N,) class ids (``classes[i]`` names them)."""
        return self.predict_proba(x).argmax(1)

    def evaluate(self, x: Any, y: Any) -> dict[str, Any]:
        pred, true = self.predict(x), self._labels(y)
        if len(pred) != len(true):
            raise ValueError(f"{len(pred)} samples but {len(true)} labels")
        return classification_metrics(pred, true, self.classes)

    # ------------------------------------------------------------------ save / report
    def save(self, path: str | Path) -> None:
        from ..saving import save
        extra = {"classifier": {"config": asdict(self.config), "classes": list(self.classes),
                                "history": self.history}}
        if self.vectorizer is not None:
            extra["vocab"] = self.vectorizer.get_config()
        save(self._require(), path, extra=extra)

    @classmethod
    def load(cls, path: str | Path) -> SequenceClassifier:
        from ..saving import load
        path = Path(path)
        meta_path = path / "classifier.json"
        if not meta_path.is_file():
            raise ValueError(f"{path} is not a saved SequenceClassifier: classifier.json is "
                             "missing")
        try:
            from ..io import read_json
            meta = read_json(meta_path, "classifier settings (JSON)")
            clf = cls(ClassifierConfig(**meta["config"]))
            classes, clf.history = meta["classes"], meta["history"]
            if not isinstance(classes, list) or len(classes) < 2 or \
                    not all(isinstance(c, str) for c in classes) or \
                    len(set(classes)) != len(classes):
                raise ValueError(f"classes must be a list of 2 or more distinct strings, got "
                                 f"{classes!r}")
            if not isinstance(clf.history, dict):
                raise ValueError(f"history must be an object, got {clf.history!r}")
            clf.classes = tuple(classes)
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"{meta_path} is not a valid classifier file ({err})") from None
        vocab_path = path / "vocab.json"
        if vocab_path.is_file():
            clf.vectorizer = TextVectorizer.load(vocab_path)
        clf.model = load(path)
        clf._check_loaded(path)
        return clf

    def _check_loaded(self, path: Path) -> None:
        """classifier.json, vocab.json and the saved model must describe one classifier."""
        model, weights = self._require(), path / "weights.safetensors"
        first = model.layers[0] if isinstance(model, L.Sequential) and len(model.layers) \
            else None
        reads_text = isinstance(first, L.Embedding)
        if reads_text and self.vectorizer is None:
            raise ValueError(f"{path / 'vocab.json'} is missing: the saved model reads texts "
                             f"(it starts with an Embedding of {first.input_dim} tokens)")
        if not reads_text and self.vectorizer is not None:
            raise ValueError(f"{path / 'vocab.json'} is there but the saved model in "
                             f"{weights} reads float sequences (no Embedding)")
        if reads_text and self.vectorizer.size != first.input_dim:
            raise ValueError(f"{path / 'vocab.json'} holds {self.vectorizer.size} tokens but "
                             f"the Embedding in {weights} has {first.input_dim} rows; the "
                             "files come from different models")
        last = model.layers[-1] if isinstance(model, L.Sequential) else None
        outputs = getattr(last, "units", None)
        n = len(self.classes)
        if outputs != (1 if n == 2 else n):
            raise ValueError(f"{path / 'classifier.json'} lists {n} classes "
                             f"{list(self.classes)[:10]} but the model in {weights} has "
                             f"{outputs} outputs (1 for 2 classes, C for C > 2)")
        if reads_text:
            features = None
        else:
            rnn = model.layers[0]
            features = getattr(getattr(rnn, "forward_layer", rnn), "input_size", None)
        check_structure(self._build(features), model, str(path / "classifier.json"),
                        str(weights))

    def report(self, out_dir: str | Path, x: Any, y: Any) -> dict[str, Any]:
        """Write metrics.json and confusion.png (and training.png) for (x, y)."""
        from ..plots.classify import plot_confusion, plot_curves
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        metrics = self.evaluate(x, y)
        metrics["fit_seconds"] = self.fit_seconds
        metrics["config"] = asdict(self.config)
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
        plot_confusion(np.array(metrics["confusion"]), self.classes, out / "confusion.png",
                       title=f"{self.config.cell.upper()}: accuracy {metrics['accuracy']:.1%}")
        if self.history:
            plot_curves(self.history, out / "training.png")
        return metrics
