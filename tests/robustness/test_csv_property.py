"""The CSV reader fed anything returns a Series or raises ValueError, never another
exception type (no UnicodeDecodeError, IndexError, csv.Error, ...)."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnkit.data import read_csv_series
from rnnkit.datasets import Series

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def _read(path, columns, date_column=None):
    try:
        s = read_csv_series(path, columns, date_column)
    except ValueError:
        return None
    assert isinstance(s, Series)
    assert len(s.times) == len(s.values) > 0
    assert s.columns == tuple(columns)
    return s


@SETTINGS
@given(raw=st.binary(max_size=600))
def test_arbitrary_bytes(tmp_path, raw):
    path = tmp_path / "fuzz.csv"
    path.write_bytes(raw)
    _read(path, ["a"])


@SETTINGS
@given(raw=st.binary(max_size=300))
def test_arbitrary_bytes_after_a_valid_header(tmp_path, raw):
    path = tmp_path / "fuzz.csv"
    path.write_bytes(b"t,a,b\n" + raw)
    _read(path, ["a", "b"], "t")


NUMBER = st.one_of(
    st.sampled_from(["", "NA", "nan", "1", "-2.5", "1e3", '"1,000"', "inf", " 3 "]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)
CELL = st.one_of(st.text(max_size=8), NUMBER)
HEADER = st.one_of(st.just(["t", "a", "b"]),
                   st.lists(st.sampled_from(["t", "a", "b", "a ", "", "c"]), max_size=4))
ROW = st.one_of(st.lists(NUMBER, min_size=3, max_size=3),       # mostly well-formed rows
                st.tuples(st.text(max_size=10), NUMBER, NUMBER).map(list),
                st.lists(CELL, max_size=5))                     # anything


@SETTINGS
@given(header=HEADER, rows=st.lists(ROW, max_size=8), sep=st.sampled_from([",", ";"]),
       newline=st.sampled_from(["\n", "\r\n", "\r"]),
       trailing=st.sampled_from(["", "\n", "\n\n  \n"]))
def test_text_ish_csv(tmp_path, header, rows, sep, newline, trailing):
    text = newline.join([sep.join(header)] + [sep.join(r) for r in rows]) + trailing
    path = tmp_path / "fuzz.csv"
    path.write_text(text, encoding="utf-8", newline="")
    s = _read(path, ["a"], "t" if "t" in header else None)
    if s is not None:
        assert np.isfinite(s.values).any()      # a column with no values is an error
