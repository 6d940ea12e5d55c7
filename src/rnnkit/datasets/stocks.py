"""Daily stock prices of AAPL, GOOG, IBM, MSFT (and FB) from Quandl's WIKI database."""

from __future__ import annotations

import numpy as np

from ._files import read_csv
from ._options import check_choice
from .series import Series

TITLE = "Daily stock prices (AAPL, GOOG, IBM, MSFT, FB), 2000-2013"
SOURCE = ("Quandl WIKI Prices, as shipped in the PyPI package bokeh_sampledata 2026.1 at "
          "bokeh_sampledata/_data/stocks.csv.gz")
LICENSE = "public domain (as recorded by bokeh_sampledata's datasets.json)"
NOTE = ("trading days 2000-03-01 to 2013-03-01 (GOOG from 2004-08, FB from 2012-05); "
        "columns Open, High, Low, Close, Volume, Adj Close; choose one symbol")
FILE = "stocks.csv.gz"
SYMBOLS = ("AAPL", "GOOG", "IBM", "MSFT", "FB")
COLUMNS = ("Open", "High", "Low", "Close", "Volume", "Adj Close")
SEASON = None


def load(symbol: str = "MSFT") -> Series:
    """One symbol's daily rows, oldest first."""
    check_choice("symbol", symbol, SYMBOLS, "stocks")
    header, rows = read_csv(FILE)
    rows = sorted((r for r in rows if r[0] == symbol), key=lambda r: r[1])
    cols = [header.index(c) for c in COLUMNS]
    values = np.array([[float(r[c]) for c in cols] for r in rows])
    return Series(f"stocks:{symbol}", np.array([r[1] for r in rows]), values, COLUMNS)
