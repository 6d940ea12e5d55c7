r"""A hybrid of exponential smoothing and an RNN (the idea of Smyl's ES-RNN, M4 2018).

A plain RNN on min-max-scaled windows cannot follow a series that trends out of the range it
was trained on, nor a seasonal swing that grows with the level.  Here a per-series
Holt-Winters-style smoothing, whose coefficients and initial seasonal factors are learned
by gradient descent together with the network, takes level and seasonality out of every
window, and the RNN forecasts only what is left.

Math (multiplicative; ``m`` = season, ``t`` = 0..N-1):
    s_0 .. s_{m-1} = exp(p - mean(p))                 learned initial factors, all > 0
    l_0     = y_0 / s_0
    l_t     = alpha * y_t / s_t + (1 - alpha) * l_{t-1}         level
    s_{t+m} = gamma * y_t / l_t + (1 - gamma) * s_t             seasonality
    alpha, gamma = sigmoids of free parameters (squeezed into [1e-4, 1 - 1e-4])

A window of ``w`` steps ending at the origin ``t`` is normalised by the level at ``t`` and
deseasonalised; its ``K`` targets the same way, with the season of each target's phase as
known at ``t`` (never a factor that a later observation updated):
    x_i = log(y_i / (l_t * s_i))                 i = t-w+1 .. t
    z_k = log(y_{t+k} / (l_t * s_{t+k}))         k = 1 .. K   (s_{t+k} for k > m: phase t+k)
The RNN reads x (B, w, 1) and outputs z (B, K); a forecast is y_{t+k} = exp(z_k) l_t s_{t+k}.
Additive seasonality subtracts instead (l_t = alpha (y_t - s_t) + ..., x_i = (y_i - s_i -
l_t) / scale, scale = the training rows' standard deviation); ``season`` None or 1 keeps the
level only.  The level and factors at ``t`` depend on y_0..y_t only, so no forecast sees
its targets.

Smyl's penalty on the wiggliness of the level (the squared second difference of log l_t,
weighted by ``level_penalty``) keeps the level from chasing every observation, which would
leave the RNN nothing to learn.

Intervals: the hybrid forecasts one point per step; ``fit`` keeps its errors on the
validation part (relative, y / forecast - 1, when multiplicative), and ``predict(...,
quantiles=...)`` and ``evaluate(..., quantiles=...)`` move the forecast by their quantiles
per step ahead (``tasks/intervals.py``).  They are saved with the model.

Reference: S. Smyl (2020), "A hybrid method of exponential smoothing and recurrent neural
networks for time series forecasting", IJF 36(1); Makridakis et al. (2018), the M4 results.
"""

from __future__ import annotations

import copy
import math
import numbers
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .. import layers as L
from ..data.windowing import split_series
from ..datasets.series import Series
from ..engines.select import forced_engine
from ..model import Sequential
from ..training import choose_threads, set_seed, using_threads
from ..training.threads import requested
from .forecast import Forecaster, rmse
from .intervals import ErrorIntervals, band_levels, quantile_forecast

__all__ = ["HybridForecaster", "HybridConfig", "HybridPreset", "Smoothing", "hybrid_preset"]

CELLS = {"simple": L.SimpleRNN, "lstm": L.LSTM, "gru": L.GRU}
SEASONALITIES = ("auto", "multiplicative", "additive")
LOSSES = ("mse", "mae")
SMOOTHING_FILE = "smoothing.safetensors"
NO_SEASON_BLOCK = 64          # rows per vectorised level block when there is no season


