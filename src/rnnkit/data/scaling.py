"""Per-feature scaling fitted on training rows only, with an exact inverse."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["MinMaxScaler"]


class MinMaxScaler:
    """Map each feature (last axis) linearly so the fitted data spans ``feature_range``.

    Example:
        >>> s = MinMaxScaler().fit(np.array([[0.0], [5.0], [10.0]]))
        >>> s.transform(np.array([[5.0]])).tolist(), s.inverse_transform(np.array([[1.0]])).tolist()
        ([[0.5]], [[10.0]])
    """

    def __init__(self, feature_range: tuple[float, float] = (0.0, 1.0)):
        lo, hi = feature_range
        if not lo < hi:
            raise ValueError(f"feature_range must be (low, high) with low < high, "
                             f"got {feature_range!r}")
        self.feature_range = (float(lo), float(hi))
        self.min_: np.ndarray | None = None
        self.max_: np.ndarray | None = None

    def fit(self, data: Any) -> MinMaxScaler:
        data = np.asarray(data, dtype=np.float64)
        if data.size == 0:
            raise ValueError("cannot fit a scaler on empty data")
        if not np.isfinite(data).all():
            raise ValueError("cannot fit a scaler on data with NaN or inf")
        flat = data.reshape(-1, data.shape[-1]) if data.ndim > 1 else data.reshape(-1, 1)
        self.min_, self.max_ = flat.min(0), flat.max(0)
        return self

    def _scale(self) -> tuple[np.ndarray, np.ndarray]:
        if self.min_ is None:
            raise ValueError("this scaler is not fitted yet: call fit() first")
        span = np.where(self.max_ > self.min_, self.max_ - self.min_, 1.0)  # constant feature
        lo, hi = self.feature_range
        return (hi - lo) / span, lo - self.min_ * (hi - lo) / span

    def transform(self, data: Any) -> np.ndarray:
        scale, shift = self._scale()
        data = np.asarray(data, dtype=np.float64)
        return (data.reshape(*data.shape[:-1], -1) * scale + shift) if data.ndim > 1 \
            else data * scale[0] + shift[0]

    def inverse_transform(self, data: Any) -> np.ndarray:
        scale, shift = self._scale()
        data = np.asarray(data, dtype=np.float64)
        return (data - shift) / scale if data.ndim > 1 else (data - shift[0]) / scale[0]

    def fit_transform(self, data: Any) -> np.ndarray:
        return self.fit(data).transform(data)

    def to_dict(self) -> dict[str, Any]:
        self._scale()
        return {"kind": "minmax", "feature_range": list(self.feature_range),
                "min": self.min_.tolist(), "max": self.max_.tolist()}
