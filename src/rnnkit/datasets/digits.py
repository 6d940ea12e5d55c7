"""Handwritten digits, 8x8 (UCI optical recognition test set), read row by row: 8 steps of 8."""

from __future__ import annotations

import numpy as np

from ._files import read_csv_rows
from .labelled import Labelled

TITLE = "Handwritten digits, 8x8 pixels, 1,797 images"
SOURCE = ("E. Alpaydin, C. Kaynak (1998), Optical Recognition of Handwritten Digits (UCI), "
          "test set, as shipped in the PyPI package scikit-learn 1.9.1 at "
          "sklearn/datasets/data/digits.csv.gz (copied unchanged)")
LICENSE = "BSD-3-Clause (scikit-learn); notice in files/digits.LICENSE.txt"
NOTE = "1,797 images of 8x8 pixels (0-16, scaled to [0, 1]), 10 classes; 8 steps of 8"
FILE = "digits.csv.gz"


def load() -> Labelled:
    rows = np.array(read_csv_rows(FILE), dtype=np.float32)        # 64 pixels + label
    x = (rows[:, :64] / 16.0).reshape(-1, 8, 8)
    return Labelled("digits", x, rows[:, 64].astype(np.int64), tuple("0123456789"))


def preview() -> list[str]:
    return load().preview()