@dataclass(frozen=True)
class HybridConfig:
    cell: str = "gru"                  # simple | lstm | gru: the RNN on normalised windows
    units: int = 16                    # hidden units of the RNN
    window: int = 12                   # normalised steps the RNN reads
    horizon: int = 1                   # steps predicted per origin (K)
    season: int | None = None          # period in steps; None or 1 = level only
    seasonality: str = "auto"          # multiplicative | additive | auto (mult. if all > 0)
    target: str | None = None          # column to forecast; None = the first
    lr: float = 3e-3                   # Adam step size of the RNN
    smoothing_lr: float = 1e-2         # Adam step size of alpha, gamma and the initial factors
    level_penalty: float = 0.0         # weight of the level's squared 2nd difference (Smyl)
    loss: str = "mse"                  # mse | mae, on the normalised targets
    clip: float = 1.0                  # global gradient-norm cap
    split_rows: str = "levels"         # levels | changes: split N rows, or N - 1 as a
    #                                    Forecaster(difference=True) does (same test targets)

    def __post_init__(self) -> None:
        if not isinstance(self.cell, str) or self.cell not in CELLS:
            raise ValueError(f"cell must be one of {', '.join(CELLS)}, got {self.cell!r}")
        for name in ("units", "window", "horizon"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        s = self.season
        if s is not None and (isinstance(s, bool) or not isinstance(s, int) or s < 1):
            raise ValueError(f"season must be a positive int (the period in steps) or None, "
                             f"got {s!r}")
        if self.seasonality not in SEASONALITIES:
            raise ValueError(f"seasonality must be one of {', '.join(SEASONALITIES)}, got "
                             f"{self.seasonality!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        if self.split_rows not in ("levels", "changes"):
            raise ValueError(f"split_rows must be 'levels' or 'changes', got "
                             f"{self.split_rows!r}")
        if self.target is not None and not isinstance(self.target, str):
            raise ValueError(f"target must be a column name or None, got {self.target!r}")
        for name, low in (("lr", 0.0), ("smoothing_lr", 0.0), ("clip", 0.0)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not low < v < math.inf:
                raise ValueError(f"{name} must be a positive number, got {v!r}")
        p = self.level_penalty
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p < math.inf:
            raise ValueError(f"level_penalty must be a number >= 0, got {p!r}")

    @property
    def period(self) -> int:
        """The season in steps, 0 when there is none."""
        return self.season if self.season is not None and self.season > 1 else 0


# ---------------------------------------------------------------------- presets
@dataclass(frozen=True)
class HybridPreset:
    """A hybrid's settings and training for a series; ``why`` says how they were chosen."""

    config: HybridConfig
    epochs: int = 100                  # at most; the epoch with the best validation RMSE is kept
    batch_size: int = 32
    patience: int = 20                 # epochs without a better validation RMSE before stopping
    why: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line: "GRU(16) on ES-normalised windows of 24, season 12 (multiplicative) ..."."""
        cfg = self.config
        how = ("multiplicative if every value is > 0, else additive"
               if cfg.seasonality == "auto" else cfg.seasonality)
        season = f"season {cfg.season} ({how})" if cfg.period else "level only (no season)"
        return (f"{cfg.cell.upper()}({cfg.units}) on exponential-smoothing-normalised windows "
                f"of {cfg.window}, {season}, {cfg.loss} loss, lr {cfg.lr:g}, batch "
                f"{self.batch_size}, best validation epoch of at most {self.epochs} (patience "
                f"{self.patience})")


# settings per shipped series, chosen on the validation part only
# (benchmarks/hybrid_airline.py --grid; stocks, weather and sine were not searched)
SHIPPED = {
    "sunspots": (dict(season=None, seasonality="additive", units=16, window=24, loss="mae"),
                 60, 32),
    "airline": (dict(season=12, units=16, window=24, loss="mse"), 200, 32),
    "stocks": (dict(season=None, units=16, window=20, loss="mse"), 30, 32),
    "weather": (dict(season=24, seasonality="additive", units=32, window=48, loss="mse"), 20,
                128),
    "sine": (dict(season=None, seasonality="additive", units=16, window=24, loss="mse"), 30,
             32),
}


def hybrid_preset(name: str, *, season: int | None, window: int, horizon: int = 1,
                  rows: int | None = None, target: str | None = None,
                  split_rows: str = "levels", val: float = 0.15, test: float = 0.15
                  ) -> HybridPreset:
    """The hybrid for a series: a shipped series' own settings (``SHIPPED``), else GRU(16)
    on ``window`` steps with the series' ``season`` when the training part holds two of them
    beside a window (the level only otherwise), seasonality multiplicative when every
    value is > 0, at most 100 epochs.  ``rows`` is the series' length (for the season
    rule); ``split_rows`` as in ``HybridConfig`` (``"changes"`` beside a differenced
    Forecaster, so both score the same targets)."""
    common = dict(horizon=horizon, target=target, split_rows=split_rows)
    if name in SHIPPED:
        opts, epochs, batch = SHIPPED[name]
        return HybridPreset(HybridConfig(**opts, **common), epochs=epochs, batch_size=batch,
                            why=(f"the {name} dataset's settings (chosen on its validation "
                                 "part)",))
    why = [f"window {window} (the RNN's)"]
    train = int((rows or 0) * (1 - val - test))
    period = season if season is not None and season > 1 else None
    if period is not None and rows is not None and 2 * period + window > train:
        why.append(f"no season: the {train} training rows hold fewer than two seasons of "
                   f"{period} beside a window of {window}")
        period = None
    elif period is not None:
        why.append(f"season {period}, multiplicative when every value is > 0, else additive")
    else:
        why.append("no season: the level only")
    return HybridPreset(HybridConfig(units=16, window=window, season=period, **common),
                        why=tuple(why))


# ---------------------------------------------------------------------- smoothing
EDGE = 1e-4       # alpha and gamma stay in [EDGE, 1 - EDGE]


def _unit(logit: torch.Tensor) -> torch.Tensor:
    """A coefficient in (0, 1) from an unbounded parameter.  A plain sigmoid rounds to
    exactly 1.0 in float64 beyond a logit of ~37 (which a large step can reach); alpha = 1
    would make log(1 - alpha) infinite, so the range is kept EDGE away from both ends."""
    return EDGE + (1 - 2 * EDGE) * torch.sigmoid(logit)


def _initial_factors(y: np.ndarray, m: int, multiplicative: bool) -> np.ndarray:
    """Classical decomposition of the training rows: the mean ratio (or difference) of each
    phase to a centred moving average of one season.  A start for the learned factors."""
    kernel = np.ones(m + 1 if m % 2 == 0 else m)
    if m % 2 == 0:
        kernel[0] = kernel[-1] = 0.5                          # the 2 x m MA for even m
    kernel /= m
    trend = np.convolve(y, kernel, mode="valid")
    lag = (len(kernel) - 1) // 2
    part = y[lag:lag + len(trend)]
    dev = np.log(part / trend) if multiplicative else part - trend
    phase = (np.arange(len(dev)) + lag) % m
    factors = np.array([dev[phase == j].mean() for j in range(m)])
    return factors - factors.mean()


# ---------------------------------------------------------------------- smoothing, fast path
# The block recurrence of Smoothing._readable_forward, in NumPy, with a hand-derived
# backward.
# Through autograd each block is a dozen tiny tensor ops recorded and replayed, which made
# the smoothing ~70 % of a training step (elnino: 43 blocks) and ~50 % at co2's (31 blocks
# beside a GRU over 104 steps); NumPy runs the same block arithmetic at ~1 us an op.

def _block_matrices(a: float, block: int):
    """decay (block, block): a (1-a)^(i-j) for i >= j, else 0; carry (block,): (1-a)^(j+1);
    and their derivatives in a."""
    log_keep = math.log1p(-a)
    j = np.arange(block, dtype=np.float64)
    lag = j[:, None] - j[None, :]
    low = lag >= 0
    power = np.exp(np.maximum(lag, 0) * log_keep)                   # (1-a)^(i-j)
    decay = np.where(low, a * power, 0.0)
    d_decay = np.where(low, power - a * lag * power / (1 - a), 0.0)
    carry = np.exp((j + 1) * log_keep)
    d_carry = -(j + 1) * carry / (1 - a)
    return decay, carry, d_decay, d_carry


def _smooth_forward(y: np.ndarray, a: float, g: float, s0: np.ndarray | None, m: int,
                    multiplicative: bool, mats) -> tuple[np.ndarray, np.ndarray | None]:
    """level (N,) and, when m > 0, season (N + m,) with season[:m] = s0 (the module docstring's
    recurrence, one block of m rows at a time; ``mats`` = ``_block_matrices``)."""
    block = m or NO_SEASON_BLOCK
    decay, carry = mats[0], mats[1]
    n_rows = len(y)
    level = np.empty(n_rows)
    season = None
    if m:
        season = np.empty(n_rows + m)
        season[:m] = s0
    prev = None
    for start in range(0, n_rows, block):
        n = min(block, n_rows - start)
        yb = y[start:start + n]
        if m:
            sb = season[start:start + n]
            u = yb / sb if multiplicative else yb - sb
        else:
            u = yb
        if prev is None:
            prev = u[0]                                              # so l_0 = u_0
        lb = decay[:n, :n] @ u + carry[:n] * prev
        level[start:start + n] = lb
        prev = lb[-1]
        if m:
            ratio = yb / lb if multiplicative else yb - lb
            season[start + m:start + m + n] = g * ratio + (1 - g) * sb
    return level, season


def _smooth_backward(y: np.ndarray, a: float, g: float, m: int, multiplicative: bool, mats,
                     level: np.ndarray, season: np.ndarray | None, d_level: np.ndarray | None,
                     d_season: np.ndarray | None) -> tuple[float, float, np.ndarray | None]:
    """(dalpha, dgamma, ds0) from d_level (N,) and d_season (N + m,), the blocks in reverse.
    Per block (n rows from ``start``; u = y/s or y - s; prev = l_{start-1}, or u_0 first):
        l = D u + c prev,  s' = g r + (1 - g) s  with r = y/l (or y - l)
    so  dg += ds'.(r - s),  dl += (g ds') dr/dl,  ds += (1 - g) ds',
        du = D^T dl,  da += dl.(dD/da u) + prev dl.dc/da,  dprev = c.dl,  ds += du du/ds."""
    block = m or NO_SEASON_BLOCK
    decay, carry, d_decay, d_carry = mats
    n_rows = len(y)
    dl = np.zeros(n_rows) if d_level is None else d_level
    ds = None
    if m:
        ds = np.zeros(n_rows + m) if d_season is None else d_season.copy()
    da = dg = 0.0
    d_last = 0.0                                  # reaching this block's l_{n-1} from the next
    for start in reversed(range(0, n_rows, block)):
        n = min(block, n_rows - start)
        yb, lb = y[start:start + n], level[start:start + n]
        if m:
            sb = season[start:start + n]
            ds_next = ds[start + m:start + m + n]                    # final: later blocks done
            ratio = yb / lb if multiplicative else yb - lb
            dg += ds_next @ (ratio - sb)
            dr = g * ds_next
            ds[start:start + n] += (1 - g) * ds_next
            dlb = dl[start:start + n] - (dr * yb / (lb * lb) if multiplicative else dr)
            u = yb / sb if multiplicative else yb - sb
        else:
            dlb = dl[start:start + n].copy()
            u = yb
        dlb[-1] += d_last
        prev = level[start - 1] if start else u[0]
        du = dlb @ decay[:n, :n]                                     # D^T dl
        da += dlb @ (d_decay[:n, :n] @ u) + prev * (dlb @ d_carry[:n])
        d_prev = dlb @ carry[:n]
        if start:
            d_last = d_prev
        else:
            du[0] += d_prev                                          # prev = u_0
        if m:
            ds[start:start + n] -= du * yb / (sb * sb) if multiplicative else du
    return da, dg, (ds[:m] if m else None)


class _FastSmoothing(torch.autograd.Function):
    """``Smoothing``'s recurrence on the CPU in float64 NumPy, with ``_smooth_backward``.
    Inputs (y, alpha, gamma, s0, m, multiplicative); gamma and s0 are None when m = 0.
    Outputs level (N,), and season (N + m,) when m > 0.  No gradient reaches y."""

    @staticmethod
    def forward(ctx, y, alpha, gamma, s0, m, multiplicative):
        a, g = float(alpha.detach()), float(gamma.detach()) if m else 0.0
        mats = _block_matrices(a, m or NO_SEASON_BLOCK)
        with np.errstate(all="ignore"):           # inf and NaN pass through, as in torch
            level, season = _smooth_forward(y.detach().numpy(), a, g,
                                            s0.detach().numpy() if m else None, m,
                                            multiplicative, mats)
        out = (torch.from_numpy(level),) + ((torch.from_numpy(season),) if m else ())
        ctx.a, ctx.g, ctx.m, ctx.multiplicative, ctx.mats = a, g, m, multiplicative, mats
        ctx.save_for_backward(y, *out)
        return out if m else out[0]

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, d_level, d_season=None):
        y, level, *season = ctx.saved_tensors
        m = ctx.m
        as_np = lambda t: None if t is None else t.detach().numpy()  # noqa: E731
        with np.errstate(all="ignore"):
            da, dg, ds0 = _smooth_backward(
                as_np(y), ctx.a, ctx.g, m, ctx.multiplicative, ctx.mats, as_np(level),
                as_np(season[0]) if m else None,
                as_np(d_level), as_np(d_season))
        like = level.new_tensor
        return (None, like(da), like(dg) if m else None,
                torch.from_numpy(ds0) if m else None, None, None)


class Smoothing(nn.Module):
    """Learned Holt-Winters level and seasonality of one series (see the module docstring).

    Parameters: ``alpha_logit`` and ``gamma_logit`` (scalars; the coefficients are their
    sigmoids), ``season_logit`` (m,): the initial factors, exp(p - mean p) when
    multiplicative, scale * (p - mean p) when additive.

    Shapes: y (N,) -> level (N,), season (N + m,) where season[t] is the factor of row t
    (rows N .. N+m-1: the next season as known after y_{N-1}); without a season, N + 1
    neutral factors (1 or 0).

    Two paths, the same numbers (``tests/tasks/test_hybrid.py``): a float64 y on the CPU
    that needs no gradient runs ``_FastSmoothing`` (the block recurrence in NumPy with a
    hand-derived backward); any other y, and every call inside ``rnnkit.readable()`` or
    under ``RNNKIT_ENGINE=loop``, runs ``_readable_forward`` (torch ops, autograd).

    Example:
        >>> es = Smoothing(period=4, multiplicative=True)
        >>> level, season = es(torch.arange(1.0, 13.0, dtype=torch.float64))
        >>> tuple(level.shape), tuple(season.shape), bool((season > 0).all())
        ((12,), (16,), True)
    """

    def __init__(self, period: int, multiplicative: bool, scale: float = 1.0,
                 factors: np.ndarray | None = None, alpha: float = 0.3, gamma: float = 0.2):
        super().__init__()
        self.period, self.multiplicative, self.scale = period, multiplicative, float(scale)
        logit = lambda p: math.log((p - EDGE) / (1 - EDGE - p))  # noqa: E731  _unit's inverse
        self.alpha_logit = nn.Parameter(torch.tensor(logit(alpha), dtype=torch.float64))
        if period:
            self.gamma_logit = nn.Parameter(torch.tensor(logit(gamma), dtype=torch.float64))
            p = np.zeros(period) if factors is None else np.asarray(factors) / (
                1.0 if multiplicative else self.scale)
            self.season_logit = nn.Parameter(torch.tensor(p, dtype=torch.float64))

    @property
    def alpha(self) -> torch.Tensor:
        return _unit(self.alpha_logit)

    @property
    def gamma(self) -> torch.Tensor:
        return _unit(self.gamma_logit)

    def initial_season(self) -> torch.Tensor:
        p = self.season_logit - self.season_logit.mean()          # the level holds the scale
        return p.exp() if self.multiplicative else p * self.scale

    def forward(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        m = self.period
        if y.device.type != "cpu" or y.dtype != torch.float64 or y.requires_grad \
                or self.alpha_logit.dtype != torch.float64 or forced_engine() == "loop":
            return self._readable_forward(y)
        if not m:
            level = _FastSmoothing.apply(y, self.alpha, None, None, 0, self.multiplicative)
            return level, torch.full((len(y) + 1,), 1.0 if self.multiplicative else 0.0,
                                     dtype=y.dtype)
        return _FastSmoothing.apply(y, self.alpha, self.gamma, self.initial_season(), m,
                                    self.multiplicative)

    def _readable_forward(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The recurrence in torch ops, differentiated by autograd (also in y)."""
        m = self.period
        block = m or NO_SEASON_BLOCK
        a = self.alpha
        g = self.gamma if m else None
        log_keep = torch.log1p(-a)                                   # log(1 - alpha)
        # within a block the level is linear in u_t = y_t / s_t: l_j = (1-a)^(j+1) l_prev
        # + sum_i a (1-a)^(j-i) u_i, one (block, block) matrix product per block
        j = torch.arange(block, dtype=y.dtype, device=y.device)
        lag = j[:, None] - j[None, :]                                # (block, block)
        decay = torch.where(lag >= 0, a * torch.exp(lag.clamp(min=0) * log_keep),
                            torch.zeros((), dtype=y.dtype))
        carry = torch.exp((j + 1) * log_keep)                        # (block,)
        cur = self.initial_season() if m else None
        levels, seasons, prev = [], [], None
        for start in range(0, len(y), block):
            yb = y[start:start + block]
            n = len(yb)
            if m:
                sb = cur[:n]
                u = yb / sb if self.multiplicative else yb - sb
            else:
                u = yb
            if prev is None:
                prev = u[0]                                          # so l_0 = u_0
            lb = decay[:n, :n] @ u + carry[:n] * prev
            levels.append(lb)
            prev = lb[-1]
            if m:
                ratio = yb / lb if self.multiplicative else yb - lb
                seasons.append(cur)
                cur = g * ratio + (1 - g) * sb                       # rows start+m ..
        level = torch.cat(levels)
        if not m:
            return level, torch.full((len(y) + 1,), 1.0 if self.multiplicative else 0.0,
                                     dtype=y.dtype, device=y.device)
        return level, torch.cat([*seasons, cur])


# ---------------------------------------------------------------------- data helpers
def _phase_index(origins: np.ndarray, horizon: int, period: int) -> np.ndarray:
    """Rows of the season factors for targets t+1..t+K as known at t: (M, K).  A target
    more than a season ahead takes its phase's factor from the season after t; without a
    season every target takes the (neutral) factor of row t+1."""
    k = np.arange(1, horizon + 1)
    ahead = (k - 1) % max(period, 1) + 1
    return origins[:, None] + ahead


def _scores(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    return {"rmse": rmse(pred, true), "mae": float(np.mean(np.abs(pred - true)))}


class HybridForecaster:
    """Exponential smoothing and an RNN learned together (ES-RNN); the API of ``Forecaster``.

    ``fit`` splits in time as ``Forecaster`` does; with ``split_rows="changes"`` it splits
    N - 1 rows as a differenced Forecaster does, so ``evaluate`` scores exactly the same test
    targets and origins as, for instance, the airline preset.

    Example:
        >>> import numpy as np
        >>> t = np.arange(96)
        >>> y = (100 + t) * (1 + 0.2 * np.sin(2 * np.pi * t / 12))
        >>> f = HybridForecaster(season=12, units=4, window=6, horizon=3)
        >>> _ = f.fit(y, epochs=2, verbose=0)
        >>> f.predict(steps=5).shape
        (5, 1)
        >>> f.predict(quantiles=[0.1, 0.5, 0.9]).shape    # from its validation errors
        (3, 1, 3)
    """

    def __init__(self, config: HybridConfig | None = None, **options: Any):
        if config is not None and options:
            raise ValueError("pass a HybridConfig or keyword options, not both")
        self.config = config if config is not None else HybridConfig(**options)
        self.model: Sequential | None = None
        self.smoothing: Smoothing | None = None
        self.multiplicative = True
        self.column = ""
        self.series: np.ndarray | None = None        # the fitted series (what predict continues)
        self.history: dict[str, list[float]] = {}
        self.fit_seconds = math.nan
        self._parts: dict[str, tuple[int, int]] = {}  # target rows [first, end) of each part
        # validation errors that make the prediction intervals (tasks/intervals.py), or why
        # there are none
        self.intervals: ErrorIntervals | None = None
        self.no_intervals = "not fitted yet"

    # ------------------------------------------------------------------ data
    def _values(self, series: Any, unnamed: bool = False) -> np.ndarray:
        """The target column as (N,) float64, checked (NaN, shape) by Forecaster's boundary.
        ``unnamed``: plain numbers of one column are the target's values whatever its name
        (a history to forecast from; fit still wants the named column)."""
        target = self.config.target
        if isinstance(series, Series) and target in series.columns:
            series = series.select([target])          # NaN in other columns do not matter
        data = Forecaster()._prepare(series)
        target = target or data.columns[0]
        if unnamed and target not in data.columns and not isinstance(series, Series) \
                and len(data.columns) == 1:
            return data.values[:, 0].copy()     # plain numbers: the target's values, unnamed
        if target not in data.columns:
            raise ValueError(f"target {target!r} is not a column of the series "
                             f"({', '.join(data.columns)})")
        self.column = target
        return data.values[:, data.columns.index(target)].copy()

    def _check_values(self, y: np.ndarray, multiplicative: bool, rows: int, what: str) -> None:
        cfg, m = self.config, self.config.period
        if multiplicative and (y <= 0).any():
            row = int(np.argmax(y <= 0))
            raise ValueError(f"seasonality='multiplicative' divides by the level and season, so "
                             f"every value must be > 0; {what} has {y[row]:g} at row {row + 1}; "
                             "use seasonality='additive'")
        need = max(2 * m, cfg.window + cfg.horizon)
        if rows < need:
            why = (f"2 seasons of {m} to start the seasonal factors" if 2 * m >= need
                   else f"window + horizon = {cfg.window + cfg.horizon}")
            raise ValueError(f"{what} has {rows} rows, too few for {why} (needs {need}); use a "
                             "longer series, a smaller window or smaller val/test fractions")

    def _split(self, y: np.ndarray, val: float, test: float) -> dict[str, tuple[int, int]]:
        """Target rows [first, end) of each part, as ``Forecaster`` chooses them."""
        cfg = self.config
        shift = int(cfg.split_rows == "changes")
        parts = split_series(len(y) - shift, cfg.window, val, test)
        a = parts["train"][1] + shift
        out = {"train": (cfg.window, a)}
        if "val" in parts:
            out["val"] = (parts["val"][0] + cfg.window + shift, parts["val"][1] + shift)
        if "test" in parts:
            out["test"] = (parts["test"][0] + cfg.window + shift, len(y))
        for part, (first, end) in out.items():
            if end - first < cfg.horizon:
                raise ValueError(f"the {part} part has {end - first} target rows, fewer than "
                                 f"horizon={cfg.horizon}; use a longer series, a shorter "
                                 "horizon or larger val/test fractions")
        return out

    def _normalise(self, y: torch.Tensor, level: torch.Tensor, season: torch.Tensor,
                   origins: np.ndarray, horizon: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Windows x (M, w, 1) and, where the targets exist, z (M, K) in normalised units."""
        w, m = self.config.window, self.config.period
        o = torch.as_tensor(origins)
        rows = o[:, None] + torch.arange(-w + 1, 1)                       # (M, w)
        lt = level[o][:, None]                                            # (M, 1)
        x = self._to_normal(y[rows], lt, season[rows])
        z = None
        if origins.max() + horizon < len(y):
            ahead = torch.as_tensor(_phase_index(origins, horizon, m))
            target = o[:, None] + torch.arange(1, horizon + 1)
            z = self._to_normal(y[target], lt, season[ahead])
        return x[..., None], z

    def _to_normal(self, y, level, season):
        if self.multiplicative:
            return torch.log(y / (level * season))
        return (y - season - level) / self.smoothing.scale

    def _from_normal(self, z, level, season):
        if self.multiplicative:
            return torch.exp(z) * level * season
        return z * self.smoothing.scale + level + season

    # ------------------------------------------------------------------ model
    def _build(self) -> Sequential:
        cfg = self.config
        model = Sequential([CELLS[cfg.cell](cfg.units), L.Dense(cfg.horizon)])
        model(torch.zeros(1, cfg.window, 1))                             # build every layer
        return model.to(torch.float64)        # as the smoothing: log-ratios stay exact

    def _loss(self, y: torch.Tensor, origins: np.ndarray) -> torch.Tensor:
        """Normalised forecast error of ``origins`` on y (the training rows) + level penalty."""
        cfg = self.config
        level, season = self.smoothing(y)
        x, z = self._normalise(y, level, season, origins, cfg.horizon)
        err = self.model(x) - z
        loss = (err ** 2).mean() if cfg.loss == "mse" else err.abs().mean()
        if cfg.level_penalty > 0:
            path = level.log() if self.multiplicative else level / self.smoothing.scale
            loss = loss + cfg.level_penalty * (path.diff(n=2) ** 2).mean()
        return loss

    def fit(self, series: Any, *, epochs: int = 100, batch_size: int = 32, val: float = 0.15,
            test: float = 0.15, patience: int | None = 20, seed: int = 0, verbose: int = 1,
            threads: int | None = None):
        """Split in time, learn the smoothing and the RNN together on the training rows, and
        keep the epoch with the lowest validation RMSE (original units) when there is a
        validation part.  ``threads``: torch threads for the fit; None chooses as
        ``Forecaster.fit`` does (one for a small model, ``training.threads``).  Returns the
        history: {"loss", "val_rmse"}."""
        cfg = self.config
        for name, v, least in (("epochs", epochs, 1), ("batch_size", batch_size, 1),
                               ("seed", seed, 0)):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < least:
                raise ValueError(f"{name} must be an int >= {least}, got {v!r}")
        if patience is not None and (isinstance(patience, bool) or
                                     not isinstance(patience, numbers.Integral) or patience < 0):
            raise ValueError(f"patience must be None or an int >= 0, got {patience!r}")
        if threads is not None:
            requested(threads)                        # a bad value, before any work
        y = self._values(series)
        mult = cfg.seasonality == "multiplicative" or (cfg.seasonality == "auto"
                                                       and bool((y > 0).all()))
        self._check_values(y, mult, len(y), "the series")
        parts = self._split(y, val, test)
        a = parts["train"][1]
        self._check_values(y[:a], mult, a, "the training part")
        m = cfg.period
        scale = float(np.std(y[:a])) or 1.0
        factors = _initial_factors(y[:a], m, mult) if m else None
        set_seed(seed)
        self.multiplicative = mult
        self.smoothing = Smoothing(m, mult, scale, factors)
        self.model = self._build()
        self.series, self._parts = y, parts
        opt = torch.optim.Adam([{"params": self.model.parameters(), "lr": cfg.lr},
                                {"params": self.smoothing.parameters(), "lr": cfg.smoothing_lr}])
        train_y = torch.as_tensor(y[:a])
        origins = np.arange(cfg.window - 1, a - cfg.horizon)
        rng = np.random.default_rng(seed)
        self.history = {"loss": [], "val_rmse": []}
        best, best_state, waited = math.inf, None, 0
        # one thread for a small model, as Forecaster.fit: a GRU(16) step is far shorter
        # than waking torch's thread pool, whose spinning threads stall on a busy machine
        threads = choose_threads(self.model, batch_size, origins).n if threads is None \
            else requested(threads).n
        t0 = time.perf_counter()
        with using_threads(threads):
            for epoch in range(epochs):
                self.model.train()
                order, total = rng.permutation(origins), 0.0
                for s in range(0, len(order), batch_size):
                    batch = order[s:s + batch_size]
                    loss = self._loss(train_y, batch)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    params = [*self.model.parameters(), *self.smoothing.parameters()]
                    torch.nn.utils.clip_grad_norm_(params, cfg.clip)
                    opt.step()
                    total += float(loss.detach()) * len(batch)
                if not math.isfinite(total):
                    raise ValueError(f"training diverged in epoch {epoch + 1} (loss {total}); "
                                     f"lower lr={cfg.lr:g} or smoothing_lr={cfg.smoothing_lr:g}")
                self.history["loss"].append(total / len(order))
                if "val" in parts:
                    score = self.evaluate("val")["rmse"]
                    self.history["val_rmse"].append(score)
                    if score < best:
                        best, waited = score, 0
                        best_state = copy.deepcopy((self.model.state_dict(),
                                                    self.smoothing.state_dict()))
                    else:
                        waited += 1
                    if verbose:
                        print(f"epoch {epoch + 1}: loss {total / len(order):.5f}, "
                              f"val RMSE {score:.4g}")
                    if patience is not None and waited > patience:
                        break
                elif verbose:
                    print(f"epoch {epoch + 1}: loss {total / len(order):.5f}")
        if best_state is not None:
            self.model.load_state_dict(best_state[0])
            self.smoothing.load_state_dict(best_state[1])
        self.fit_seconds = time.perf_counter() - t0
        self.intervals, self.no_intervals = None, "fitted without a validation part (val=0)"
        if "val" in parts:
            self.intervals = self._validation_errors()
        return self.history

    def _validation_errors(self) -> ErrorIntervals:
        """The kept model's errors on every validation origin (relative when multiplicative:
        the forecasts are then > 0 and the swings scale with the level)."""
        o = self.origins("val")
        pred = self._forecast(self.series, o)
        return ErrorIntervals.from_forecasts(pred[..., None], self.targets("val")[..., None],
                                             relative=self.multiplicative,
                                             source=f"the hybrid's {len(o)} validation forecasts")

    # ------------------------------------------------------------------ forecasting
    def _require(self) -> None:
        if self.model is None or self.smoothing is None or self.series is None:
            raise ValueError("this HybridForecaster is not trained yet: call fit() or load()")

    @torch.no_grad()
    def _forecast(self, y: np.ndarray, origins: np.ndarray) -> np.ndarray:
        """Forecasts (M, K) in original units from each origin row of y (using y[:t+1])."""
        self.model.eval()
        cfg = self.config
        yt = torch.as_tensor(y)
        level, season = self.smoothing(yt)
        x, _ = self._normalise(yt, level, season, origins, cfg.horizon)
        z = self.model(x)
        ahead = torch.as_tensor(_phase_index(origins, cfg.horizon, cfg.period))
        return self._from_normal(z, level[torch.as_tensor(origins)][:, None],
                                 season[ahead]).numpy()

    def components(self, series: Any = None) -> dict[str, np.ndarray]:
        """The learned level and season factors of the fitted series (or ``series``) and the
        coefficients: {"level" (N,), "season" (N + m,), "alpha", "gamma"}."""
        self._require()
        y = self.series if series is None else self._values(series)
        with torch.no_grad():
            level, season = self.smoothing(torch.as_tensor(y))
            gamma = float(self.smoothing.gamma) if self.config.period else math.nan
            return {"level": level.numpy(), "season": season.numpy(),
                    "alpha": float(self.smoothing.alpha), "gamma": gamma}

    def predict(self, steps: int | None = None, series: Any = None,
                quantiles: Any = False) -> np.ndarray:
        """Forecast ``steps`` values (default: horizon) after the end of ``series`` (default:
        the fitted series): (steps, 1).  ``series`` must start where the fitted one did (the
        learned initial factors belong to its first rows), for instance the same series with
        newer rows.  Past the horizon the forecasts are fed back as observations.

        ``quantiles`` (levels in (0, 1), or True for 0.1, 0.5, 0.9) returns (steps, 1, levels)
        instead, increasing along the last axis: the point forecast moved by the quantiles
        of the validation errors per step ahead (``tasks/intervals.py``); 0.5 is the point
        forecast.  They reach ``horizon`` steps at most."""
        self._require()
        cfg = self.config
        if quantiles is not False and quantiles is not None:
            return quantile_forecast(self, "HybridForecaster", cfg.horizon, steps, series,
                                     quantiles)
        steps = cfg.horizon if steps is None else steps
        if isinstance(steps, (bool, np.bool_)) or not isinstance(steps, numbers.Integral) \
                or steps < 1:
            raise ValueError(f"steps must be a positive int, got {steps!r}")
        y = self.series if series is None else self._values(series, unnamed=True)
        if series is not None:
            self._check_values(y, self.multiplicative, len(y), "the series")
            m = cfg.period
            if m and not (len(y) >= m and np.allclose(y[:m], self.series[:m], rtol=1e-12,
                                                      atol=0.0)):
                raise ValueError(f"series must begin with the fitted series' first {m} values "
                                 "(the learned season factors belong to the phases of those "
                                 "rows): pass the fitted series with newer rows appended")
        out: list[np.ndarray] = []
        while sum(map(len, out)) < steps:
            block = self._forecast(y, np.array([len(y) - 1]))[0]
            out.append(block)
            y = np.concatenate([y, block])
        return np.concatenate(out)[:steps, None]

    # ------------------------------------------------------------------ evaluation
    def origins(self, part: str = "test") -> np.ndarray:
        """Origin rows of a part's forecasts: every t whose K targets lie in the part."""
        if part not in self._parts:
            raise ValueError(f"part must be one of {', '.join(self._parts) or '(fit first)'}, "
                             f"got {part!r}")
        first, end = self._parts[part]
        return np.arange(first - 1, end - self.config.horizon)

    def targets(self, part: str = "test") -> np.ndarray:
        """The values a part's forecasts are scored against: (M, K)."""
        o = self.origins(part)
        return self.series[o[:, None] + np.arange(1, self.config.horizon + 1)]

    def evaluate(self, part: str = "test", quantiles: Any = None) -> dict[str, Any]:
        """RMSE and MAE over every target and horizon step of a part, in original units,
        beside the last-value and seasonal-naive guesses on the same targets.

        ``quantiles`` (levels, or True for 0.1, 0.5, 0.9) adds what ``Forecaster.evaluate``
        reports for its quantiles: "quantiles", "pinball" (mean pinball loss, original
        units), "coverage" (share of targets inside each central interval, e.g. {"80":
        0.79}) and "intervals" (how they were made)."""
        self._require()
        cfg, y = self.config, self.series
        o, true = self.origins(part), self.targets(part)
        pred = self._forecast(y, o)
        result = {"part": part, "windows": len(o), **_scores(pred, true)}
        if cfg.horizon > 1:
            result["rmse_by_step"] = [rmse(pred[:, k], true[:, k]) for k in range(cfg.horizon)]
        if quantiles is not None and quantiles is not False:
            levels = band_levels(self, "HybridForecaster", cfg.horizon, None, quantiles)
            result.update(self.intervals.part_scores(pred[..., None], true[..., None], o,
                                                     levels, part))
        result["baseline_last_value"] = _scores(np.repeat(y[o][:, None], cfg.horizon, 1), true)
        if cfg.period:
            k = np.arange(1, cfg.horizon + 1)
            src = o[:, None] + k - cfg.period * np.ceil(k / cfg.period).astype(int)
            if (src >= 0).all():
                result["baseline_seasonal_naive"] = _scores(y[src], true)
        return result

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path, overwrite: bool = False) -> None:
        """A model folder (``rnnkit.saving``): the RNN's config.json and weights, hybrid.json
        (settings, and the validation errors behind the intervals) and smoothing.safetensors
        (the smoothing's parameters and the series)."""
        from ..io import write_tensors
        from ..saving import save
        self._require()
        meta = {"config": asdict(self.config), "multiplicative": self.multiplicative,
                "scale": self.smoothing.scale, "column": self.column,
                "parts": {k: list(v) for k, v in self._parts.items()},
                "history": self.history}
        if self.intervals is not None:
            meta["intervals"] = self.intervals.to_dict()
        else:
            meta["no_intervals"] = self.no_intervals
        save(self.model, path, extra={"hybrid": meta}, overwrite=overwrite)
        tensors = {k: v.detach().clone() for k, v in self.smoothing.state_dict().items()}
        tensors["series"] = torch.as_tensor(self.series)
        write_tensors(Path(path) / SMOOTHING_FILE, tensors, {"format": "rnnkit-hybrid"})

    @classmethod
    def load(cls, path: str | Path) -> HybridForecaster:
        from ..io import read_json, read_tensors
        from ..saving import load, load_state_checked
        path = Path(path)
        meta_path = path / "hybrid.json"
        if not meta_path.is_file():
            raise ValueError(f"{path} is not a saved HybridForecaster: hybrid.json is missing")
        meta = read_json(meta_path, "hybrid forecaster settings (JSON)")
        try:
            f = cls(HybridConfig(**meta["config"]))
            f.multiplicative, f.column = bool(meta["multiplicative"]), str(meta["column"])
            scale = float(meta["scale"])
            f._parts = {k: (int(v[0]), int(v[1])) for k, v in meta["parts"].items()}
            f.history = meta["history"]
            if "intervals" in meta:
                f.intervals = ErrorIntervals.from_dict(meta["intervals"])
            else:
                f.no_intervals = str(meta.get("no_intervals", (
                    f"{meta_path} holds no validation errors (saved before rnnkit kept "
                    "them); fit it again to get intervals")))
        except (KeyError, TypeError, IndexError, ValueError) as err:
            raise ValueError(f"{meta_path} is not a valid hybrid forecaster file "
                             f"({type(err).__name__}: {err})") from None
        f.model = load(path)
        tensors, _ = read_tensors(path / SMOOTHING_FILE)
        series = tensors.pop("series", None)
        if series is None or series.ndim != 1 or not torch.isfinite(series).all():
            raise ValueError(f"{path / SMOOTHING_FILE} lacks the fitted series (a 1-D "
                             "'series' of finite values)")
        f.smoothing = Smoothing(f.config.period, f.multiplicative, scale)
        load_state_checked(f.smoothing, tensors, str(path / SMOOTHING_FILE))
        f.series = series.to(torch.float64).numpy()
        return f
