"""Monthly mean relative sunspot numbers, Zurich, 1749-1983 (R's ``datasets::sunspots``)."""

from __future__ import annotations

import numpy as np

from ._files import read_csv
from .series import Series

TITLE = "Monthly sunspot numbers, 1749-1983"
SOURCE = ("R datasets::sunspots (Andrews & Herzberg, 1985, Data, Springer), as shipped in "
          "the PyPI package pmdarima 2.1.1 at pmdarima/datasets/data/sunspots.txt.gz; "
          "converted here to CSV with a month column")
LICENSE = "MIT (pmdarima's licence, covering its data files); the observations are facts"
NOTE = "2,820 monthly values, 1749-01 to 1983-12, one variable (mean sunspot number)"
FILE = "sunspots.csv.gz"
SEASON = 132          # the ~11-year solar cycle, in months


def load() -> Series:
    _, rows = read_csv(FILE)
    return Series("sunspots", np.array([r[0] for r in rows]),
                  np.array([float(r[1]) for r in rows]), ("sunspots",))
