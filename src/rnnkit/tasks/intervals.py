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

Rolling calibration on a later part.  Scoring the test part, each origin's band is made
from the last n errors known at that origin, not from the validation errors alone: the
validation errors first, then, one by one, the test part's own errors as their targets are
observed (a k-step-ahead error once its target row is at or before the origin).  The pool
keeps its size n, so as the test part goes on its oldest validation errors leave it.  This is
the protocol of the point forecasts themselves (each origin sees the history up to it, as
the statistical models are updated with each new value) and of sliding-window online
conformal prediction (EnbPI, Xu & Xie 2021): no value after an origin is read, and a series
whose swings grow after the validation part (sunspots' larger cycles) gets wider bands as
the larger errors are observed.  ``rolling_quantiles`` computes it; the validation part
itself is scored with its own errors (in-sample, as before).  After the last part is scored,
every one of its targets is observed, so ``report`` continues the rule to the end of the
data: the model keeps the last n of the validation and test errors (``extended``; the
Forecaster's CQR scores likewise, ``Forecaster.roll_to_end``), and its band after the data,
and a saved model's, come from them.

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
           "interval_scores", "quantile_forecast", "band_levels", "rolling_quantiles",
           "end_pool"]

def least_errors(levels: tuple[float, ...]) -> int:
    """Validation errors per step that the levels need: q (n+1) within [1, n] for each q,
    i.e. n >= 1 / min(q, 1-q) - 1 (0.5, the point forecast itself, needs none).

    Example:
        >>> least_errors((0.1, 0.5, 0.9)), least_errors((0.05, 0.95)), least_errors((0.5,))
        (9, 19, 0)
    """
    return max([math.ceil(1 / min(q, 1 - q) - 1 - 1e-9) for q in levels if q != 0.5] or [0])


def end_pool(past: np.ndarray, later: np.ndarray) -> np.ndarray:
    """The last n = len(past) of ``past`` then ``later`` (along the first axis): the pool once
    every later target is observed, as ``rolling_quantiles`` would take it at an origin after
    them all."""
    past, later = np.asarray(past, np.float64), np.asarray(later, np.float64)
    return np.concatenate([past, later])[len(later):]


def rolling_quantiles(past: np.ndarray, later: np.ndarray, origin: np.ndarray,
                      probs: Any) -> np.ndarray:
    """For each later forecast i (made at row ``origin[i]``) and step ahead j: the
    ``probs``-quantiles (weibull rule) of the last n = len(past) values known at that origin:
    ``past``'s (all known before the first origin), then ``later``'s rows k whose target row
    origin[k] + j + 1 is at or before origin[i], in order.  past (n, K, nt), later (M, K, nt),
    origin (M,) ascending; returns (M, K, nt, P).

    Example:
        >>> past = np.arange(10.0).reshape(10, 1, 1)            # validation errors 0 .. 9
        >>> later = np.full((3, 1, 1), 100.0)                   # three large later errors
        >>> q = rolling_quantiles(past, later, np.array([20, 21, 22]), [0.5])[:, 0, 0, 0]
        >>> q.tolist()        # origin 20 knows none of them, 21 knows one, 22 two
        [4.5, 5.5, 6.5]
    """
    past, later = np.asarray(past, np.float64), np.asarray(later, np.float64)
    origin = np.asarray(origin)
    if past.ndim != 3 or later.ndim != 3 or past.shape[1:] != later.shape[1:] \
            or origin.shape != (len(later),):
        raise ValueError(f"past (n, K, nt), later (M, K, nt) and origin (M,) must agree, got "
                         f"{past.shape}, {later.shape} and {origin.shape}")
    if len(origin) > 1 and (np.diff(origin) < 0).any():
        raise ValueError("origins must be in ascending order")
    n, K = past.shape[:2]
    probs = list(probs)
    out = np.empty(later.shape + (len(probs),))
    for j in range(K):
        known = np.searchsorted(origin + j + 1, origin, side="right")  # later rows seen
        pool = np.concatenate([past[:, j], later[:, j]])               # (n + M, nt)
        last = None
        for i, c in enumerate(known):
            if c != last:
                q = np.quantile(pool[c:c + n], probs, axis=0, method="weibull")   # (P, nt)
                last = c
            out[i, j] = q.T
    return out


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
    validation: np.ndarray | None = None    # the validation errors, once ``extended`` past them
    through: str = ""                        # what ``extended`` added ("its 423 test ...")

    def __post_init__(self) -> None:
        e = np.asarray(self.errors, dtype=np.float64)
        if e.ndim != 3 or len(e) == 0 or not np.isfinite(e).all():
            raise ValueError(f"errors must be finite numbers (n, K, nt) with n >= 1, got "
                             f"shape {e.shape}")
        object.__setattr__(self, "errors", e)
        object.__setattr__(self, "relative", bool(self.relative))
        if self.validation is not None:
            v = np.asarray(self.validation, dtype=np.float64)
            if v.shape != e.shape or not np.isfinite(v).all():
                raise ValueError(f"validation errors must be finite numbers shaped as the "
                                 f"errors {e.shape}, got shape {v.shape}")
            object.__setattr__(self, "validation", v)

    @property
    def past(self) -> np.ndarray:
        """The validation errors: what a later part's rolling pool starts from."""
        return self.errors if self.validation is None else self.validation

    def extended(self, point: np.ndarray, true: np.ndarray, what: str) -> ErrorIntervals:
        """The pool at the end of a later part, every target of it observed: the errors of
        its forecasts point (M, K, nt) of true (M, K, nt) after the validation ones, the last
        n kept; for forecasts after the data (module docstring, "Rolling calibration").
        ``what`` names them ("test forecasts").  Unchanged when relative errors meet a
        forecast <= 0."""
        later = self._errors_of(point, true)
        if later is None:
            return self
        past = self.past
        return ErrorIntervals(end_pool(past, later), self.relative, self.source, past,
                              f"then its {len(later)} {what}, the last {len(past)} kept")

    def validation_only(self) -> ErrorIntervals:
        """The intervals of the validation errors alone (what every later origin used before
        the rolling rule), whether or not these were ``extended``."""
        return self if self.validation is None else ErrorIntervals(self.past, self.relative,
                                                                   self.source)

    def _errors_of(self, point: np.ndarray, true: np.ndarray) -> np.ndarray | None:
        """Errors of forecasts point (M, K, nt) of true, as these were taken (None: relative
        errors of a forecast <= 0)."""
        point, true = np.asarray(point, np.float64), np.asarray(true, np.float64)
        if point.shape != true.shape or point.shape[1:] != self.errors.shape[1:]:
            raise ValueError(f"point forecasts {point.shape} and targets {true.shape} must be "
                             f"(M, {self.errors.shape[1]}, {self.errors.shape[2]})")
        if self.relative and not (point > 0).all():
            return None
        return true / point - 1 if self.relative else true - point

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
            count = f"{need:,}" if need < 10**9 else f"{float(need):.3g}"   # not 300 digits
            raise ValueError(f"quantile {tail:g} needs at least {count} validation errors per "
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
        return self._around(point, self.offsets(levels)[:s], levels)

    def rolling_bands(self, point: np.ndarray, true: np.ndarray, origin: np.ndarray,
                      levels: Any) -> tuple[np.ndarray, str]:
        """Bands for a later part's forecasts point (M, K, nt) with targets true (M, K, nt),
        made at rows ``origin`` (M,): each from the last n errors known at its origin
        (module docstring, "Rolling calibration"), and how they were made.  Relative errors
        need every forecast > 0; when one is not, the bands are the validation errors'
        alone, and the description says so."""
        levels = check_levels(levels)
        self.check(levels)
        later, past = self._errors_of(point, true), self.past
        start = self.validation_only()
        if later is None:
            return start.bands(point, levels), (start.describe() + "; not rolled: a forecast "
                                                "<= 0 has no relative error")
        off = rolling_quantiles(past, later, origin, levels)                # (M, K, nt, Q)
        return self._around(np.asarray(point, np.float64), off, levels), (
            start.describe() + f"; rolled: at each origin the last {len(past)} errors known "
            "there (validation, then this part's as their targets are observed)")

    def part_bands(self, point: np.ndarray, true: np.ndarray, origin: np.ndarray,
                   levels: Any, part: str) -> tuple[np.ndarray, str]:
        """The bands ``evaluate`` scores a part's forecasts point (M, K, nt) of true, made
        at rows ``origin``, by, and how they were made: the validation part's from its own
        errors (in-sample), a later part's rolled (``rolling_bands``)."""
        levels = check_levels(levels)
        if part == "val":
            return self.bands(point, levels), self.describe()
        return self.rolling_bands(point, true, origin, levels)

    def part_scores(self, point: np.ndarray, true: np.ndarray, origin: np.ndarray,
                    levels: Any, part: str) -> dict[str, Any]:
        """What ``evaluate`` reports for a part's forecasts: ``interval_scores`` of its
        ``part_bands`` and "intervals" (how they were made); for a later part,
        "coverage_without_rolling" beside it: the same forecasts with every origin's band
        from the validation errors alone."""
        levels = check_levels(levels)
        bands, how = self.part_bands(point, true, origin, levels, part)
        out = {**interval_scores(bands, true, levels), "intervals": how}
        if part != "val":
            fixed = self.validation_only().bands(point, levels)
            out["coverage_without_rolling"] = interval_scores(fixed, true, levels)["coverage"]
        return out

    def _around(self, point: np.ndarray, off: np.ndarray, levels: tuple[float, ...]
                ) -> np.ndarray:
        """Point forecasts (..., s, nt) moved by offsets broadcast to (..., s, nt, Q)."""
        p = point[..., None]
        out = p * (1 + off) if self.relative else p + off
        qs = np.asarray(levels)
        out = np.where(qs < 0.5, np.minimum(out, p), np.where(qs > 0.5, np.maximum(out, p), p))
        return np.sort(out, axis=-1)

    def describe(self) -> str:
        """How the bands are made, for metrics.json ("intervals")."""
        n, K = self.errors.shape[:2]
        kind = "relative (y / forecast - 1)" if self.relative else "absolute (y - forecast)"
        more = f", {self.through}" if self.through else ""
        return (f"from the {kind} errors of {self.source}{more} ({n} per step ahead, {K} step"
                f"{'s' if K != 1 else ''}), expected coverage = nominal (weibull quantiles)")

    def to_dict(self) -> dict[str, Any]:
        return {"errors": self.errors.tolist(), "relative": self.relative,
                "source": self.source,
                **({"validation": self.validation.tolist(), "through": self.through}
                   if self.validation is not None else {})}

    @classmethod
    def from_dict(cls, d: Any) -> ErrorIntervals:
        if not isinstance(d, dict) or "errors" not in d:
            raise ValueError(f"interval errors must be a dict with 'errors', got "
                             f"{type(d).__name__}")
        validation = d.get("validation")
        return cls(np.asarray(d["errors"], dtype=np.float64), bool(d.get("relative", False)),
                   str(d.get("source", "validation forecasts")),
                   None if validation is None else np.asarray(validation, dtype=np.float64),
                   str(d.get("through", "")))


def band_levels(model: Any, what: str, horizon: int, steps: Any, quantiles: Any
                ) -> tuple[float, ...]:
    """The levels of ``quantiles``, checked for a point forecaster's bands: a ValueError
    naming ``model.no_intervals`` when it has no errors, levels the errors cannot place, or
    steps past ``horizon``, which the per-step errors do not reach."""
    levels = check_levels(quantiles)
    if model.intervals is None:
        raise ValueError(f"this {what} has no prediction intervals: {model.no_intervals}")
    model.intervals.check(levels)
    if isinstance(steps, numbers.Integral) and not isinstance(steps, bool) and steps > horizon:
        raise ValueError(f"quantiles reach horizon={horizon} steps at most (the validation "
                         f"errors are per step ahead), got steps={steps}")
    return levels


def quantile_forecast(model: Any, what: str, horizon: int, steps: Any, series: Any,
                      quantiles: Any) -> np.ndarray:
    """A point forecaster's quantile forecasts (steps, 1, levels) from its validation
    errors: ``model.predict(steps, series)`` moved by ``model.intervals``, after
    ``band_levels``' checks.  What the hybrid's, the mean's and the combined's
    ``predict(..., quantiles=...)`` run."""
    levels = band_levels(model, what, horizon, steps, quantiles)
    return model.intervals.bands(model.predict(steps, series), levels)
