"""Red-team campaign 2 on the data layer and the datasets: each bad input is a ValueError or
TypeError whose message names the argument, file, line, column or field -- never NumPy's
own words, never a silent wrong answer (ids D*, T*, C1, C2, F31 of the campaign)."""

import json
import re

import numpy as np
import pytest
import torch

import rnnkit as rk
from rnnkit.data import (
    MinMaxScaler,
    StandardScaler,
    TextVectorizer,
    as_tensors,
    fill_missing,
    make_windows,
    read_csv_series,
    tutorial_windows,
)
from rnnkit.datasets import read_pairs


def _csv(d, body, name="c.csv"):
    path = d / name
    path.write_text(body, encoding="utf-8")
    return path


def _vocab_file(d, **change):
    config = TextVectorizer(mode="word").adapt(["the cat sat", "the dog"]).get_config()
    config.update(change)
    path = d / "vocab.json"
    path.write_text(json.dumps(config))
    return path


def _words():
    return TextVectorizer(mode="word").adapt(["the cat sat", "the dog"])


def _pairs(d):
    path = d / "p.txt"
    path.write_text("one\tun\ntwo\tdeux\n", encoding="utf-8")
    return path


FIT = MinMaxScaler().fit


# (id, call taking the tmp folder, exception type, regex the message must match)
CASES = [
    # -- CSV cells: a decimal comma and non-finite numbers, named by line and column (C1, C2)
    ("D53-decimal-comma", lambda d: read_csv_series(_csv(d, 'Close\n1\n"3,5"\n'), ["Close"]),
     ValueError, r"c\.csv, line 3, column 'Close': '3,5'.*decimal comma"),
    ("D53-european-thousands", lambda d: read_csv_series(_csv(d, 'Close\n"1.000,5"\n'),
                                                         ["Close"]),
     ValueError, r"line 2, column 'Close': '1\.000,5'.*decimal comma"),
    ("D49-overflow", lambda d: read_csv_series(_csv(d, "Close\n1\n1e400\n"), ["Close"]),
     ValueError, r"c\.csv, line 3, column 'Close': '1e400' is too large.*not a finite"),
    ("D50-inf", lambda d: read_csv_series(_csv(d, "Close\n1\ninf\n"), ["Close"]),
     ValueError, r"line 3, column 'Close': 'inf' is infinite"),
    ("D50-minus-infinity", lambda d: read_csv_series(_csv(d, "D,Close\n1,-Infinity\n"),
                                                     ["Close"]),
     ValueError, r"line 2, column 'Close': '-Infinity' is infinite.*missing value is an empty"),
    ("signed-nan", lambda d: read_csv_series(_csv(d, "Close\n1\n-nan\n"), ["Close"]),
     ValueError, r"line 3, column 'Close': '-nan' is NaN with a sign"),
    ("csv-path-none", lambda d: read_csv_series(None, ["Close"]),
     TypeError, r"path must be a file name"),
    ("csv-columns-none", lambda d: read_csv_series(_csv(d, "Close\n1\n"), None),
     TypeError, r"columns must name the columns"),
    # -- fill_missing: inf is not missing; empty and non-numeric input (D42, D44, D46)
    ("D42-inf-ffill", lambda d: fill_missing([1, np.inf, 3], "ffill"),
     ValueError, r"series has an infinite value \(inf\) at row 2.*not a missing value"),
    ("D42-inf-column", lambda d: fill_missing([[1, 2], [np.nan, -np.inf]], "interpolate",
                                              "prices", columns=["Close", "Vol"]),
     ValueError, r"prices has an infinite value \(-inf\) at row 2, column 'Vol'"),
    ("D46-empty", lambda d: fill_missing([], "ffill"),
     ValueError, r"series: values are empty"),
    ("D44-strings", lambda d: fill_missing(["a", "b"], "ffill", "prices"),
     ValueError, r"prices: values must be numbers, got strings"),
    ("fill-none", lambda d: fill_missing(None, "ffill"),
     TypeError, r"series: values is None"),
    ("fill-times-int", lambda d: fill_missing([1.0, np.nan], "ffill", times=5),
     TypeError, r"times must be one label per row"),
    ("fill-columns-str", lambda d: fill_missing([[1.0, 2.0]], "ffill", columns="ab"),
     TypeError, r"columns must be a list of column names"),
    ("fill-policy-none", lambda d: fill_missing([1.0], None),
     ValueError, r"fill must be one of"),
    # -- read_pairs: limit, max_bad (D58-D61)
    ("D58-limit-negative", lambda d: read_pairs(_pairs(d), limit=-1),
     ValueError, r"limit must be an int >= 1, got -1"),
    ("D59-limit-zero", lambda d: read_pairs(_pairs(d), limit=0),
     ValueError, r"limit must be an int >= 1, got 0"),
    ("D61-limit-str", lambda d: read_pairs(_pairs(d), limit="2"),
     TypeError, r"limit must be an int, got '2'"),
    ("limit-bool", lambda d: read_pairs(_pairs(d), limit=True),
     TypeError, r"limit must be an int, got True"),
    ("D60-max-bad-negative", lambda d: read_pairs(_pairs(d), max_bad=-1),
     ValueError, r"max_bad must be an int >= 0, got -1"),
    ("pairs-path-none", lambda d: read_pairs(None),
     TypeError, r"path must be a file name"),
    # -- TextVectorizer options (D1-D12)
    ("D1-specials-str", lambda d: TextVectorizer(specials="<go>"),
     TypeError, r"specials must be a list of str, got the str '<go>'"),
    ("D2-specials-int", lambda d: TextVectorizer(specials=[1, 2]),
     TypeError, r"specials must be a list of non-empty str, got 1 \(int\)"),
    ("D12-split-returns-str", lambda d: TextVectorizer(mode="word",
                                                       split=lambda s: "ab").adapt(["x"]),
     TypeError, r"split callable must return a list of str.*the str 'ab'"),
    ("D11-standardize-returns-int", lambda d: TextVectorizer(
        standardize=lambda s: 5).adapt(["ab"]),
     TypeError, r"standardize callable must return a str, it returned int"),
    ("D3-length-zero", lambda d: _words().encode("the cat", length=0),
     ValueError, r"length must be a positive int or None, got 0"),
    ("D4-length-negative", lambda d: _words().encode("the cat", length=-1),
     ValueError, r"length must be a positive int or None, got -1"),
    ("D5-length-float", lambda d: _words().encode("the cat", length=2.5),
     ValueError, r"length must be a positive int or None, got 2\.5"),
    ("length-bool", lambda d: _words().encode("the cat", length=True),
     ValueError, r"length must be a positive int or None, got True"),
    ("D10-encode-none", lambda d: _words().encode(None),
     TypeError, r"texts must be a str or a list of str, got NoneType"),
    ("adapt-int", lambda d: TextVectorizer().adapt(5),
     TypeError, r"texts must be a str or a list of str, got int"),
    ("D6-decode-float", lambda d: _words().decode([1.5]),
     ValueError, r"ids must be token ids \(ints\), got 1\.5"),
    ("D7-decode-ragged", lambda d: _words().decode([[1, 2], [3]]),
     ValueError, r"ids must be a regular array.*ragged"),
    ("D8-decode-str", lambda d: _words().decode(["a"]),
     ValueError, r"ids must be token ids \(ints\), got values of dtype <U1"),
    ("decode-none", lambda d: _words().decode(None),
     TypeError, r"ids must be token ids"),
    ("decode-skip-str", lambda d: _words().decode([2, 3], skip="[PAD]"),
     TypeError, r"skip must be a list of str, got the str"),
    ("split-list", lambda d: TextVectorizer(mode="word", split=["x"]),
     ValueError, r"split must be one of"),
    ("max-tokens-bool", lambda d: TextVectorizer(max_tokens=True),
     ValueError, r"max_tokens must be a positive int or None, got True"),
    # -- a corrupt vocabulary file names the file and the field (D13-D16)
    ("D13-unhashable-entry", lambda d: TextVectorizer.load(
        _vocab_file(d, vocabulary=["[PAD]", "[UNK]", "a", [1]])),
     ValueError, r"vocab\.json: field 'vocabulary': entry 3 is \[1\] \(list\)"),
    ("D14-int-tokens", lambda d: TextVectorizer.load(
        _vocab_file(d, vocabulary=["[PAD]", "[UNK]", 5, 6])),
     ValueError, r"vocab\.json: field 'vocabulary': entry 2 is 5 \(int\)"),
    ("D15-over-max-tokens", lambda d: TextVectorizer.load(_vocab_file(d, max_tokens=3)),
     ValueError, r"vocab\.json: field 'vocabulary' holds 6 tokens, more than max_tokens=3"),
    ("D16-specials-absent", lambda d: TextVectorizer.load(_vocab_file(d, specials=["<go>"])),
     ValueError, r"vocab\.json: field 'vocabulary' must start with .*<go>"),
    ("vocab-specials-str", lambda d: TextVectorizer.load(_vocab_file(d, specials="<go>")),
     ValueError, r"vocab\.json: field 'specials'"),
    ("vocab-duplicate", lambda d: TextVectorizer.load(
        _vocab_file(d, vocabulary=["[PAD]", "[UNK]", "a", "a"])),
     ValueError, r"vocab\.json: field 'vocabulary': the token 'a' appears twice"),
    ("vocab-missing-field", lambda d: TextVectorizer.load(_drop_field(d, "mode")),
     ValueError, r"vocab\.json: the field\(s\) 'mode' are missing"),
    ("vocab-length-zero", lambda d: TextVectorizer.load(
        _vocab_file(d, output_sequence_length=0)),
     ValueError, r"vocab\.json: field 'output_sequence_length'"),
    ("vocab-version", lambda d: TextVectorizer.load(_vocab_file(d, version=2)),
     ValueError, r"vocab\.json: field 'version'"),
    ("load-path-none", lambda d: TextVectorizer.load(None),
     TypeError, r"path must be a file name"),
    # -- scalers (D19-D26)
    ("D19-range-inf", lambda d: MinMaxScaler(feature_range=(0, np.inf)),
     ValueError, r"feature_range must be two finite numbers"),
    ("range-span-overflows", lambda d: MinMaxScaler(feature_range=(-1e308, 1e308)),
     ValueError, r"feature_range must be two finite numbers .*finite span"),
    ("D20-range-int", lambda d: MinMaxScaler(feature_range=5),
     TypeError, r"feature_range must be a pair \(low, high\) of numbers, got 5"),
    ("D21-range-str", lambda d: MinMaxScaler(feature_range=("a", "b")),
     TypeError, r"feature_range must be a pair .*'a'"),
    ("range-bool", lambda d: MinMaxScaler(feature_range=(False, True)),
     TypeError, r"feature_range must be a pair"),
    ("D22-standard-overflow", lambda d: StandardScaler().fit([[1e308], [-1e308]]),
     ValueError, r"fit: column 0 spans .*overflows"),
    ("D23-minmax-overflow", lambda d: MinMaxScaler().fit([[1.0, 1e308], [2.0, -1e308]]),
     ValueError, r"fit: column 1 spans .*overflows"),
    ("transform-overflow", lambda d: FIT([[0.0], [1e-10]]).transform([[1e300]]),
     ValueError, r"transform: the value 1e\+300 .*column 0.*overflows"),
    ("inverse-overflow", lambda d: FIT([[0.0], [1e10]]).inverse_transform([[1e300]]),
     ValueError, r"inverse_transform: the value 1e\+300 .*column 0.*overflows"),
    ("D24-strings", lambda d: MinMaxScaler().fit(np.array(["1", "2"])),
     ValueError, r"fit: the data must be numbers, got strings"),
    ("D26-scalar", lambda d: MinMaxScaler().fit(5.0),
     ValueError, r"fit: the data must be an array .*single number 5\.0"),
    ("fit-none", lambda d: StandardScaler().fit(None),
     TypeError, r"fit: the data is None"),
    ("fit-complex", lambda d: StandardScaler().fit(np.array([1j, 2j])),
     ValueError, r"fit: the data must be numbers, got complex"),
    ("subset-int", lambda d: FIT([[1.0, 2.0], [3.0, 4.0]]).subset(1),
     ValueError, r"subset columns must be a list of indices in 0\.\.1, got 1"),
    # -- windowing and batching (D33, F31)
    ("D33-strings", lambda d: make_windows([str(i) for i in range(10)], 3),
     ValueError, r"series must be numbers, got strings, e\.g\. '0'"),
    ("ragged-series", lambda d: make_windows([[1.0, 2.0], [3.0]], 1),
     ValueError, r"series must be numbers in a regular array.*same number of features"),
    ("series-none", lambda d: make_windows(None, 3),
     TypeError, r"series is None"),
    ("series-scalar", lambda d: tutorial_windows(7.0, 3),
     ValueError, r"series must be an array .*single number"),
    ("series-with-none", lambda d: make_windows([1.0, None, 2.0], 1),
     ValueError, r"series must be numbers .*index \(1,\) is None"),
    ("F31-ragged-x", lambda d: as_tensors([[1.0, 2.0], [3.0]], "x"),
     ValueError, r"x must be a regular array"),
    ("complex-tensor", lambda d: as_tensors(torch.tensor([1 + 1j]), "x"),
     TypeError, r"x must be real numbers"),
    ("x-str", lambda d: as_tensors("abc", "x"),
     TypeError, r"x must be numbers"),
    # -- datasets: every option checked in one place (T1-T3)
    ("T1-sine-step-nan", lambda d: rk.datasets.load("sine", step=float("nan")),
     ValueError, r"sine: step must be a finite number, got nan"),
    ("T2-sine-noise-nan", lambda d: rk.datasets.load("sine", noise=float("nan")),
     ValueError, r"sine: noise must be a finite number, got nan"),
    ("T3-sine-seed-negative", lambda d: rk.datasets.load("sine", seed=-1),
     ValueError, r"sine: seed must be an int >= 0, got -1"),
    ("sine-seed-float", lambda d: rk.datasets.load("sine", seed=1.5),
     TypeError, r"sine: seed must be an int, got 1\.5"),
    ("sine-step-zero", lambda d: rk.datasets.load("sine", step=0),
     ValueError, r"sine: step must be > 0"),
    ("sine-length-huge", lambda d: rk.datasets.load("sine", length=10**12),
     ValueError, r"sine: length must be an int in 2\.\."),
    ("sine-unknown-option", lambda d: rk.datasets.load("sine", lenght=5),
     ValueError, r"sine dataset has no option 'lenght'; its options are length"),
    ("airline-no-options", lambda d: rk.datasets.load("airline", x=1),
     ValueError, r"airline dataset has no option 'x'; it takes no options"),
    ("numbers-fr-limit-bool", lambda d: rk.datasets.load("numbers-fr", limit=True),
     TypeError, r"numbers-fr: limit must be an int, got True"),
    ("stocks-symbol-list", lambda d: rk.datasets.load("stocks", symbol=["MSFT"]),
     ValueError, r"unknown symbol \['MSFT'\]"),
    ("split-test-nan", lambda d: rk.datasets.load("numbers-fr", limit=10).split(
        test=float("nan")),
     ValueError, r"numbers-fr: test must be a finite number"),
    ("split-seed-negative", lambda d: rk.datasets.load("numbers-fr", limit=10).split(seed=-3),
     ValueError, r"numbers-fr: seed must be an int >= 0"),
    ("select-str", lambda d: rk.datasets.load("sine", length=5).select("sine"),
     TypeError, r"names must be a list of column names.*\['sine'\]"),
]


