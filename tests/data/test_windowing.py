import numpy as np
import pytest

from rnnkit.data import (
    StandardScaler,
    fill_missing,
    make_windows,
    read_csv_series,
    shifted_windows,
    split_series,
)


def test_windows_exact_fit_stride_horizon_and_multivariate():
    x, y = make_windows(np.arange(5.0), window=3, horizon=2)        # exactly one window fits
    assert x.shape == (1, 3, 1) and y[:, :, 0].tolist() == [[3.0, 4.0]]
    x, y = make_windows(np.arange(10.0), window=4, horizon=1, stride=4)   # non-overlapping
    assert x[:, :, 0].tolist() == [[0, 1, 2, 3], [4, 5, 6, 7]] and y.ravel().tolist() == [4, 8]
    data = np.stack([np.arange(6.0), 10 * np.arange(6.0)], axis=1)
    x, y = make_windows(data, window=2, horizon=1, targets=[1])
    assert x.shape == (4, 2, 2) and y[:, 0, 0].tolist() == [20.0, 30.0, 40.0, 50.0]
    with pytest.raises(ValueError, match="too short for window=4 \\+ horizon=2"):
        make_windows(np.arange(5.0), 4, 2)
    with pytest.raises(ValueError, match="stride must be an int >= 1"):
        make_windows(np.arange(5.0), 2, 1, stride=0)
    with pytest.raises(ValueError, match="NaN"):
        make_windows([1.0, np.nan, 2.0, 3.0], 1)


def test_shifted_windows_predict_the_next_value_at_every_step():
    x, y = shifted_windows(np.arange(6.0), window=3)
    assert x[0, :, 0].tolist() == [0, 1, 2] and y[0, :, 0].tolist() == [1, 2, 3]
    assert len(x) == len(y) == 3


def test_split_is_chronological_and_targets_never_overlap():
    parts = split_series(100, window=10, val=0.2, test=0.2)
    assert parts == {"train": (0, 60), "val": (50, 80), "test": (70, 100)}
    # the first target of each part is the row right after the previous part
    assert parts["val"][0] + 10 == parts["train"][1] and parts["test"][0] + 10 == 80
    with pytest.raises(ValueError, match="training part has 8 rows"):
        split_series(20, window=8, val=0.3, test=0.3)


def test_standard_scaler_and_subset():
    data = np.array([[1.0, 10.0], [3.0, 30.0]])
    s = StandardScaler().fit(data)
    np.testing.assert_allclose(s.transform(data), [[-1, -1], [1, 1]])
    np.testing.assert_allclose(s.subset([1]).inverse_transform(np.array([[0.0]])), [[20.0]])


def test_fill_policies():
    v = np.array([np.nan, 1.0, np.nan, 3.0, np.nan])
    assert fill_missing(v, "ffill")[0].tolist() == [1.0, 1.0, 1.0, 3.0, 3.0]
    assert fill_missing(v, "interpolate")[0].tolist() == [1.0, 1.0, 2.0, 3.0, 3.0]
    kept, _, dropped = fill_missing(v, "drop")
    assert kept.tolist() == [1.0, 3.0] and dropped == 3
    with pytest.raises(ValueError, match="3 missing values, the first at row 1 \\(a\\)"):
        fill_missing(v, "error", times=np.array(list("abcde")))
    with pytest.raises(ValueError, match="fill must be one of"):
        fill_missing(v, "zero")


def test_csv_errors_name_the_line_and_column(tmp_path):
    good = tmp_path / "p.csv"
    good.write_text("Date,Close,Volume\n2020-01-01,1.5,\"1,000\"\n2020-01-02,,2000\n")
    s = read_csv_series(good, ["Close", "Volume"], "Date")
    assert s.times.tolist() == ["2020-01-01", "2020-01-02"] and np.isnan(s.values[1, 0])
    assert s.values[0, 1] == 1000.0
    with pytest.raises(ValueError, match="has no column 'Price'; its columns are: Date, Close"):
        read_csv_series(good, ["Price"])
    bad = tmp_path / "b.csv"
    bad.write_text("Close\n1.0\nabc\n")
    with pytest.raises(ValueError, match="line 3, column 'Close': 'abc' is not a number"):
        read_csv_series(bad, ["Close"])
    (tmp_path / "e.csv").write_text("Close\n")
    with pytest.raises(ValueError, match="header but no rows"):
        read_csv_series(tmp_path / "e.csv", ["Close"])
