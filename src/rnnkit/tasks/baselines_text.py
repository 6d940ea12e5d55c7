"""The bag-of-words baselines a text classifier must be measured against.

A user with short texts tries TF-IDF plus a linear model first: it fits in seconds and is
hard to beat on snippets (Wang & Manning, 2012, "Baselines and Bigrams"; their NBSVM
reached 79.4 % on Rotten Tomatoes snippets).  This module fits scikit-learn's
``TfidfVectorizer`` of word 1-2-grams with a linear SVM and with logistic regression on
exactly the texts a ``SequenceClassifier`` trained on, and scores them on the same test
texts with the same metrics (``classification_metrics``), so the rows are comparable.

scikit-learn is an optional extra (``pip install 'rnnkit[baselines]'``); without it
``fit_baselines`` raises ``BaselinesUnavailable`` whose message is the one line to print.

    models = fit_baselines(train_texts, train_ids, seed=0)
    scores = score_baselines(models, test_texts, test_ids, classes)
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["BASELINES", "BaselinesUnavailable", "FittedBaseline", "fit_baselines",
           "score_baselines", "missing_message", "tfidf_pipeline"]

# name -> what the row is called in tables
BASELINES = {"tfidf_svm": "TF-IDF 1-2-grams + linear SVM",
             "tfidf_logreg": "TF-IDF 1-2-grams + logistic regression"}
MISSING = ("TF-IDF baseline skipped: scikit-learn is not installed "
           "(pip install 'rnnkit[baselines]')")


_KEEP = 2                                        # fits kept (a few MB each on reviews)
_FITTED: dict[tuple, list[FittedBaseline]] = {}


class BaselinesUnavailable(ImportError):
    """scikit-learn is missing; ``str(err)`` is the one line to show."""


def missing_message() -> str | None:
    """The one-line note to print when scikit-learn is missing, else None."""
    try:
        import sklearn  # noqa: F401
    except ImportError:
        return MISSING
    return None


def tfidf_pipeline(kind: str, seed: int = 0):
    """An unfitted scikit-learn pipeline: TF-IDF of word 1-2-grams, then the linear model.

    Never tuned on a test score: every n-gram kept, ``sublinear_tf`` (1 + log tf, the usual
    choice for text), the SVM at scikit-learn's default C=1 and logistic regression at
    C=10 -- on reviews, 5-fold cross-validation on the training texts alone gives about
    0.74 at C=1 and 0.77 at C=10 (log loss needs a weaker penalty than the hinge on
    unit-length TF-IDF rows).  ``seed`` fixes LinearSVC's coordinate-descent order.
    """
    try:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.svm import LinearSVC
    except ImportError:
        raise BaselinesUnavailable(MISSING) from None
    if kind not in BASELINES:
        raise ValueError(f"baseline must be one of {', '.join(BASELINES)}, got {kind!r}")
    model = (LinearSVC(C=1.0, random_state=seed) if kind == "tfidf_svm"
             else LogisticRegression(C=10.0, max_iter=1000))
    return make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True), model)


@dataclass
class FittedBaseline:
    name: str                  # a key of BASELINES
    pipeline: Any              # the fitted scikit-learn pipeline
    fit_seconds: float         # TF-IDF + model fit, wall clock
    train_samples: int         # texts it was fitted on

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(self.pipeline.predict(list(texts)), dtype=np.int64)


def fit_baselines(texts: Sequence[str], ids: np.ndarray, seed: int = 0,
                  kinds: Sequence[str] = tuple(BASELINES)) -> list[FittedBaseline]:
    """Fit each baseline on (texts, class ids); raises ``BaselinesUnavailable`` without
    scikit-learn, ValueError when there is nothing to fit.

    The last few fits are kept: classifiers trained on the same split (``rnnkit classify
    --compare``, a tutorial's rows) share one fit, and its fit time, instead of refitting.
    """
    texts, ids = list(texts), np.asarray(ids)
    if len(texts) != len(ids) or not texts:
        raise ValueError(f"the baselines need one class id per text, got {len(texts)} texts "
                         f"and {len(ids)} ids")
    if len(np.unique(ids)) < 2:
        raise ValueError("the baselines' training texts hold one class only")
    if missing_message():
        raise BaselinesUnavailable(MISSING)
    key = (tuple(texts), ids.tobytes(), str(ids.dtype), seed, tuple(kinds))
    if key in _FITTED:
        return _FITTED[key]
    fitted = []
    for kind in kinds:
        pipe = tfidf_pipeline(kind, seed)
        t0 = time.perf_counter()
        pipe.fit(texts, ids)
        fitted.append(FittedBaseline(kind, pipe, time.perf_counter() - t0, len(texts)))
    while len(_FITTED) >= _KEEP:
        _FITTED.pop(next(iter(_FITTED)))            # the oldest fit goes first
    _FITTED[key] = fitted
    return fitted


def score_baselines(models: Sequence[FittedBaseline], texts: Sequence[str], ids: np.ndarray,
                    classes: Sequence[str]) -> dict[str, dict[str, Any]]:
    """name -> accuracy, macro F1, precision, recall and fit seconds on (texts, ids)."""
    from .classify import classification_metrics
    out = {}
    for m in models:
        metrics = classification_metrics(m.predict(texts), np.asarray(ids), classes)
        out[m.name] = {"system": BASELINES[m.name], "accuracy": metrics["accuracy"],
                       "macro_f1": metrics["macro_f1"],
                       "macro_precision": metrics["macro_precision"],
                       "macro_recall": metrics["macro_recall"],
                       "fit_seconds": m.fit_seconds, "train_samples": m.train_samples}
    return out