def _drop_field(d, field):
    path = _vocab_file(d)
    config = json.loads(path.read_text())
    del config[field]
    path.write_text(json.dumps(config))
    return path


@pytest.mark.parametrize("call, error, pattern", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_bad_input_is_named(tmp_path, call, error, pattern):
    with pytest.raises(error, match=pattern) as info:
        call(tmp_path)
    assert type(info.value) is error          # not a subclass from deep inside numpy/torch


# ---------------------------------------------------------------- what still works

def test_thousands_separators_and_missing_cells_still_read(tmp_path):
    path = _csv(tmp_path, 'Close\n"1,000"\n"-12,345.5"\nNA\n\n7\n')
    values = read_csv_series(path, ["Close"]).values
    assert values[:2].tolist() == [1000.0, -12345.5] and np.isnan(values[2])
    assert values[3] == 7.0


def test_fill_missing_treats_none_and_nan_as_gaps_but_not_inf():
    assert fill_missing([1.0, None, 3.0], "interpolate")[0].tolist() == [1.0, 2.0, 3.0]
    assert fill_missing(np.array([np.nan, 2.0]), "ffill")[0].tolist() == [2.0, 2.0]


def test_read_pairs_strips_a_utf8_bom_and_honours_limit(tmp_path):
    path = tmp_path / "p.txt"
    path.write_bytes(b"\xef\xbb\xbfone\tun\r\ntwo\tdeux\r\n")
    assert read_pairs(path).pairs == (("one", "un"), ("two", "deux"))
    assert read_pairs(path, limit=1).pairs == (("one", "un"),)


def test_vectorizer_accepts_numpy_ints_tuples_and_whole_float_ids():
    v = TextVectorizer(mode="word", specials=("<go>",), max_tokens=np.int64(10))
    v.adapt(["the cat"])
    assert v.encode("the cat", length=np.int64(3)).shape == (1, 3)
    assert v.decode(np.array([3.0, 4.0])) == "the cat"
    assert v.decode(torch.tensor([3, 4])) == "the cat"


def test_scalers_take_tensors_and_numpy_scalar_ranges():
    s = MinMaxScaler(feature_range=(np.float32(-1), np.int64(1))).fit(torch.arange(5.0))
    assert s.transform([0.0, 4.0]).tolist() == [-1.0, 1.0]


def test_sine_options_accept_numpy_numbers():
    s = rk.datasets.load("sine", length=np.int64(5), step=np.float32(0.5), seed=np.int32(2))
    assert s.values.shape == (5,) and np.isfinite(s.values).all()


def test_messages_never_carry_numpy_wording():
    for call, error, _ in [c[1:] for c in CASES if c[0].startswith(("D7", "D33", "F31"))]:
        with pytest.raises(error) as info:
            call(None)
        assert not re.search(r"^setting an array element", str(info.value))
