"""Monthly mean relative sunspot numbers, Zurich, 1749-1983 (R's ``datasets::sunspots``)."""

from __future__ import annotations

TITLE = "Monthly sunspot numbers, 1749-1983"
SOURCE = ("R datasets::sunspots (Andrews & Herzberg, 1985, Data, Springer), as shipped in "
          "the PyPI package pmdarima 2.1.1 at pmdarima/datasets/data/sunspots.txt.gz; "
          "converted here to CSV with a month column")
LICENSE = "MIT (pmdarima's licence, covering its data files); the observations are facts"
NOTE = "2,820 monthly values, 1749-01 to 1983-12, one variable (mean sunspot number)"
FILE = "sunspots.csv.gz"
COLUMNS = ("month", "sunspots")
