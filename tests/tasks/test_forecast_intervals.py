"""Quantile forecasts: the pinball loss, ordered quantiles, calibrated 80 % intervals."""

import numpy as np
import pytest
import torch

import rnnkit as rk
from rnnkit.tasks import Forecaster
from rnnkit.tasks.forecast import PinballLoss, interval_pairs

Q = [0.1, 0.5, 0.9]


def _noisy(n=700, seed=1):
    return rk.datasets.load("sine", length=n, step=0.3, noise=0.3, seed=seed)


def test_pinball_loss_by_hand_and_sorted_before_it():
    loss = PinballLoss((0.1, 0.5, 0.9))
    y = torch.tensor([[1.0], [2.0]])
    y_hat = torch.tensor([[0.0, 1.0, 2.0], [3.0, 2.5, 1.0]])   # the second row crosses
    # row 1: u = 1, 0, -1 -> 0.1, 0, 0.1; row 2 sorted to 1, 2.5, 3: u = 1, -0.5, -1
    # -> 0.1, 0.25, 0.1
    want = (0.1 + 0 + 0.1 + 0.1 + 0.25 + 0.1) / 6
    assert float(loss(y_hat, y)) == pytest.approx(want)
    assert float(loss(y_hat, y)) == float(loss(y_hat.sort(dim=-1).values, y))
    with pytest.raises(ValueError, match="3 quantiles per target"):
        loss.check_predictions(torch.zeros(2, 4))


def test_quantile_options_are_checked():
    with pytest.raises(ValueError, match="must hold 0.5"):
        Forecaster(quantiles=[0.1, 0.9])
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        Forecaster(quantiles=[0.0, 0.5])
    with pytest.raises(ValueError, match="repeat"):
        Forecaster(quantiles=[0.5, 0.5])
    with pytest.raises(ValueError, match="strategy='direct'"):
        Forecaster(quantiles=Q, strategy="recursive")
    assert Forecaster(quantiles=[0.9, 0.5, 0.1]).config.quantiles == (0.1, 0.5, 0.9)
    assert interval_pairs((0.1, 0.25, 0.5, 0.75, 0.9)) == [(0, 4, 80), (1, 3, 50)]


def test_quantiles_are_ordered_even_when_the_raw_outputs_cross():
    f = Forecaster(cell="gru", units=8, window=12, horizon=3, quantiles=Q)
    f.fit(_noisy(200), epochs=1, verbose=0)
    dense = f.model.layers[-1]
    with torch.no_grad():                    # large random outputs: the levels now cross
        for p in dense.parameters():
            p.copy_(torch.randn_like(p) * 5)
    raw = f.model(torch.randn(64, 12, 1)).reshape(64, 3, 1, 3)
    assert (raw.diff(dim=-1) < 0).any()
    q = f.predict(quantiles=True)
    assert q.shape == (3, 1, 3) and (np.diff(q, axis=-1) >= 0).all()
    windows = np.random.default_rng(0).normal(size=(50, 12, 1)) * 3
    qw = f.predict_windows(windows, quantiles=True)
    assert qw.shape == (50, 3, 1, 3) and (np.diff(qw, axis=-1) >= 0).all()
    # the point forecast is the median level
    np.testing.assert_allclose(f.predict_windows(windows), qw[..., 1], rtol=1e-6)


def test_calibrated_80_percent_interval_covers_about_80_percent():
    f = Forecaster(cell="gru", units=16, window=24, horizon=2, quantiles=Q, lr=5e-3)
    f.fit(_noisy(), epochs=15, verbose=0)
    assert set(f.conformal) == {"0.1"} and np.shape(f.conformal["0.1"]) == (2, 1)
    m = f.evaluate("test")
    assert m["quantiles"] == Q and m["intervals"].startswith("calibrated")
    assert 0.7 <= m["coverage"]["80"] <= 0.9, m["coverage"]
    assert 0 < m["pinball"] < m["mae"]      # the pinball loss of the median alone is mae/2
    raw = Forecaster(cell="gru", units=16, window=24, horizon=2, quantiles=Q, lr=5e-3,
                     calibrate=False)
    raw.fit(_noisy(), epochs=15, verbose=0)
    assert raw.conformal == {} and raw.evaluate("test")["intervals"].startswith("as trained")


def test_predict_quantile_selection_and_errors(tmp_path):
    f = Forecaster(cell="lstm", units=4, window=10, horizon=2, quantiles=Q, difference=True)
    f.fit(_noisy(200), epochs=2, verbose=0)
    both = f.predict(quantiles=[0.1, 0.9])
    assert both.shape == (2, 1, 2) and (both[..., 0] <= both[..., 1]).all()
    assert f.predict(steps=1, quantiles=True).shape == (1, 1, 3)
    with pytest.raises(ValueError, match="were not trained"):
        f.predict(quantiles=[0.25])
    with pytest.raises(ValueError, match="horizon=2 steps at most"):
        f.predict(steps=3, quantiles=True)
    assert f.predict(steps=6).shape == (6, 1)           # the median fed back, as before
    point = Forecaster(window=10)
    point.fit(_noisy(200), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="point forecasts"):
        point.predict(quantiles=True)
    f.save(tmp_path / "q")
    g = Forecaster.load(tmp_path / "q")
    assert g.config.quantiles == (0.1, 0.5, 0.9) and g.conformal == f.conformal
    np.testing.assert_array_equal(g.predict(quantiles=True), f.predict(quantiles=True))


def test_future_carries_the_interval():
    f = Forecaster(cell="gru", units=4, window=10, horizon=3, quantiles=Q)
    f.fit(_noisy(200), epochs=1, verbose=0)
    ahead = f.future(5)
    band = ahead["intervals"]["sine"]["80"]
    assert len(band["lower"]) == 3 and len(ahead["values"]["sine"]) == 5
    assert all(lo <= m <= hi for lo, m, hi in zip(band["lower"], ahead["values"]["sine"],
                                                  band["upper"]))
