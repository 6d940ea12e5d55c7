import numpy as np
import pytest

from rnnkit.data import MinMaxScaler, scaler_from_dict, tutorial_windows


def test_minmax_round_trip_per_feature_and_constant_columns():
    data = np.array([[1.0, 5.0, 3.0], [3.0, 5.0, -1.0], [2.0, 5.0, 7.0]])
    scaler = MinMaxScaler((-1, 1)).fit(data)
    scaled = scaler.transform(data)
    assert scaled.min(0).tolist() == [-1.0, -1.0, -1.0]
    assert scaled[:, [0, 2]].max(0).tolist() == [1.0, 1.0]
    np.testing.assert_allclose(scaler.inverse_transform(scaled), data, atol=1e-12)
    again = scaler_from_dict(scaler.to_dict())
    np.testing.assert_allclose(again.transform(data), scaled, atol=1e-12)


def test_minmax_errors():
    with pytest.raises(ValueError, match="not fitted yet"):
        MinMaxScaler().transform([1.0])
    with pytest.raises(ValueError, match="NaN or inf"):
        MinMaxScaler().fit([1.0, np.nan])
    with pytest.raises(ValueError, match="low < high"):
        MinMaxScaler((1, 0))


def test_tutorial_windows_exact_fit_and_errors():
    x, y = tutorial_windows(np.arange(13.0), 4)          # targets at 4, 8, 12
    assert x.shape == (3, 4, 1) and y.tolist() == [4.0, 8.0, 12.0]
    x, y = tutorial_windows(np.arange(12.0), 4)          # 12 has no target: 2 windows
    assert y.tolist() == [4.0, 8.0]
    with pytest.raises(ValueError, match="too short for window=4"):
        tutorial_windows(np.arange(4.0), 4)
    with pytest.raises(ValueError, match="NaN"):
        tutorial_windows([1.0, np.nan, 2.0], 1)
