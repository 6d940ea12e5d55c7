"""Monthly international airline passengers, 1949-1960 (Box & Jenkins, Series G)."""

from __future__ import annotations

import numpy as np

from ._files import read_csv
from .series import Series

TITLE = "Airline passengers, 1949-1960"
SOURCE = ("Box, Jenkins & Reinsel (1976), Time Series Analysis, Series G, as shipped in the "
          "PyPI package sktime 1.2.0 at sktime/datasets/data/Airline/Airline.csv")
LICENSE = "BSD-3-Clause (sktime); notice in files/airline.LICENSE.txt"
NOTE = "144 monthly totals in thousands, 1949-01 to 1960-12, one variable"
FILE = "airline.csv.gz"
SEASON = 12


def load() -> Series:
    _, rows = read_csv(FILE)
    return Series("airline", np.array([r[0] for r in rows]),
                  np.array([float(r[1]) for r in rows]), ("passengers",))
