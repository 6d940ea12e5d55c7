"""The classic tutorial workloads, each run with its own settings beside its published figure.

Each entry is a module with NAME, TITLE, PUBLISHED (what the tutorial reports) and
``run(seeds, quick) -> Report``.
"""

from __future__ import annotations

import importlib
import statistics
from dataclasses import dataclass, field

__all__ = ["Report", "Row", "names", "get"]

_MODULES = {"sine-numpy": "sine"}


@dataclass
class Row:
    system: str                       # what ran
    settings: str                     # how it was configured
    seconds: list[float]              # fit time per seed
    scores: list[float]               # the tutorial's metric per seed

    def cells(self) -> tuple[str, str]:
        def med(xs: list[float], fmt: str) -> str:
            if not xs:
                return "-"
            m = format(statistics.median(xs), fmt)
            return m if len(xs) == 1 else f"{m} [{format(min(xs), fmt)}-{format(max(xs), fmt)}]"
        return med(self.seconds, ".1f"), med(self.scores, ".4f")


@dataclass
class Report:
    title: str
    metric: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def table(self) -> str:
        head = ("system", "settings", "fit s", self.metric)
        body = [(r.system, r.settings, *r.cells()) for r in self.rows]
        widths = [max(len(x[i]) for x in [head, *body]) for i in range(4)]
        line = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
        return "\n".join([self.title, line(head), *map(line, body), *self.notes])


def names() -> tuple[str, ...]:
    return tuple(_MODULES)


def get(name: str):
    if name not in _MODULES:
        raise ValueError(f"unknown tutorial {name!r}; available: {', '.join(_MODULES)}")
    return importlib.import_module(f"{__name__}.{_MODULES[name]}")
