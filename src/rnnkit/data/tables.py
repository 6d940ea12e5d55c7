"""Reading a user's CSV into a Series, and filling gaps by an explicit policy.

Every problem with a file is a ValueError that names the file and, where there is one, the
line and the column: compressed or binary content, text that is not UTF-8, a missing or
duplicated column, a short row, a cell that is not a number, a column with no values.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..datasets.series import Series
from ..io import MAX_TEXT_BYTES, read_bytes
from .batching import as_path, first_non_finite, numeric_array

__all__ = ["read_csv_series", "fill_missing", "FILL_POLICIES"]

FILL_POLICIES = ("error", "ffill", "interpolate", "drop")
MISSING = {"", "na", "n/a", "nan", "null", "none"}
# a comma is read as a thousands separator only in this form: 1,000 / -12,345.67
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?([eE][+-]?\d+)?")

# (leading bytes, what the file is, what to do instead)
_SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"\x1f\x8b", "gzip-compressed", "decompress it first (gunzip FILE)"),
    (b"PK\x03\x04", "a zip archive (or an .xlsx/.ods workbook)",
     "extract the CSV first, or save the sheet as 'CSV UTF-8'"),
    (b"PK\x05\x06", "an empty zip archive", "extract the CSV first"),
    (b"\xfd7zXZ\x00", "xz-compressed", "decompress it first (unxz FILE)"),
    (b"(\xb5/\xfd", "zstd-compressed", "decompress it first (unzstd FILE)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Excel (.xls) or other OLE file",
     "save the sheet as 'CSV UTF-8'"),
    (b"SQLite format 3\x00", "an SQLite database", "export the table as CSV"),
    (b"\x89HDF\r\n\x1a\n", "an HDF5 file", "export the table as CSV"),
    (b"%PDF-", "a PDF document", "export the table as CSV"),
)
_BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"), (b"\xfe\xff", "UTF-16"),
)
_RESAVE = ("re-save it as UTF-8 (a spreadsheet's 'CSV UTF-8', or "
           "iconv -f latin1 -t utf-8 FILE > NEW.csv)")


def _column_label(j: int, columns: Sequence[str] | None) -> str:
    return repr(columns[j]) if columns is not None and j < len(columns) else str(j)


def fill_missing(values: np.ndarray, policy: str = "error", name: str = "series",
                 times: np.ndarray | None = None, columns: Sequence[str] | None = None):
    """Deal with NaN rows: "error" (say where), "ffill" (carry the last value; leading gaps
    take the first value), "interpolate" (linear), "drop" (remove rows).
    ``columns`` names the columns in messages. Only NaN is missing: an infinite value is
    an error naming its row and column, as is empty or non-numeric input. Returns (values,
    times, how many values were filled or rows dropped)."""
    if not isinstance(policy, str) or policy not in FILL_POLICIES:
        raise ValueError(f"fill must be one of {', '.join(FILL_POLICIES)}, got {policy!r}")
    arr = numeric_array(values, f"{name}: values", allow_empty=True, none_as_nan=True).copy()
    if arr.ndim not in (1, 2):
        raise ValueError(f"{name}: values must be (N,) or (N, F), got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name}: values are empty (shape {arr.shape}); there is nothing "
                         "to fill")
    two_d = arr.ndim == 2
    arr2 = arr if two_d else arr[:, None]
    if times is not None:
        if isinstance(times, (str, bytes)) or not hasattr(times, "__len__"):
            raise TypeError(f"{name}: times must be one label per row (a list or array), "
                            f"got {type(times).__name__}")
        times = np.asarray(times)
    if columns is not None:
        if isinstance(columns, str) or not hasattr(columns, "__len__"):
            raise TypeError(f"{name}: columns must be a list of column names, got "
                            f"{columns!r:.60}")
        if len(columns) != arr2.shape[1]:
            raise ValueError(f"{name}: {len(columns)} column names for {arr2.shape[1]} "
                             "columns")
    if times is not None and len(times) != len(arr2):
        raise ValueError(f"{name}: {len(times)} time labels for {len(arr2)} rows")
    inf = first_non_finite(arr2, nan=False)
    if inf is not None:           # inf is a value gone wrong (an overflow), not a gap
        row, col = inf
        where = f"row {row + 1}" + (f" ({times[row]})" if times is not None else "")
        which = (f", column {_column_label(col, columns)}"
                 if columns is not None or arr2.shape[1] > 1 else "")
        raise ValueError(f"{name} has an infinite value ({arr2[row, col]}) at {where}{which}: "
                         "inf is not a missing value, so no fill policy replaces it; fix "
                         "or drop that row (a missing value is NaN)")
    bad = np.isnan(arr2)
    count = int(bad.sum())
    if count == 0:
        return arr, times, 0
    if policy == "error":
        row, col = (int(v) for v in np.argwhere(bad)[0])
        where = f"row {row + 1}" + (f" ({times[row]})" if times is not None else "")
        which = (f", column {_column_label(col, columns)}"
                 if columns is not None or arr2.shape[1] > 1 else "")
        raise ValueError(f"{name} has {count} missing values, the first at {where}{which}; "
                         f"choose a fill policy: {', '.join(FILL_POLICIES[1:])}")
    if policy == "drop":
        keep = ~bad.any(1)
        if not keep.any():
            raise ValueError(f"{name}: every one of its {len(arr2)} rows has a missing value, "
                             "so fill='drop' leaves nothing; try ffill or interpolate")
        kept = arr2[keep]
        return (kept if two_d else kept[:, 0]), (times[keep] if times is not None else None), \
            int((~keep).sum())
    for j in range(arr2.shape[1]):
        col, ok = arr2[:, j], np.isfinite(arr2[:, j])
        if not ok.any():
            raise ValueError(f"{name}: column {_column_label(j, columns)} has no values at all "
                             f"(all {len(col)} rows are missing)")
        idx = np.arange(len(col))
        if policy == "ffill":
            last = np.maximum.accumulate(np.where(ok, idx, -1))
            col[:] = np.where(last >= 0, col[np.maximum(last, 0)], col[ok][0])
        else:
            col[~ok] = np.interp(idx[~ok], idx[ok], col[ok])
    return (arr2 if two_d else arr2[:, 0]), times, count


def _number(raw: str, where: str) -> float:
    """One CSV cell as a float: NaN for a missing cell (MISSING); a ValueError naming
    ``where`` (file, line, column) for text, a decimal comma, or a number that is not
    finite (inf, -Infinity, 1e400), which is an error, never a missing value."""
    cell = raw.strip()
    if cell.lower() in MISSING:
        return np.nan
    if "," in cell:
        if not _THOUSANDS.fullmatch(cell):
            raise ValueError(f"{where}: {raw!r} is not a number: its comma is not a thousands "
                             "separator (a decimal comma? write 3.5, not 3,5; re-export the "
                             "file with '.' as the decimal mark)")
        cell = cell.replace(",", "")
    try:
        value = float(cell)
    except ValueError:
        raise ValueError(f"{where}: {raw!r} is not a number") from None
    if not np.isfinite(value):
        if value != value:
            what = "NaN with a sign"
        elif cell.lower().lstrip("+-") in ("inf", "infinity"):
            what = "infinite"
        else:
            what = "too large for a 64-bit float (it reads as infinite)"
        raise ValueError(f"{where}: {raw!r} is {what}, not a finite number; a missing "
                         "value is an empty cell or NA, and every other value must be finite")
    return value


def _decode(path: Path, raw: bytes) -> str:
    """The file's text, or a ValueError saying what the file is instead."""
    for magic, what, todo in _SIGNATURES:
        if raw.startswith(magic):
            raise ValueError(f"{path} is {what}, not CSV text; {todo}")
    if raw.startswith(b"BZh") and raw[3:4].isdigit() and raw[4:10] == b"1AY&SY":
        raise ValueError(f"{path} is bzip2-compressed, not CSV text; decompress it first "
                         "(bunzip2 FILE)")
    if raw.startswith(b"PAR1") and raw.endswith(b"PAR1"):
        raise ValueError(f"{path} is a Parquet file, not CSV text; export the table as CSV")
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            raise ValueError(f"{path} is {encoding} text (it starts with a {encoding} byte "
                             f"order mark), not UTF-8; {_RESAVE.replace('latin1', encoding)}")
    nul = raw.find(b"\x00")
    if nul >= 0:
        line = raw.count(b"\n", 0, nul) + 1
        head = raw[:4096]
        utf16 = len(head) >= 4 and (head[1::2].count(0) > len(head) // 4
                                    or head[0::2].count(0) > len(head) // 4)
        what = ("looks like UTF-16 text without a byte order mark" if utf16
                else "looks like a binary file, not CSV text")
        raise ValueError(f"{path} {what}: it holds a NUL byte (line {line}, byte {nul}); "
                         + (_RESAVE.replace("latin1", "utf-16") if utf16
                            else "give a CSV file saved as UTF-8 text"))
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        start = err.start + (3 if raw.startswith(b"\xef\xbb\xbf") else 0)
        line = raw.count(b"\n", 0, start) + 1
        column = start - (raw.rfind(b"\n", 0, start) + 1) + 1
        bad = raw[start:start + max(1, min(4, err.end - err.start))]
        controls = sum(b < 9 or 13 < b < 32 for b in raw[:4096])
        what = ("looks like a binary file, not CSV text" if controls > len(raw[:4096]) // 20
                else "is not UTF-8 text (Latin-1 or Windows-1252, perhaps)")
        raise ValueError(f"{path} {what}: line {line}, character {column} (byte {start}) is "
                         f"{bad!r}, which UTF-8 cannot decode; {_RESAVE}") from None


def _rows(path: Path, text: str):
    """(line number, cells) of each non-blank record; a csv.Error becomes a ValueError."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                yield reader.line_num, row
    except csv.Error as err:
        raise ValueError(f"{path}, line {reader.line_num}: not valid CSV ({err})") from None


DATE_FORMATS = ("%Y-%m-%d", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M",
                "%Y-%m-%dT%H:%M:%S", "%Y-%m", "%Y", "%m/%d/%Y", "%d/%m/%Y", "%Y/%m/%d",
                "%d.%m.%Y")


def _check_dates(path: Path, column: str, labels: list[str], lines: list[int]) -> None:
    """A date column must hold dates of one form, strictly increasing: a file in reverse
    order, with repeated or mixed-up dates, or with words there would otherwise be read
    as time labels and forecast backwards or out of order."""
    from datetime import datetime

    def parse(label: str, form: str):
        try:
            return datetime.strptime(label, form)
        except ValueError:
            return None

    candidates = [f for f in DATE_FORMATS if parse(labels[0], f) is not None]
    if not candidates:
        raise ValueError(f"{path}, line {lines[0]}, column {column!r}: {labels[0]!r} is not "
                         "a date (forms read: YYYY-MM-DD[ HH:MM[:SS]], YYYY-MM, YYYY, "
                         "M/D/YYYY, D/M/YYYY, YYYY/MM/DD, DD.MM.YYYY)")
    # the first form that reads every row (M/D/YYYY before D/M/YYYY); else the first row's
    form = next((f for f in candidates if all(parse(v, f) is not None for v in labels)),
                candidates[0])
    dates = []
    for label, line in zip(labels, lines):
        d = parse(label, form)
        if d is None:
            raise ValueError(f"{path}, line {line}, column {column!r}: {label!r} is not a "
                             f"date of the form the first row has ({labels[0]!r}, {form})")
        if dates and d == dates[-1][0]:
            raise ValueError(f"{path}, column {column!r}: {label!r} appears twice, at lines "
                             f"{dates[-1][1]} and {line}; one row per time step")
        if dates and d < dates[-1][0]:
            raise ValueError(f"{path}, line {line}, column {column!r}: {label!r} comes after "
                             f"{dates[-1][2]!r} (line {dates[-1][1]}); the rows must be in "
                             "increasing time order: sort the file first")
        dates.append((d, line, label))


def read_csv_series(path: str | Path, columns: Sequence[str], date_column: str | None = None
                    ) -> Series:
    """Read numeric ``columns`` (and optional time labels) from a UTF-8 CSV with a header row.

    Blank lines are skipped. Missing cells ("", NA, NaN, null, none) become NaN (choose a
    policy with ``fill_missing``); anything else that is not a number (a decimal comma
    "3,5" included: a comma is read only as a thousands separator, "1,000"), a number that
    is not finite (inf, -Infinity, 1e400), a row too short to hold a requested column, an
    empty date cell, or a column with no values at all is an error naming its line and
    column.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "p.csv"
        >>> _ = p.write_text("Date,Close\\n2020-01-01,1.5\\n2020-01-02,2.5\\n\\n")
        >>> read_csv_series(p, ["Close"], "Date").values.tolist()
        [1.5, 2.5]
    """
    path = as_path(path)
    if columns is None or not (isinstance(columns, str) or hasattr(columns, "__iter__")):
        raise TypeError(f"columns must name the columns to read (a str or a list of str), "
                        f"got {columns!r:.60}")
    columns = [columns] if isinstance(columns, str) else list(columns)
    if not columns:
        raise ValueError("columns must name at least one column to read")
    for c in columns + ([date_column] if date_column is not None else []):
        if not isinstance(c, str):
            raise ValueError(f"column names must be strings, got {c!r}")
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise ValueError(f"columns name {', '.join(map(repr, repeated))} more than once")
    raw = read_bytes(path, "a CSV file", max_bytes=MAX_TEXT_BYTES)   # a regular file, capped
    if not raw.strip():
        raise ValueError(f"{path} is empty")
    records = _rows(path, _decode(path, raw))
    first = next(records, None)
    if first is None:
        raise ValueError(f"{path} is empty (only blank lines)")
    header_line, header_cells = first
    header = [h.strip() for h in header_cells]
    wanted = columns + ([date_column] if date_column and date_column not in columns else [])
    for name in wanted:
        where = [k + 1 for k, h in enumerate(header) if h == name]
        if not where:
            raise ValueError(f"{path} has no column {name!r}; its columns are: "
                             f"{', '.join(h for h in header if h) or '(none)'}")
        if len(where) > 1:
            raise ValueError(f"{path}: the header (line {header_line}) has column {name!r} "
                             f"{len(where)} times (at positions "
                             f"{', '.join(map(str, where))}); rename one of them")
    idx = [header.index(c) for c in columns]
    date_idx = header.index(date_column) if date_column else None
    need = max(idx + ([date_idx] if date_idx is not None else [])) + 1
    values: list[list[float]] = []
    times: list[str] = []
    lines: list[int] = []
    for line, row in records:
        if len(row) < need:
            short = next(c for c, k in zip(columns + [date_column], idx + [date_idx])
                         if k is not None and k >= len(row))
            raise ValueError(f"{path}, line {line}, column {short!r}: the row has "
                             f"{len(row)} cells but {short!r} is cell {header.index(short) + 1} "
                             f"of the header's {len(header)}; write an empty cell for a "
                             "missing value")
        if len(row) > len(header) and any(c.strip() for c in row[len(header):]):
            raise ValueError(f"{path}, line {line}: the row has {len(row)} cells, the header "
                             f"{len(header)}; quote any value holding a ',' (\"1,000\")")
        out = []
        out = [_number(row[k], f"{path}, line {line}, column {name!r}")
               for name, k in zip(columns, idx)]
        values.append(out)
        if date_idx is not None:
            label = row[date_idx].strip()
            if not label:
                raise ValueError(f"{path}, line {line}, column {date_column!r}: the date "
                                 "cell is empty; every row needs its time label")
            times.append(label)
            lines.append(line)
    if not values:
        raise ValueError(f"{path} has a header but no rows")
    arr = np.array(values, dtype=np.float64)
    for j, name in enumerate(columns):
        if not np.isfinite(arr[:, j]).any():
            raise ValueError(f"{path}: column {name!r} has no values (all {len(arr)} of its "
                             "cells are empty or missing)")
    if date_idx is not None:
        _check_dates(path, date_column, times, lines)
    labels = np.array(times) if date_idx is not None else np.arange(len(arr)).astype(str)
    return Series(path.stem, labels, arr[:, 0] if len(columns) == 1 else arr, tuple(columns))
