"""Sequence classification: texts (through a TextVectorizer and an Embedding) or float
sequences (digits read row by row) to one class, with any cell, bidirectional or not,
last-state, mean or max pooling.

    clf = SequenceClassifier(cell="lstm", units=64, bidirectional=True)
    clf.fit(train_texts, train_labels, epochs=5)          # or (N, T, D) float arrays
    clf.evaluate(test_texts, test_labels)   # accuracy, per-class precision/recall/F1, confusion,
                                            # and the TF-IDF baselines fitted on the same texts
    clf.predict(["a fine film"]); clf.save("runs/reviews"); SequenceClassifier.load(...)
    clf.report("runs/reviews", test_texts, test_labels)   # metrics.json + confusion.png

Two classes use one logit and binary cross-entropy; more use C logits and sparse
categorical cross-entropy.  Padding never changes a prediction: the Embedding's mask
reaches the recurrent layer and the pooling.

For texts, ``evaluate`` also scores TF-IDF of word 1-2-grams with a linear SVM and with
logistic regression (``baselines_text``), fitted on exactly the texts the RNN trained on,
when scikit-learn is installed: the first thing a practitioner would try on short texts.

What helps an RNN on short texts, as options (each measured against that baseline in
``rnnkit tutorial run classify-baselines``):
  * ``pooling="max"`` or ``"mean"`` over a (bidirectional) layer's outputs: every word can
    reach the classifier directly, not only through the last state;
  * ``embedding_dropout``: AWD-LSTM's dropout of whole words -- rows of the embedding table,
    one draw per batch (Merity et al., 2018, section 4.3) -- while training only
    (``Embedding(dropout=...)``);
  * ``weight_dropout``: AWD-LSTM's weight drop, DropConnect on the recurrent matrix
    ``weight_hh``, one mask per batch (section 2), while training only
    (``GRU(weight_dropout=...)``, any engine);
  * ``pretrain_epochs``: ULMFiT's first step (Howard & Ruder, 2018): the Embedding and the
    recurrent layer are first trained as a language model on the training texts (a
    bidirectional layer's backward half as a backward model), then the whole classifier is
    fine-tuned -- or, with ``finetune="ulmfit"``, fine-tuned as ULMFiT does (sections
    3.2-3.3): discriminative learning rates (each layer down 2.6x smaller than the one above)
    and gradual unfreezing (epoch 1 trains the head only, epoch 2 also the recurrent layer,
    then the Embedding too).
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
from ..model import Sequential
from ..precision import check_precision
from ..training.callbacks import Callback
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
from .baselines_text import BaselinesUnavailable, FittedBaseline, fit_baselines, score_baselines

__all__ = ["SequenceClassifier", "ClassifierConfig", "classification_metrics"]

CELLS = ("simple", "lstm", "gru", "lnlstm")
POOLINGS = ("last", "mean", "max")
FINETUNES = ("all", "ulmfit")
DISCRIMINATIVE = 2.6   # ULMFiT's ratio of the learning rates of adjacent layers (section 3.2)
LM_VOCAB = 5000        # the language model predicts the 5,000 most frequent tokens (the rest
                       # as [UNK]): a softmax over all 20,000 would cost 4x for rare words


@dataclass(frozen=True)
class ClassifierConfig:
    cell: str = "lstm"
    units: int = 64
    bidirectional: bool = False
    pooling: str = "last"            # last | mean | max (over the real steps)
    embedding: int = 64              # E, for text input
    max_tokens: int | None = 20000   # vocabulary cap, for text input
    mode: str = "word"               # char | word, for text input
    max_length: int | None = 200     # tokens kept per text (the first ones)
    dropout: float = 0.0
    recurrent_dropout: float = 0.0
    lr: float = 1e-3
    embedding_dropout: float = 0.0   # text: share of words (embedding rows) dropped per batch
    weight_dropout: float = 0.0      # share of the recurrent matrix weight_hh dropped per batch
    pretrain_epochs: int = 0         # text: language-model epochs before classifying (ULMFiT)
    finetune: str = "all"            # all | ulmfit (after pretraining: discriminative learning
                                     # rates and gradual unfreezing)

    def __post_init__(self) -> None:
        fields = {
            "cell": choice_field("cell", self.cell, CELLS),
            "units": units_field("units", self.units),
            "bidirectional": flag_field("bidirectional", self.bidirectional),
            "pooling": choice_field("pooling", self.pooling, POOLINGS),
            "embedding": units_field("embedding", self.embedding),
            "max_tokens": int_field("max_tokens", self.max_tokens, minimum=3, none=True),
            "mode": choice_field("mode", self.mode, ("char", "word")),
            "max_length": int_field("max_length", self.max_length, none=True),
            "dropout": number_field("dropout", self.dropout, low_open=False, high=1.0),
            "recurrent_dropout": number_field("recurrent_dropout", self.recurrent_dropout,
                                              low_open=False, high=1.0),
            "lr": number_field("lr", self.lr),
            "embedding_dropout": number_field("embedding_dropout", self.embedding_dropout,
                                              low_open=False, high=1.0),
            "weight_dropout": number_field("weight_dropout", self.weight_dropout,
                                           low_open=False, high=1.0),
            "pretrain_epochs": int_field("pretrain_epochs", self.pretrain_epochs, minimum=0),
            "finetune": choice_field("finetune", self.finetune, FINETUNES),
        }
        for name, value in fields.items():       # NumPy scalars become Python ones
            object.__setattr__(self, name, value)
        if self.finetune == "ulmfit" and not self.pretrain_epochs:
            raise ValueError("finetune='ulmfit' fine-tunes a pretrained encoder: set "
                             "pretrain_epochs >= 1 (got 0), or use finetune='all'")


class _GradualUnfreezing(Callback):
    """ULMFiT's gradual unfreezing (Howard & Ruder, 2018, section 3.3): epoch k (from 0)
    trains parameter groups 0..k, head first; every group is trainable again at the end."""

    def __init__(self, groups: list[list[torch.nn.Parameter]]):
        self.groups = groups

    def on_epoch_begin(self, trainer, epoch: int) -> None:
        for depth, params in enumerate(self.groups):
            for p in params:
                p.requires_grad_(depth <= epoch)

    def on_train_end(self, trainer) -> None:
        for p in (p for g in self.groups for p in g):
            p.requires_grad_(True)


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
        self.model: Sequential | None = None
        self.history: dict[str, list[float]] = {}
        self.fit_seconds = 0.0
        # the texts the RNN trained on, kept (in memory only) for the TF-IDF baselines
        self._train_texts: list[str] | None = None
        self._train_ids: np.ndarray | None = None
        self._seed = 0
        self._baselines: list[FittedBaseline] | None = None

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
    def _build(self, features: int | None) -> Sequential:
        c = self.config
        make = {"simple": L.SimpleRNN, "lstm": L.LSTM, "gru": L.GRU,
                "lnlstm": L.LayerNormLSTM}[c.cell]
        stack: list[torch.nn.Module] = []
        if features is None:
            stack.append(L.Embedding(self.vectorizer.size, c.embedding, mask_zero=True,
                                     dropout=c.embedding_dropout))
        rnn = make(c.units, return_sequences=c.pooling != "last", dropout=c.dropout,
                   recurrent_dropout=c.recurrent_dropout, weight_dropout=c.weight_dropout,
                   input_size=c.embedding if features is None else features)
        stack.append(L.Bidirectional(rnn) if c.bidirectional else rnn)
        if c.pooling == "mean":
            stack.append(L.MeanOverTime())
        elif c.pooling == "max":
            stack.append(L.GlobalMaxPool1D())
        width = c.units * (2 if c.bidirectional else 1)
        stack.append(L.Dense(1 if len(self.classes) == 2 else len(self.classes),
                             input_size=width))
        return Sequential(stack)

    def _loss(self):
        if len(self.classes) == 2:
            return BinaryCrossentropy(from_logits=True)
        return SparseCategoricalCrossentropy(from_logits=True)

    # ------------------------------------------------------------------ fit / predict
    def fit(self, x: Any, y: Any, *, epochs: int = 10, batch_size: int = 32, val: float = 0.1,
            patience: int | None = 3, seed: int = 0, verbose: int = 1,
            log_dir: str | Path | None = None, threads: int | None = None,
            precision: str = "fp32") -> dict[str, list]:
        """Train; ``val`` (a share of the training samples, taken after a seeded shuffle)
        drives early stopping with ``patience``.  The language-model epochs of
        ``pretrain_epochs`` run first, on the same training samples, and count in
        ``fit_seconds``; their losses are ``history["lm_loss"]``; ``finetune="ulmfit"`` then
        trains the head alone in the first epoch and unfreezes one layer per epoch.
        ``verbose=1`` prints one line per epoch (a bar on a terminal); ``log_dir`` and
        ``threads`` go to ``Trainer.fit``.  Returns the history."""
        import rnnkit as rk
        rk.set_seed(seed)
        self.classes, self._seed = (), seed
        self._train_texts = self._train_ids = self._baselines = None
        c = self.config
        if not self._is_text(x) and (c.embedding_dropout or c.pretrain_epochs):
            raise ValueError("embedding_dropout and pretrain_epochs apply to texts only; "
                             "this input is float sequences (set them to 0)")
        if self._is_text(x):
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
        if self.vectorizer is not None:
            texts = x.tolist() if isinstance(x, np.ndarray) else list(x)
            self._train_texts, self._train_ids = [texts[i] for i in tr], ys[tr]
        callbacks = [rk.EarlyStopping(patience=patience)] if (patience and n_val) else []
        t0 = time.perf_counter()
        lm: dict[str, list[float]] = {}
        if c.pretrain_epochs:
            lm["lm_loss"] = self._pretrain(xs[tr], batch_size, seed, verbose, threads)
        optimizer, lr = "adam", c.lr
        if c.finetune == "ulmfit":
            optimizer, unfreeze = self._ulmfit_optimizer()
            lr, callbacks = None, [unfreeze, *callbacks]
        try:
            hist = self.model.fit(xs[tr], target[tr], epochs=epochs, batch_size=batch_size,
                                  loss=self._loss(), optimizer=optimizer, lr=lr,
                                  metrics=["accuracy"],
                                  validation_data=(xs[va], target[va]) if n_val else None,
                                  callbacks=callbacks, seed=seed, verbose=verbose,
                                  log_dir=log_dir, threads=threads, precision=precision,
                                  # the C++ step has no weight drop: it would train without it
                                  step="autograd" if c.weight_dropout else "auto")
        finally:
            if c.finetune == "ulmfit":            # never leave a layer frozen
                self.model.requires_grad_(True)
        self.fit_seconds = time.perf_counter() - t0
        self.history = {**hist.history, **lm}
        return self.history

    def _ulmfit_optimizer(self) -> tuple[torch.optim.Optimizer, _GradualUnfreezing]:
        """Adam over three groups, head first -- the layers after the encoder, the recurrent
        layer, the Embedding -- at lr, lr/2.6 and lr/2.6**2, and the callback that unfreezes
        one group per epoch."""
        layers = self.model.layers
        groups = [[p for m in layers[2:] for p in m.parameters()],
                  list(layers[1].parameters()), list(layers[0].parameters())]
        opt = torch.optim.Adam([{"params": g, "lr": self.config.lr / DISCRIMINATIVE ** k}
                                for k, g in enumerate(groups)])
        return opt, _GradualUnfreezing(groups)

    def _pretrain(self, ids: torch.Tensor, batch_size: int, seed: int, verbose: int,
                  threads: int | None) -> list[float]:
        """ULMFiT's first step: train the Embedding and the recurrent layer as language
        models on the training texts, then leave their weights in the classifier.

        The forward layer predicts each next token; a bidirectional layer's backward half
        reads each text reversed within its real span (as it does when classifying) and
        predicts each previous token.  Each direction has its own output layer over the
        ``LM_VOCAB`` most frequent tokens, dropped afterwards.  Returns the mean
        cross-entropy (nats per token) of each epoch.  ``threads`` as in ``fit`` (None:
        chosen by the model's size).
        """
        from ..training.threads import choose_threads, using_threads
        n = threads or choose_threads(self.model, batch_size, ids).n
        with using_threads(n):
            return self._pretrain_steps(ids, batch_size, seed, verbose)

    def _pretrain_steps(self, ids: torch.Tensor, batch_size: int, seed: int,
                        verbose: int) -> list[float]:
        from ..layers.recurrent import reverse_sequences
        emb, enc = self.model.layers[0], self.model.layers[1]
        rnns = [enc.forward_layer, enc.backward_layer] if isinstance(enc, L.Bidirectional) \
            else [enc]
        # sequence-returning twins of the classifier's layers (same parameters, copied back)
        lms = [type(r).from_config({**r.get_config(), "return_sequences": True,
                                    "go_backwards": False}) for r in rnns]
        for lm, r in zip(lms, rnns):
            lm.load_state_dict(r.state_dict())
        V = min(self.vectorizer.size, LM_VOCAB)
        heads = [L.Dense(V, input_size=self.config.units) for _ in lms]
        params = [*emb.parameters(), *(p for m in lms + heads for p in m.parameters())]
        # every token is a target, so the gradients are far less noisy than one label per
        # text: the language model takes a 3x larger step than the classifier
        opt = torch.optim.Adam(params, lr=self.config.lr * 3)
        gen = torch.Generator().manual_seed(seed)
        losses = []
        self.model.train()
        for lm in lms:
            lm.train()
        for epoch in range(self.config.pretrain_epochs):
            total, count = 0.0, 0
            for batch in torch.randperm(len(ids), generator=gen).split(batch_size):
                x = ids[batch]
                x = x[:, :int((x != 0).sum(1).max())]          # drop all-padding columns
                mask = x != 0
                loss = 0.0
                for k, (lm, head) in enumerate(zip(lms, heads)):
                    seq = x if k == 0 else reverse_sequences(x, mask)[0]
                    out = lm(emb(seq), mask=mask)                           # (B, T, H)
                    target = torch.where(seq[:, 1:] >= V, 1, seq[:, 1:])    # rare -> [UNK]
                    logits = head(out[:, :-1])                              # (B, T-1, V)
                    loss = loss + torch.nn.functional.cross_entropy(
                        logits.reshape(-1, V), target.reshape(-1), ignore_index=0)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                opt.step()
                total, count = total + float(loss.detach()) / len(lms), count + 1
            losses.append(total / max(count, 1))
            if verbose:
                print(f"language model epoch {epoch + 1}/{self.config.pretrain_epochs}: "
                      f"loss {losses[-1]:.4f}", flush=True)
        for lm, r in zip(lms, rnns):
            r.load_state_dict(lm.state_dict())
        return losses

    def _require(self) -> Sequential:
        if self.model is None:
            raise ValueError("the classifier is not trained: call fit() or load()")
        return self.model

    def predict_proba(self, x: Any, *, precision: str = "fp32") -> np.ndarray:
        """(N, C) class probabilities; ``precision`` ("fp32", "bf16" or "auto", as in
        ``fit``) is that of the network's products, the probabilities are float64."""
        check_precision(precision)
        model = self._require()
        logits = model.predict(self._inputs(x), precision=precision).double()
        if len(self.classes) == 2:
            p = torch.sigmoid(logits.reshape(-1))
            return torch.stack([1 - p, p], 1).numpy()
        return torch.softmax(logits, -1).numpy()

    def predict(self, x: Any, *, precision: str = "fp32") -> np.ndarray:
        """(N,) class ids (``classes[i]`` names them); ``precision`` as in
        ``predict_proba``."""
        return self.predict_proba(x, precision=precision).argmax(1)

    def evaluate(self, x: Any, y: Any, *, baselines: bool = True) -> dict[str, Any]:
        """Accuracy, per-class and macro precision/recall/F1, confusion matrix; for texts,
        with ``baselines``, also ``metrics["baselines"]``: the TF-IDF models (fitted once,
        on the texts this classifier trained on) scored on the same (x, y) -- or
        ``metrics["baselines_note"]``, one line saying why they are missing."""
        pred, true = self.predict(x), self._labels(y)
        if len(pred) != len(true):
            raise ValueError(f"{len(pred)} samples but {len(true)} labels")
        metrics = classification_metrics(pred, true, self.classes)
        if baselines and self.vectorizer is not None:
            metrics.update(self._baseline_scores(x, true))
        return metrics

    def _baseline_scores(self, x: Any, true: np.ndarray) -> dict[str, Any]:
        if self._train_texts is None:
            return {"baselines_note": "TF-IDF baseline skipped: a loaded classifier does not "
                                      "keep its training texts (fit() does)"}
        try:
            if self._baselines is None:
                self._baselines = fit_baselines(self._train_texts, self._train_ids,
                                                seed=self._seed)
        except BaselinesUnavailable as err:
            return {"baselines_note": str(err)}
        texts = x.tolist() if isinstance(x, np.ndarray) else list(x)
        return {"baselines": score_baselines(self._baselines, texts, true, self.classes)}

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
        first = model.layers[0] if isinstance(model, Sequential) and len(model.layers) \
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
        last = model.layers[-1] if isinstance(model, Sequential) else None
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
