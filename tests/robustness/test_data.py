"""Bad input to the data layer (CSV reader, fill policies, scalers, windowing, splitting):
every case is a ValueError whose message names the file, line, column or argument."""

import gzip
import io
import re
import zipfile

import numpy as np
import pytest

from rnnkit.data import (
    MinMaxScaler,
    StandardScaler,
    fill_missing,
    make_windows,
    read_csv_series,
    scaler_from_dict,
    shifted_windows,
    split_series,
    tutorial_windows,
)

CSV = "Date,Close,Volume\n2020-01-01,1.5,10\n2020-01-02,2.5,20\n2020-01-03,3.5,30\n"


def _write(tmp_path, data, name="data.csv"):
    path = tmp_path / name
    if isinstance(data, str):
        path.write_bytes(data.encode("utf-8"))
    else:
        path.write_bytes(data)
    return path


def _raises(call, *needles):
    """The call raises ValueError whose message contains every needle."""
    with pytest.raises(ValueError) as info:
        call()
    message = str(info.value)
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"
    return message


# ---------------------------------------------------------------- CSV: what the file is

def test_gzipped_csv_is_named(tmp_path):
    path = _write(tmp_path, gzip.compress(CSV.encode()), "prices.csv")
    _raises(lambda: read_csv_series(path, ["Close"]), str(path), "gzip", "decompress")


def test_zip_archive_is_named(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("prices.csv", CSV)
    path = _write(tmp_path, buf.getvalue(), "prices.csv")
    _raises(lambda: read_csv_series(path, ["Close"]), str(path), "zip archive")


def test_latin1_names_the_line_and_byte_and_suggests_utf8(tmp_path):
    text = "City,Close\nParis,1.0\nZürich,2.0\n"
    path = _write(tmp_path, text.encode("latin-1"))
    message = _raises(lambda: read_csv_series(path, ["Close"]), str(path), "line 3",
                      "not UTF-8", "re-save it as UTF-8")
    assert "byte 22" in message and "character 2" in message


def test_latin1_in_the_header_is_line_1(tmp_path):
    path = _write(tmp_path, "Temp \xb0C,x\n1,2\n".encode("latin-1"))
    _raises(lambda: read_csv_series(path, ["x"]), str(path), "line 1", "UTF-8")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_are_named(tmp_path, encoding):
    path = _write(tmp_path, CSV.encode(encoding))
    expected = "UTF-32" if "32" in encoding else "UTF-16"
    _raises(lambda: read_csv_series(path, ["Close"]), str(path), expected)


def test_binary_garbage_is_named(tmp_path):
    raw = bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8))
    path = _write(tmp_path, raw, "noise.bin")
    _raises(lambda: read_csv_series(path, ["Close"]), str(path), "binary")


