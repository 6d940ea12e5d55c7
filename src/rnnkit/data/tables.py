"""Reading a user's CSV into a Series, and filling gaps by an explicit policy."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ..datasets.series import Series

__all__ = ["read_csv_series", "fill_missing", "FILL_POLICIES"]

FILL_POLICIES = ("error", "ffill", "interpolate", "drop")
MISSING = {"", "na", "nan", "null", "none"}


def fill_missing(values: np.ndarray, policy: str = "error", name: str = "series",
                 times: np.ndarray | None = None):
    """Deal with NaN rows: "error" (say where), "ffill" (carry the last value; leading gaps
    take the first value), "interpolate" (linear), "drop" (remove rows).
    Returns (values, times, how many values were filled or rows dropped)."""
    if policy not in FILL_POLICIES:
        raise ValueError(f"fill must be one of {', '.join(FILL_POLICIES)}, got {policy!r}")
    arr = np.array(values, dtype=np.float64)
    two_d = arr.ndim == 2
    arr2 = arr if two_d else arr[:, None]
    bad = ~np.isfinite(arr2)
    count = int(bad.sum())
    if count == 0:
        return arr, times, 0
    if policy == "error":
        row = int(np.argwhere(bad)[0][0])
        where = f"row {row + 1}" + (f" ({times[row]})" if times is not None else "")
        raise ValueError(f"{name} has {count} missing values, the first at {where}; choose "
                         f"a fill policy: {', '.join(FILL_POLICIES[1:])}")
    if policy == "drop":
        keep = ~bad.any(1)
        kept = arr2[keep]
        return (kept if two_d else kept[:, 0]), (times[keep] if times is not None else None), \
            int((~keep).sum())
    for j in range(arr2.shape[1]):
        col, ok = arr2[:, j], np.isfinite(arr2[:, j])
        if not ok.any():
            raise ValueError(f"{name}: column {j} has no values at all")
        idx = np.arange(len(col))
        if policy == "ffill":
            last = np.maximum.accumulate(np.where(ok, idx, -1))
            col[:] = np.where(last >= 0, col[np.maximum(last, 0)], col[ok][0])
        else:
            col[~ok] = np.interp(idx[~ok], idx[ok], col[ok])
    return (arr2 if two_d else arr2[:, 0]), times, count


def read_csv_series(path: str | Path, columns: list[str], date_column: str | None = None
                    ) -> Series:
    """Read numeric ``columns`` (and optional time labels) from a CSV with a header row.

    Missing cells become NaN (choose a policy with ``fill_missing``); anything else that is
    not a number is an error naming its line and column.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise ValueError(f"{path} is empty")
    header = [h.strip() for h in rows[0]]
    wanted = list(columns) + ([date_column] if date_column else [])
    for name in wanted:
        if name not in header:
            raise ValueError(f"{path} has no column {name!r}; its columns are: "
                             f"{', '.join(header)}")
    idx = [header.index(c) for c in columns]
    values = np.empty((len(rows) - 1, len(columns)))
    for line, row in enumerate(rows[1:], start=2):
        for j, k in enumerate(idx):
            cell = row[k].strip().replace(",", "") if k < len(row) else ""
            if cell.lower() in MISSING:
                values[line - 2, j] = np.nan
                continue
            try:
                values[line - 2, j] = float(cell)
            except ValueError:
                raise ValueError(f"{path}, line {line}, column {columns[j]!r}: {row[k]!r} is "
                                 "not a number") from None
    if len(values) == 0:
        raise ValueError(f"{path} has a header but no rows")
    times = (np.array([r[header.index(date_column)] for r in rows[1:]]) if date_column
             else np.arange(len(values)).astype(str))
    return Series(path.stem, times, values[:, 0] if len(columns) == 1 else values,
                  tuple(columns))
