"""The classic tutorial workloads, each run with its own settings beside its published figure.

Each entry is a module with NAME, TITLE, PUBLISHED (what the tutorial reports) and
``run(seeds, quick, out=None) -> Report``; ``out`` receives the recommended model's report.
"""

from __future__ import annotations

import importlib
import statistics
from dataclasses import dataclass, field

__all__ = ["Report", "Row", "names", "get"]

_MODULES = {"sunspots": "sunspots", "stocks": "stocks", "weather": "weather",
            "sine-numpy": "sine", "sine": "sine", "mnist-rows": "mnist_rows",
            "imdb-style": "imdb_style", "shakespeare": "shakespeare",
            "translation": "translation"}


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

    def row(self, system: str) -> Row:
        return next(r for r in self.rows if r.system == system)

    def table(self) -> str:
        head = ("system", "settings", "fit s", *self.metrics)
        body = [(r.system, r.settings, _median(r.seconds, ".2f"),
                 *(_median(r.scores.get(m, []), ".4f") for m in self.metrics))
                for r in self.rows]
        widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head))]
        line = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
        return "\n".join([self.title, line(head), *map(line, body), *self.notes])

    def to_dict(self) -> dict:
        return {"title": self.title, "metrics": self.metrics, "notes": self.notes,
                "rows": [{"system": r.system, "settings": r.settings, "seconds": r.seconds,
                          "scores": r.scores} for r in self.rows]}


def names() -> tuple[str, ...]:
    return tuple(_MODULES)


def get(name: str):
    if name not in _MODULES:
        raise ValueError(f"unknown tutorial {name!r}; available: {', '.join(_MODULES)}")
    return importlib.import_module(f"{__name__}.{_MODULES[name]}")
