r"""Prediction intervals for point forecasters, from their errors on the validation part.

A model that forecasts one value per step (the ES-RNN hybrid, the mean of the rnn and the
hybrid) gets quantiles from the errors it made on validation.  For step ahead k (and
target), the signed errors of its n validation forecasts are sorted, and the band of level
q is the forecast moved by their q-quantile:

    absolute:  e_i = y_i - y_hat_i            band_q = y_hat + Q_q(e)
    relative:  r_i = y_i / y_hat_i - 1        band_q = y_hat * (1 + Q_q(r))

Relative errors suit a positive series whose swings grow with its level (the multiplicative
hybrid on airline): a 5 % miss in a quiet year is a 5 % miss in a busy one, and the band
stays > 0 (r > -1 when y > 0).

The quantile rule.  With e_(1) <= ... <= e_(n) sorted, Q_q = e_(q (n+1)), interpolated
between neighbours (numpy's ``method="weibull"``, Hyndman & Fan's definition 6).  For n
exchangeable errors and a new one e, P(e <= e_(j)) = j / (n + 1), so each band is exceeded
with probability 1 - q on average, and an (q, 1-q) interval covers 1 - 2q in expectation:
the nominal level.  Split-conformal prediction takes the conservative order statistic
instead (e_(ceil((n+1)(1-q))) above, e_(floor((n+1) q)) below), which guarantees at least
the nominal coverage and on average exceeds it by up to 2 / (n + 1): 80 % becomes 81.8 %
from n = 21 errors (airline's validation months).  The issue asks for intervals that cover
their share (75-85 % for an 80 % interval), not at least it, so we aim at the expectation.
A band needs q (n+1) to lie between 1 and n, i.e. n >= 1 / min(q, 1-q) - 1 errors per step
(9 for q = 0.1, 19 for q = 0.05); with fewer, the extreme error would stand in for a
quantile it cannot reach, so it is refused.

Notes (traps):
    * the validation part also chose the epoch kept (early stopping), so its errors are a
      little smaller than those of unseen data;
    * errors k steps ahead from overlapping windows are correlated, and the test part lies
      after the validation part: exchangeability is an approximation, and a series that
      changes its volatility later (or a short test part: 21 months give coverages in steps
      of 4.8 points) will not hit the nominal level exactly.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from .forecast import DEFAULT_LEVELS, check_levels, interval_scores

__all__ = ["DEFAULT_LEVELS", "ErrorIntervals", "check_levels", "least_errors",
           "interval_scores", "quantile_forecast"]

def least_errors(levels: tuple[float, ...]) -> int:
    """Validation errors per step that the levels need: q (n+1) within [1, n] for each q,
    i.e. n >= 1 / min(q, 1-q) - 1 (0.5, the point forecast itself, needs none).

    Example:
        >>> least_errors((0.1, 0.5, 0.9)), least_errors((0.05, 0.95)), least_errors((0.5,))
        (9, 19, 0)
    """
    return max([math.ceil(1 / min(q, 1 - q) - 1 - 1e-9) for q in levels if q != 0.5] or [0])


@dataclass(frozen=True)
class ErrorIntervals:
    """Signed validation errors of a point forecaster and the bands they give.

    Args:
        errors: (n, K, nt) errors of n validation forecasts, per step ahead and target:
            y - y_hat, or y / y_hat - 1 when ``relative``.
        relative: whether the errors (and the bands) are relative to the forecast.
        source: what made them, for reports ("the hybrid's 21 validation forecasts").

    Example:
        >>> e = ErrorIntervals.from_forecasts(np.full((9, 1, 1), 10.0),
        ...                                   np.arange(1.0, 10.0).reshape(9, 1, 1) + 5)
        >>> e.bands(np.array([[20.0]]), (0.1, 0.5, 0.9))[0, 0]     # errors -4 .. 4
        array([16., 20., 24.])
    """

    errors: np.ndarray
    relative: bool = False
    source: str = "validation forecasts"

    def __post_init__(self) -> None:
        e = np.asarray(self.errors, dtype=np.float64)
        if e.ndim != 3 or len(e) == 0 or not np.isfinite(e).all():
            raise ValueError(f"errors must be finite numbers (n, K, nt) with n >= 1, got "
                             f"shape {e.shape}")
        object.__setattr__(self, "errors", e)
        object.__setattr__(self, "relative", bool(self.relative))

    @classmethod
    def from_forecasts(cls, pred: np.ndarray, true: np.ndarray, relative: bool = False,
                       source: str = "validation forecasts") -> ErrorIntervals:
        """From forecasts and their targets, both (n, K, nt) in original units."""
        pred, true = np.asarray(pred, np.float64), np.asarray(true, np.float64)
        if pred.shape != true.shape:
            raise ValueError(f"forecasts {pred.shape} and targets {true.shape} differ in shape")
        if relative and not (pred > 0).all():
            raise ValueError("relative errors need every forecast > 0")
        return cls(true / pred - 1 if relative else true - pred, relative, source)

    def check(self, levels: tuple[float, ...]) -> None:
        """Refuse levels the errors cannot place (too few of them)."""
        need, n = least_errors(levels), len(self.errors)
        if n < need:
            tail = min((q for q in levels if q != 0.5), key=lambda q: min(q, 1 - q))
            raise ValueError(f"quantile {tail:g} needs at least {need} validation errors per "
                             f"step (1 / min(q, 1-q) - 1), and {self.source} gave {n}; use "
                             "a larger validation part or levels nearer 0.5")

    def offsets(self, levels: tuple[float, ...]) -> np.ndarray:
        """The q-quantiles of the errors (weibull rule, module docstring): (K, nt, Q)."""
        self.check(levels)
        q = np.quantile(self.errors, levels, axis=0, method="weibull")      # (Q, K, nt)
        return np.moveaxis(q, 0, -1)

    def bands(self, point: np.ndarray, levels: Any) -> np.ndarray:
        """Quantile forecasts (..., s, nt, Q) around point forecasts (..., s, nt), s <= K steps
        ahead, ordered along Q.  Level 0.5 is the point forecast itself; lower levels stay
        at or below it and upper ones at or above it (a biased model's whole error range
        can lie on one side), whether or not 0.5 is asked, so a level's band never depends
        on which other levels were asked."""
        levels = check_levels(levels)
        point = np.asarray(point, dtype=np.float64)
        s, K = point.shape[-2], self.errors.shape[1]
        if point.shape[-1] != self.errors.shape[2] or s > K:
            raise ValueError(f"point forecasts (..., {s}, {point.shape[-1]}) do not fit errors "
                             f"of {K} steps and {self.errors.shape[2]} targets")
        off = self.offsets(levels)[:s]                                        # (s, nt, Q)
        p = point[..., None]
        out = p * (1 + off) if self.relative else p + off
        qs = np.asarray(levels)
        out = np.where(qs < 0.5, np.minimum(out, p), np.where(qs > 0.5, np.maximum(out, p), p))
        return np.sort(out, axis=-1)

    def describe(self) -> str:
        """How the bands are made, for metrics.json ("intervals")."""
        n, K = self.errors.shape[:2]
        kind = "relative (y / forecast - 1)" if self.relative else "absolute (y - forecast)"
        return (f"from the {kind} errors of {self.source} ({n} per step ahead, {K} step"
                f"{'s' if K != 1 else ''}), expected coverage = nominal (weibull quantiles)")

    def to_dict(self) -> dict[str, Any]:
        return {"errors": self.errors.tolist(), "relative": self.relative,
                "source": self.source}

    @classmethod
    def from_dict(cls, d: Any) -> ErrorIntervals:
        if not isinstance(d, dict) or "errors" not in d:
            raise ValueError(f"interval errors must be a dict with 'errors', got "
                             f"{type(d).__name__}")
        return cls(np.asarray(d["errors"], dtype=np.float64), bool(d.get("relative", False)),
                   str(d.get("source", "validation forecasts")))


def quantile_forecast(model: Any, what: str, horizon: int, steps: Any, series: Any,
                      quantiles: Any) -> np.ndarray:
    """A point forecaster's quantile forecasts (steps, 1, levels) from its validation
    errors: ``model.predict(steps, series)`` moved by ``model.intervals`` (or a ValueError
    naming ``model.no_intervals``, levels the errors cannot place, or steps past ``horizon``,
    which the per-step errors do not reach).  What the hybrid's, the mean's and the
    combined's ``predict(..., quantiles=...)`` run."""
    levels = check_levels(quantiles)
    if model.intervals is None:
        raise ValueError(f"this {what} has no prediction intervals: {model.no_intervals}")
    model.intervals.check(levels)
    if isinstance(steps, numbers.Integral) and not isinstance(steps, bool) and steps > horizon:
        raise ValueError(f"quantiles reach horizon={horizon} steps at most (the validation "
                         f"errors are per step ahead), got steps={steps}")
    return model.intervals.bands(model.predict(steps, series), levels)
