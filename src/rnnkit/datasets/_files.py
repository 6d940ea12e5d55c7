"""Reading the gzipped CSV files shipped in ``datasets/files`` (importlib.resources, offline)."""

from __future__ import annotations

import csv
import gzip
import io
from importlib import resources


def read_csv(filename: str) -> tuple[list[str], list[list[str]]]:
    raw = resources.files("rnnkit.datasets").joinpath("files", filename).read_bytes()
    rows = list(csv.reader(io.StringIO(gzip.decompress(raw).decode("utf-8"))))
    return rows[0], rows[1:]


def to_float(cell: str) -> float:
    return float("nan") if cell in ("", "NA", "NaN") else float(cell)


def read_csv_rows(filename: str) -> list[list[str]]:
    """All rows of a header-less gzipped CSV."""
    raw = resources.files("rnnkit.datasets").joinpath("files", filename).read_bytes()
    return list(csv.reader(io.StringIO(gzip.decompress(raw).decode("utf-8"))))
