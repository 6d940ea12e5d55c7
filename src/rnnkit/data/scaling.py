"""Per-feature scaling fitted on training rows only, with an exact inverse, saved as JSON."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .batching import numeric_array

__all__ = ["MinMaxScaler", "StandardScaler", "scaler_from_dict", "make_scaler"]


class _Scaler:
    kind = ""

    def __init__(self) -> None:
        self.scale_: np.ndarray | None = None    # y = x * scale + shift, per feature
        self.shift_: np.ndarray | None = None

    def _fit_params(self, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    @property
    def n_features(self) -> int | None:
        """How many columns (features, the last axis) the scaler was fitted on."""
        return None if self.scale_ is None else len(self.scale_)

    def fit(self, data: Any):
        data = _as_array(data, "fit")
        if data.size == 0:
            raise ValueError(f"cannot fit a scaler on empty data (shape {data.shape})")
        _check_finite(data, "fit a scaler on")
        flat = data.reshape(-1, data.shape[-1]) if data.ndim > 1 else data.reshape(-1, 1)
        with np.errstate(all="ignore"):
            scale, shift = self._fit_params(flat)
        bad = ~(np.isfinite(scale) & np.isfinite(shift) & (scale != 0))
        if bad.any():
            j = int(np.flatnonzero(bad)[0])
            raise ValueError(f"fit: column {j} spans {flat[:, j].min():.6g} to "
                             f"{flat[:, j].max():.6g}, too wide (or too narrow) for 64-bit "
                             f"floats: its {self.kind} scaling overflows; rescale that column "
                             "first (e.g. divide by a power of ten)")
        self.scale_, self.shift_ = scale, shift
        return self

    def _params(self) -> tuple[np.ndarray, np.ndarray]:
        if self.scale_ is None or self.shift_ is None:
            raise ValueError(f"this {type(self).__name__} is not fitted yet: call fit() first")
        return self.scale_, self.shift_

    def _checked(self, data: Any, what: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """data as floats, and the (scale, shift) that broadcast over it."""
        scale, shift = self._params()
        data = _as_array(data, what)
        n = len(scale)
        if data.ndim > 1:
            if data.shape[-1] != n:
                raise ValueError(f"{what}: the scaler was fitted on {n} column"
                                 f"{'s' if n != 1 else ''}, the data given has "
                                 f"{data.shape[-1]} (shape {data.shape}); the last axis must "
                                 "hold the features")
        elif n != 1:
            raise ValueError(f"{what}: the scaler was fitted on {n} columns, the data given "
                             f"is 1-D (shape {data.shape}), which reads as one column; give "
                             f"(N, {n})")
        _check_finite(data, what)
        if data.ndim > 1:
            return data, scale, shift
        return data, scale[0], shift[0]

    def transform(self, data: Any) -> np.ndarray:
        data, scale, shift = self._checked(data, "transform")
        with np.errstate(all="ignore"):
            return _finite_result(data * scale + shift, data, "transform")

    def inverse_transform(self, data: Any) -> np.ndarray:
        data, scale, shift = self._checked(data, "inverse_transform")
        with np.errstate(all="ignore"):
            return _finite_result((data - shift) / scale, data, "inverse_transform")

    def fit_transform(self, data: Any) -> np.ndarray:
        return self.fit(data).transform(data)

    def subset(self, columns: list[int]) -> _Scaler:
        """The scaler of some features only (e.g. the target columns)."""
        scale, shift = self._params()
        try:
            cols = list(columns)
        except TypeError:
            raise ValueError(f"subset columns must be a list of indices in "
                             f"0..{len(scale) - 1}, got {columns!r}") from None
        bad = [c for c in cols if isinstance(c, bool) or not isinstance(c, (int, np.integer))
               or not 0 <= c < len(scale)]
        if bad or not cols:
            raise ValueError(f"subset columns must be indices in 0..{len(scale) - 1} (the "
                             f"scaler has {len(scale)} columns), got {cols!r}")
        other = type(self).__new__(type(self))
        other.__dict__.update(self.__dict__)
        other.scale_, other.shift_ = scale[cols], shift[cols]
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
        self.feature_range = _check_range(feature_range)

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
    """The scaler ``to_dict`` wrote (None stays None); a malformed dict is a ValueError
    naming the field."""
    if d is None:
        return None
    if not isinstance(d, dict):
        raise ValueError(f"a saved scaler must be a JSON object, got {type(d).__name__}")
    missing = [k for k in ("kind", "scale", "shift") if k not in d]
    if missing:
        raise ValueError(f"the saved scaler has no {', '.join(missing)} "
                         f"(it has: {', '.join(map(str, d)) or 'nothing'})")
    if d["kind"] in (None, "none"):
        raise ValueError(f"the saved scaler's kind must be 'minmax' or 'standard', "
                         f"got {d['kind']!r}")
    scaler = make_scaler(d["kind"])
    arrays = {}
    for key in ("scale", "shift"):
        try:
            arr = np.asarray(d[key], dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"the saved scaler's {key} must be a list of numbers, "
                             f"got {d[key]!r:.80}") from None
        if arr.ndim != 1 or len(arr) == 0 or not np.isfinite(arr).all():
            raise ValueError(f"the saved scaler's {key} must be a non-empty list of finite "
                             f"numbers, got {d[key]!r:.80}")
        arrays[key] = arr
    if len(arrays["scale"]) != len(arrays["shift"]):
        raise ValueError(f"the saved scaler has {len(arrays['scale'])} scale values but "
                         f"{len(arrays['shift'])} shift values")
    if (arrays["scale"] == 0).any():
        raise ValueError("the saved scaler has a scale of 0, which cannot be inverted")
    scaler.scale_, scaler.shift_ = arrays["scale"], arrays["shift"]
    return scaler


def _check_range(feature_range: Any) -> tuple[float, float]:
    """(low, high): two finite numbers with low < high and a finite span."""
    try:
        lo, hi = feature_range
    except (TypeError, ValueError):
        raise TypeError(f"feature_range must be a pair (low, high) of numbers, got "
                        f"{feature_range!r}") from None
    for v in (lo, hi):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
            raise TypeError(f"feature_range must be a pair (low, high) of numbers, got "
                            f"{feature_range!r}")
    lo, hi = float(lo), float(hi)
    if not (np.isfinite(lo) and np.isfinite(hi) and np.isfinite(hi - lo)):
        raise ValueError(f"feature_range must be two finite numbers (low, high) with a "
                         f"finite span, got {feature_range!r}")
    if not lo < hi:
        raise ValueError(f"feature_range must be (low, high) with low < high, "
                         f"got {feature_range!r}")
    return lo, hi


def _as_array(data: Any, what: str) -> np.ndarray:
    return numeric_array(data, f"{what}: the data", allow_empty=True)


def _finite_result(out: np.ndarray, data: np.ndarray, what: str) -> np.ndarray:
    """``out``, or a ValueError naming the first column whose result overflowed."""
    bad = ~np.isfinite(out)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        col = first[-1] if out.ndim > 1 else 0
        raise ValueError(f"{what}: the value {data[first]:.6g} at index "
                         f"{first if len(first) > 1 else first[0]} (column {col}) overflows "
                         "64-bit floats once scaled; it is far outside the range the scaler "
                         "was fitted on")
    return out


def _check_finite(data: np.ndarray, what: str) -> None:
    bad = ~np.isfinite(data)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        where = f"index {first[0]}" if len(first) == 1 else f"index {first}"
        raise ValueError(f"cannot {what} data with NaN or inf: {int(bad.sum())} such values, "
                         f"the first at {where}; fill or drop them first "
                         "(rnnkit.data.fill_missing)")
