import csv
from pathlib import Path

import numpy as np
import pytest

from rnnkit import datasets

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "monthly-sunspots"


def test_sunspots_loads_offline_with_provenance():
    s = datasets.load("sunspots")
    assert s.values.shape == (2820,) and s.times[0] == "1749-01" and s.times[-1] == "1983-12"
    assert s.values[:3].tolist() == [58.0, 62.6, 70.0]
    module = datasets.info("sunspots")
    assert "pmdarima" in module.SOURCE and "MIT" in module.LICENSE
    with pytest.raises(ValueError, match="unknown dataset .nope.; available: sunspots, airline"):
        datasets.load("nope")


@pytest.mark.skipif(not SHARED.exists(), reason="../shared/data (tutorial copies) not beside "
                                                "the repository")
def test_sunspots_equal_the_tutorial_csv():
    with open(SHARED / "monthly-sunspots.csv") as f:
        rows = list(csv.reader(f))[1:]
    s = datasets.load("sunspots")
    assert [r[0] for r in rows] == s.times.tolist()
    np.testing.assert_allclose([float(r[1]) for r in rows], s.values)


@pytest.mark.parametrize("name, shape, first", [
    ("airline", (144,), 112.0),
    ("sine", (200,), 0.0),
])
def test_small_series(name, shape, first):
    s = datasets.load(name)
    assert s.values.shape == shape and s.values[0] == first
    assert datasets.info(name).LICENSE


def test_stocks_and_weather_options():
    msft = datasets.load("stocks", symbol="MSFT")
    assert msft.values.shape == (3270, 6) and msft.times[0] == "2000-03-01"
    assert (np.diff(msft.column("Adj Close")[:5]) != 0).any()
    with pytest.raises(ValueError, match="unknown symbol 'X'"):
        datasets.load("stocks", symbol="X")
    w = datasets.load("weather", origin="EWR")
    assert w.values.shape[1] == 9 and w.times[0] == "2013-01-01 01:00"
    assert list(w.times) == sorted(w.times)
    with pytest.raises(ValueError, match="no column 'rain'"):
        w.column("rain")
    assert "BSD" in datasets.info("airline").LICENSE and "CC0" in datasets.info("weather").LICENSE
