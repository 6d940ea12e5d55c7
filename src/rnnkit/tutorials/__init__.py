"""The classic tutorial workloads, each run with its own settings beside its published figure.

Each entry is a module with NAME, TITLE, PUBLISHED (what the tutorial reports) and
``run(seeds, quick, out=None) -> Report``; ``out`` receives the recommended model's report.
Every conclusion a report prints is computed from its rows (``conclusions(report)`` in each
module, built on ``verdict``), so it cannot contradict them; a quick run's measured rows are
marked "(quick)", and so are the conclusions drawn from them (``conclude``).
"""

from __future__ import annotations

import contextlib
import importlib
import statistics
from collections.abc import Iterator
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

__all__ = ["Report", "Row", "names", "get", "aliases", "verdict", "QUICK_HEADER", "RunOptions",
           "run_options", "epochs", "fit_options", "conclude", "QUICK_CONCLUSION"]

_MODULES = {"sunspots": "sunspots", "stocks": "stocks", "weather": "weather",
            "sine-numpy": "sine", "mnist-rows": "mnist_rows",
            "imdb-style": "imdb_style", "shakespeare": "shakespeare",
            "translation": "translation", "classify-baselines": "classify_baselines",
            "forecast-baselines": "forecast_baselines"}
_ALIASES = {"sine": "sine-numpy"}          # other names that run the same entry
QUICK_HEADER = ("quick run: a smoke test (one seed, a few epochs, some tutorials on part of "
                "the data); the rows marked (quick) are not comparable to the published "
                "figures")
QUICK_CONCLUSION = "From the quick run (a smoke test, not a measurement): "


@dataclass(frozen=True)
class RunOptions:
    """What ``rnnkit tutorial run`` passes to every row a tutorial trains."""

    epochs: int | None = None          # at most this many epochs per trained row
    threads: int | None = None         # fit(threads=...) of every rnnkit fit
    log_dir: Path | None = None        # TensorBoard events, one subfolder per row
    verbose: int = 0                   # fit(verbose=...): 1 per-epoch lines (the CLI's default)


_OPTIONS = RunOptions()


@contextlib.contextmanager
def run_options(**options: Any) -> Iterator[RunOptions]:
    """Set ``RunOptions`` for the tutorial runs inside the block."""
    global _OPTIONS
    unknown = set(options) - {f.name for f in fields(RunOptions)}
    if unknown:
        raise ValueError(f"unknown tutorial run options: {', '.join(sorted(unknown))}")
    old, _OPTIONS = _OPTIONS, replace(_OPTIONS, **options)
    try:
        yield _OPTIONS
    finally:
        _OPTIONS = old


def epochs(default: int) -> int:
    """A row's epochs: its own, capped by ``--epochs``."""
    return min(default, _OPTIONS.epochs) if _OPTIONS.epochs else default


def fit_options(row: str) -> dict[str, Any]:
    """``verbose``, and ``threads`` and ``log_dir`` (a subfolder per row) when set, for a
    fit.  With ``verbose`` on, a line naming the row comes before its per-epoch lines."""
    out: dict[str, Any] = {"verbose": _OPTIONS.verbose}
    if _OPTIONS.verbose:
        print(f"training {row}:", flush=True)
    if _OPTIONS.threads is not None:
        out["threads"] = _OPTIONS.threads
    if _OPTIONS.log_dir is not None:
        out["log_dir"] = Path(_OPTIONS.log_dir) / row
    return out


def verdict(value: float, other: float, lower_is_better: bool = True,
            tol: float = 0.02) -> str:
    """How ``value`` compares with ``other``: "beats", "ties with" (within ``tol`` of it,
    relative) or "loses to".

    Example:
        >>> verdict(0.09, 0.08), verdict(0.3109, 0.3112), verdict(0.95, 0.98, False)
        ('loses to', 'ties with', 'loses to')
    """
    if abs(value - other) <= tol * abs(other):
        return "ties with"
    better = value < other if lower_is_better else value > other
    return "beats" if better else "loses to"


def conclude(report: Report, lines: list[str]) -> list[str]:
    """Conclusions as printed: each drawn from a quick run's rows says so."""
    return [QUICK_CONCLUSION + line for line in lines] if report.quick else list(lines)


def _median(xs: list[float], fmt: str) -> str:
    if not xs:
        return "-"
    m = format(statistics.median(xs), fmt)
    return m if len(xs) == 1 else f"{m} [{format(min(xs), fmt)}-{format(max(xs), fmt)}]"


@dataclass
class Row:
    system: str                              # what ran
    settings: str                            # how it was configured
    seconds: list[float]                     # fit time per seed
    scores: dict[str, list[float]]           # metric -> value per seed

    def median(self, metric: str) -> float:
        values = self.scores.get(metric, [])
        return statistics.median(values) if values else float("nan")


@dataclass
class Report:
    title: str
    metrics: list[str]                       # columns, e.g. ["train RMSE", "test RMSE"]
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    quick: bool = False                      # a smoke run: measured rows say "(quick)"

    def row(self, system: str, settings: str = "") -> Row:
        """The first row of ``system`` whose settings start with ``settings``."""
        return next(r for r in self.rows if r.system == system
                    and r.settings.startswith(settings))

    def settings_shown(self, r: Row) -> str:
        """A row's settings as printed: "(quick)" added to a row measured in a quick run
        (one with fit times); published figures and baselines are not trained."""
        return f"{r.settings} (quick)" if self.quick and r.seconds else r.settings

    def table(self) -> str:
        head = ("system", "settings", "fit s", *self.metrics)
        body = [(r.system, self.settings_shown(r), _median(r.seconds, ".2f"),
                 *(_median(r.scores.get(m, []), ".4f") for m in self.metrics))
                for r in self.rows]
        widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head))]
        line = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
        return "\n".join([self.title, *([QUICK_HEADER] if self.quick else []), line(head),
                          *map(line, body), *self.notes])

    def to_dict(self) -> dict:
        return {"title": self.title, "metrics": self.metrics, "notes": self.notes,
                "quick": self.quick,
                "rows": [{"system": r.system, "settings": r.settings, "seconds": r.seconds,
                          "scores": r.scores} for r in self.rows]}


def names() -> tuple[str, ...]:
    """One name per tutorial (aliases not repeated)."""
    return tuple(_MODULES)


def aliases(name: str) -> list[str]:
    """Other names that run the tutorial ``name``."""
    return [a for a, target in _ALIASES.items() if target == name]


def get(name: str):
    name = _ALIASES.get(name, name)
    if name not in _MODULES:
        raise ValueError(f"unknown tutorial {name!r}; available: {', '.join(_MODULES)}")
    return importlib.import_module(f"{__name__}.{_MODULES[name]}")