@pytest.mark.parametrize("raw, what", [
    (b"\xfd7zXZ\x00\x00rest", "xz"),
    (b"BZh91AY&SYrest", "bzip2"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest", "Excel"),
    (b"SQLite format 3\x00rest", "SQLite"),
])
def test_other_containers_are_named(tmp_path, raw, what):
    path = _write(tmp_path, raw)
    _raises(lambda: read_csv_series(path, ["Close"]), str(path), what)


def test_missing_file_and_folder(tmp_path):
    _raises(lambda: read_csv_series(tmp_path / "nope.csv", ["Close"]), "nope.csv",
            "no such file")
    _raises(lambda: read_csv_series(tmp_path, ["Close"]), str(tmp_path), "folder")


# ---------------------------------------------------------------- CSV: structure

def test_empty_file(tmp_path):
    path = _write(tmp_path, "")
    _raises(lambda: read_csv_series(path, ["Close"]), str(path), "is empty")


def test_only_blank_lines_is_empty(tmp_path):
    path = _write(tmp_path, "\n  \n\n")
    _raises(lambda: read_csv_series(path, ["Close"]), str(path), "empty")


def test_header_only(tmp_path):
    path = _write(tmp_path, "Date,Close\n")
    _raises(lambda: read_csv_series(path, ["Close"]), str(path), "header but no rows")


def test_missing_column_lists_the_columns(tmp_path):
    path = _write(tmp_path, CSV)
    _raises(lambda: read_csv_series(path, ["Price"]), "no column 'Price'",
            "Date, Close, Volume")


def test_missing_date_column(tmp_path):
    path = _write(tmp_path, CSV)
    _raises(lambda: read_csv_series(path, ["Close"], "Day"), "no column 'Day'")


def test_duplicate_header_column_is_named(tmp_path):
    path = _write(tmp_path, "Date,Close,Close\n2020,1,2\n")
    _raises(lambda: read_csv_series(path, ["Close"]), "column 'Close' 2 times",
            "positions 2, 3")


def test_duplicate_requested_column_is_named(tmp_path):
    path = _write(tmp_path, CSV)
    _raises(lambda: read_csv_series(path, ["Close", "Close"]), "'Close' more than once")


def test_no_columns_requested(tmp_path):
    path = _write(tmp_path, CSV)
    _raises(lambda: read_csv_series(path, []), "at least one column")


def test_short_row_names_the_line_and_column(tmp_path):
    path = _write(tmp_path, "Date,Close,Volume\n2020-01-01,1,2\n2020-01-02,3\n")
    _raises(lambda: read_csv_series(path, ["Close", "Volume"]), str(path), "line 3",
            "column 'Volume'", "2 cells")


def test_missing_date_cell_is_a_short_row(tmp_path):
    path = _write(tmp_path, "Close,Date\n1.0,2020-01-01\n2.0\n")
    _raises(lambda: read_csv_series(path, ["Close"], "Date"), "line 3", "column 'Date'")


def test_empty_date_cell_is_named(tmp_path):
    path = _write(tmp_path, "Date,Close\n2020-01-01,1.0\n,2.0\n")
    _raises(lambda: read_csv_series(path, ["Close"], "Date"), "line 3", "column 'Date'",
            "date cell is empty")


def test_trailing_blank_lines_read_fine(tmp_path):
    path = _write(tmp_path, CSV + "\n\n   \n")
    s = read_csv_series(path, ["Close"], "Date")
    assert s.values.tolist() == [1.5, 2.5, 3.5]
    assert s.times.tolist() == ["2020-01-01", "2020-01-02", "2020-01-03"]


def test_blank_lines_inside_are_skipped_and_lines_still_counted(tmp_path):
    path = _write(tmp_path, "Close\n1\n\n2\n\nabc\n")
    assert read_csv_series(_write(tmp_path, "Close\n1\n\n2\n", "ok.csv"),
                           ["Close"]).values.tolist() == [1.0, 2.0]
    _raises(lambda: read_csv_series(path, ["Close"]), "line 6", "'abc' is not a number")


def test_crlf_and_bom_read_fine(tmp_path):
    path = _write(tmp_path, b"\xef\xbb\xbfDate,Close\r\n2020,1.5\r\n2021,2.5\r\n")
    s = read_csv_series(path, ["Close"], "Date")
    assert s.values.tolist() == [1.5, 2.5] and s.times.tolist() == ["2020", "2021"]


def test_non_numeric_cell(tmp_path):
    path = _write(tmp_path, "Close\n1.0\n$2.00\n")
    _raises(lambda: read_csv_series(path, ["Close"]), "line 3", "column 'Close'",
            "'$2.00' is not a number")


def test_all_missing_column_is_named(tmp_path):
    path = _write(tmp_path, "Close,Volume\n1,\n2,NA\n3,\n")
    _raises(lambda: read_csv_series(path, ["Close", "Volume"]), "column 'Volume'",
            "no values")


def test_ragged_long_row_is_named(tmp_path):
    path = _write(tmp_path, "Date,Close\n2020,1,000\n")
    _raises(lambda: read_csv_series(path, ["Close"]), "line 2", "3 cells", "header 2")


def test_trailing_empty_cells_are_tolerated(tmp_path):
    path = _write(tmp_path, "Date,Close\n2020,1,\n2021,2,,\n")
    assert read_csv_series(path, ["Close"]).values.tolist() == [1.0, 2.0]


def test_unterminated_quote_reads_or_fails_cleanly(tmp_path):
    path = _write(tmp_path, 'Close\n1\n"2\n3\n')
    with pytest.raises(ValueError, match="line"):
        read_csv_series(path, ["Close"])


# ---------------------------------------------------------------- fill policies

def test_fill_error_names_the_column():
    values = np.array([[1.0, 2.0], [3.0, np.nan]])
    _raises(lambda: fill_missing(values, "error", "prices", columns=("Close", "Volume")),
            "prices has 1 missing values", "row 2", "column 'Volume'")


def test_fill_all_missing_column_names_it():
    values = np.array([[1.0, np.nan], [3.0, np.nan]])
    _raises(lambda: fill_missing(values, "ffill", "prices", columns=("Close", "Volume")),
            "column 'Volume' has no values at all")


def test_fill_drop_of_everything():
    _raises(lambda: fill_missing(np.array([np.nan, np.nan]), "drop"), "leaves nothing")


def test_fill_times_of_another_length():
    _raises(lambda: fill_missing(np.array([1.0, np.nan]), "ffill", times=np.array(["a"])),
            "1 time labels for 2 rows")


# ---------------------------------------------------------------- scalers

@pytest.mark.parametrize("kind", [MinMaxScaler, StandardScaler])
@pytest.mark.parametrize("fitted, given", [(2, 3), (3, 2)])
def test_scaler_column_mismatch_both_ways(kind, fitted, given):
    s = kind().fit(np.arange(12.0).reshape(-1, fitted))
    data = np.ones((4, given))
    for call in (s.transform, s.inverse_transform):
        _raises(lambda: call(data), f"fitted on {fitted} columns",
                f"has {given}")


def test_scaler_1d_input_for_many_columns():
    s = MinMaxScaler().fit(np.arange(8.0).reshape(4, 2))
    _raises(lambda: s.transform(np.ones(4)), "fitted on 2 columns", "1-D", "(N, 2)")


def test_scaler_nan_input_is_named():
    s = MinMaxScaler().fit(np.arange(8.0).reshape(4, 2))
    _raises(lambda: s.transform(np.array([[1.0, np.nan]])), "cannot transform",
            "NaN or inf", "index (0, 1)")
    _raises(lambda: s.inverse_transform(np.array([[np.inf, 1.0]])), "inverse_transform")


def test_scaler_fit_nan_and_empty():
    _raises(lambda: StandardScaler().fit([1.0, np.nan]), "fit a scaler", "NaN or inf")
    _raises(lambda: StandardScaler().fit(np.empty((0, 2))), "empty data")


@pytest.mark.parametrize("method", ["transform", "inverse_transform", "to_dict"])
def test_scaler_unfitted(method):
    s = StandardScaler()
    call = getattr(s, method)
    _raises(lambda: call([[1.0]]) if method != "to_dict" else call(),
            "StandardScaler is not fitted yet")


def test_scaler_non_numeric_input():
    s = MinMaxScaler().fit([[1.0], [2.0]])
    _raises(lambda: s.transform([["a"]]), "transform", "numbers")


def test_scaler_subset_out_of_range():
    s = MinMaxScaler().fit(np.arange(8.0).reshape(4, 2))
    _raises(lambda: s.subset([2]), "0..1", "2 columns", "[2]")


@pytest.mark.parametrize("d, needle", [
    ({"kind": "minmax", "scale": [1.0]}, "no shift"),
    ({"kind": "zscore", "scale": [1.0], "shift": [0.0]}, "'zscore'"),
    ({"kind": "minmax", "scale": [1.0, 2.0], "shift": [0.0]}, "2 scale values but 1 shift"),
    ({"kind": "minmax", "scale": ["a"], "shift": [0.0]}, "scale must be"),
    ({"kind": "minmax", "scale": [0.0], "shift": [0.0]}, "scale of 0"),
    ([1, 2], "JSON object"),
])
def test_scaler_from_bad_dict(d, needle):
    _raises(lambda: scaler_from_dict(d), needle)


# ---------------------------------------------------------------- windows

def test_make_windows_target_out_of_range_on_one_column():
    _raises(lambda: make_windows(np.arange(20.0), 3, targets=[5]), "targets [5]",
            "1 column", "0..0")


def test_make_windows_targets_not_ints_empty_or_repeated():
    data = np.ones((20, 2))
    _raises(lambda: make_windows(data, 3, targets=["a"]), "targets", "'a'")
    _raises(lambda: make_windows(data, 3, targets=[]), "at least one column")
    _raises(lambda: make_windows(data, 3, targets=[1, 1]), "repeat")
    _raises(lambda: make_windows(data, 3, targets=[-1]), "targets [-1]", "0..1")


@pytest.mark.parametrize("kwargs, needle", [
    ({"window": 0}, "window must be an int >= 1, got 0"),
    ({"window": 2.5}, "window must be an int >= 1, got 2.5"),
    ({"window": True}, "window must be an int >= 1, got True"),
    ({"window": 3, "horizon": 0}, "horizon must be an int >= 1, got 0"),
    ({"window": 3, "horizon": -2}, "horizon must be an int >= 1, got -2"),
    ({"window": 3, "stride": 0}, "stride must be an int >= 1, got 0"),
    ({"window": 3, "stride": "2"}, "stride must be an int >= 1, got '2'"),
])
def test_make_windows_bad_sizes(kwargs, needle):
    _raises(lambda: make_windows(np.arange(20.0), **kwargs), needle)


def test_series_too_short_names_the_sizes():
    _raises(lambda: make_windows(np.arange(5.0), 4, 2), "length 5", "window=4",
            "horizon=2", "at least 6 rows")
    _raises(lambda: shifted_windows(np.arange(3.0), 3), "length 3", "window=3")
    _raises(lambda: tutorial_windows(np.arange(3.0), 3), "length 3", "window=3")


def test_empty_ragged_and_3d_series():
    _raises(lambda: make_windows([], 1), "series is empty")
    _raises(lambda: make_windows(np.empty((5, 0)), 1), "no columns")
    _raises(lambda: make_windows([[1.0, 2.0], [3.0]], 1), "same number of features")
    _raises(lambda: make_windows(np.ones((4, 2, 2)), 1), "shape (4, 2, 2)")
    _raises(lambda: make_windows(["a", "b"], 1), "numbers")


def test_nan_series_names_the_row():
    _raises(lambda: make_windows([1.0, 2.0, np.nan, 4.0], 1), "NaN", "row index 2")


def test_shifted_windows_bad_targets():
    _raises(lambda: shifted_windows(np.arange(10.0), 3, targets=[1]), "targets [1]",
            "1 column")


# ---------------------------------------------------------------- split_series

@pytest.mark.parametrize("kwargs, needle", [
    ({"val": 1.0}, "val fraction must be a number in [0, 1), got 1.0"),
    ({"val": -0.1}, "val fraction must be a number in [0, 1), got -0.1"),
    ({"test": 1.5}, "test fraction must be a number in [0, 1), got 1.5"),
    ({"test": float("nan")}, "test fraction must be a number in [0, 1), got nan"),
    ({"test": "0.2"}, "test fraction must be a number in [0, 1), got '0.2'"),
    ({"val": 0.6, "test": 0.5}, "leaves nothing for training"),
    ({"val": 0.001}, "val=0.001 of 100 rows is no row"),
])
def test_split_series_bad_fractions(kwargs, needle):
    _raises(lambda: split_series(100, 5, **kwargs), needle)


def test_split_series_too_little_training():
    _raises(lambda: split_series(20, 8, 0.3, 0.3), "training part has 8 rows",
            "window + 1 = 9", "n=20")


def test_split_series_bad_n_and_window():
    _raises(lambda: split_series(0, 5), "n (the number of rows) must be an int >= 1")
    _raises(lambda: split_series(100, 0), "window must be an int >= 1")


def test_messages_do_not_leak_numpy_wording():
    """The broadcast error the reviewers saw is gone: our message, not numpy's."""
    s = MinMaxScaler().fit(np.ones((3, 2)))
    message = _raises(lambda: s.transform(np.ones((3, 3))), "columns")
    assert not re.search(r"broadcast|operands", message)
