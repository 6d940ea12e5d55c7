"""Per-feature scaling fitted on training rows only, with an exact inverse, saved as JSON."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["MinMaxScaler", "StandardScaler", "scaler_from_dict", "make_scaler"]


class _Scaler:
    kind = ""

    def __init__(self) -> None:
        self.scale_: np.ndarray | None = None    # y = x * scale + shift, per feature
        self.shift_: np.ndarray | None = None

    def _fit_params(self, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def fit(self, data: Any):
        data = np.asarray(data, dtype=np.float64)
        if data.size == 0:
            raise ValueError("cannot fit a scaler on empty data")
        if not np.isfinite(data).all():
            raise ValueError("cannot fit a scaler on data with NaN or inf")
        flat = data.reshape(-1, data.shape[-1]) if data.ndim > 1 else data.reshape(-1, 1)
        self.scale_, self.shift_ = self._fit_params(flat)
        return self

    def _params(self) -> tuple[np.ndarray, np.ndarray]:
        if self.scale_ is None:
            raise ValueError("this scaler is not fitted yet: call fit() first")
        return self.scale_, self.shift_

    def transform(self, data: Any) -> np.ndarray:
        scale, shift = self._params()
        data = np.asarray(data, dtype=np.float64)
        return data * scale + shift if data.ndim > 1 else data * scale[0] + shift[0]

    def inverse_transform(self, data: Any) -> np.ndarray:
        scale, shift = self._params()
        data = np.asarray(data, dtype=np.float64)
        return (data - shift) / scale if data.ndim > 1 else (data - shift[0]) / scale[0]

    def fit_transform(self, data: Any) -> np.ndarray:
        return self.fit(data).transform(data)

    def subset(self, columns: list[int]) -> _Scaler:
        """The scaler of some features only (e.g. the target columns)."""
        scale, shift = self._params()
        other = type(self).__new__(type(self))
        other.__dict__.update(self.__dict__)
        other.scale_, other.shift_ = scale[columns], shift[columns]
        return other

    def to_dict(self) -> dict[str, Any]:
        scale, shift = self._params()
        return {"kind": self.kind, "scale": scale.tolist(), "shift": shift.tolist()}


class MinMaxScaler(_Scaler):
    """Map each feature (last axis) linearly so the fitted data spans ``feature_range``.

    Example:
        >>> s = MinMaxScaler().fit(np.array([[0.0], [5.0], [10.0]]))
        >>> s.transform(np.array([[5.0]])).tolist(), s.inverse_transform(np.array([[1.0]])).tolist()
        ([[0.5]], [[10.0]])
    """

    kind = "minmax"

    def __init__(self, feature_range: tuple[float, float] = (0.0, 1.0)):
        super().__init__()
        lo, hi = feature_range
        if not lo < hi:
            raise ValueError(f"feature_range must be (low, high) with low < high, "
                             f"got {feature_range!r}")
        self.feature_range = (float(lo), float(hi))

    def _fit_params(self, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = self.feature_range
        mn, mx = flat.min(0), flat.max(0)
        span = np.where(mx > mn, mx - mn, 1.0)            # a constant feature maps to lo
        scale = (hi - lo) / span
        return scale, lo - mn * scale


class StandardScaler(_Scaler):
    """Zero mean and unit variance per feature (a constant feature keeps its scale)."""

    kind = "standard"

    def _fit_params(self, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean, std = flat.mean(0), flat.std(0)
        scale = 1.0 / np.where(std > 0, std, 1.0)
        return scale, -mean * scale


def make_scaler(kind: str | None) -> _Scaler | None:
    if kind is None or kind == "none":
        return None
    if kind == "minmax":
        return MinMaxScaler()
    if kind == "standard":
        return StandardScaler()
    raise ValueError(f"scaler must be 'minmax', 'standard' or None, got {kind!r}")


def scaler_from_dict(d: dict[str, Any] | None) -> _Scaler | None:
    if d is None:
        return None
    scaler = make_scaler(d.get("kind"))
    scaler.scale_, scaler.shift_ = np.asarray(d["scale"]), np.asarray(d["shift"])
    return scaler
