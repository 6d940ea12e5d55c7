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
    with pytest.raises(ValueError, match="unknown dataset 'nope'; available: sunspots"):
        datasets.load("nope")


@pytest.mark.skipif(not SHARED.exists(), reason="../shared/data (tutorial copies) not beside "
                                                "the repository")
def test_sunspots_equal_the_tutorial_csv():
    with open(SHARED / "monthly-sunspots.csv") as f:
        rows = list(csv.reader(f))[1:]
    s = datasets.load("sunspots")
    assert [r[0] for r in rows] == s.times.tolist()
    np.testing.assert_allclose([float(r[1]) for r in rows], s.values)
