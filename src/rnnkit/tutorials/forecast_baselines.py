"""Forecast baselines: rnnkit's recommended Forecaster on every shipped series against
statsforecast's AutoARIMA, AutoETS and AutoTheta, and Naive and SeasonalNaive, on exactly
the same test targets and origins.

Each series runs as ``rnnkit forecast NAME`` runs it with no options: its preset, a split of
70/15/15 in time, early stopping on validation.  The statistical models are fitted once on
every row before the first test target (train + validation) and then updated with each new
value, never refitted (statsforecast's ``cross_validation(step_size=1, refit=False)``).  The
model is scored over seeds (medians [min-max]); the statistical models are deterministic.
Univariate: the statistical models read the target alone, even where the model also reads
other columns (weather's humidity and pressure).

A column is one entry of ``ENTRIES``: a name and a function ``(case, seed, origins, y) ->
Scores | None``; adding a model is adding one entry.  "rnnkit hybrid" is such an entry
(``tasks/hybrid.py``, the ES-RNN forecaster).  Needs statsforecast
(``pip install 'rnnkit[stats]'``).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from . import Report, Row, conclude, fit_options, verdict
from . import epochs as capped_epochs

NAME = "forecast-baselines"
TITLE = "Forecasts against statistical models on every shipped series"
PUBLISHED: dict[str, float] = {}
METRICS = ["test RMSE", "test MAE"]
QUICK_ROWS, QUICK_UNITS, QUICK_EPOCHS = 500, 8, 2
STATS = ("AutoARIMA", "AutoETS", "AutoTheta", "Naive", "SeasonalNaive")


@dataclass(frozen=True)
class Case:
    """One shipped series as ``rnnkit forecast NAME`` runs it."""

    name: str                          # the dataset (and the row label)
    label: str                         # what is forecast, for the table
    options: dict                      # datasets.load options
    column: str                        # the target
    season: int | None                 # the dataset's season (naive and statistical models)
    horizon: int = 1
    rows: int | None = None            # keep only the last rows (quick runs)


CASES = (
    Case("sunspots", "monthly sunspot number", {}, "sunspots", 132),
    Case("airline", "monthly passengers (thousands)", {}, "passengers", 12),
    Case("stocks", "MSFT adjusted close, next day", {"symbol": "MSFT"}, "Adj Close", None),
    Case("weather", "JFK temperature (F), next hour", {"origin": "JFK"}, "temp", 24),
    Case("sine", "sin(t), no noise: the dataset's default", {}, "sine", None),
)


@dataclass
class Scores:
    rmse: float
    mae: float
    seconds: float
    note: str = ""


def _series(case: Case):
    """The case's Series (target first, then the preset's features), gaps filled as the
    preset says, and its preset."""
    from .. import datasets
    from ..data import fill_missing
    from ..tasks.forecast import dataset_preset, general_preset
    preset = dataset_preset(case.name, case.horizon)
    series = datasets.load(case.name, **case.options)
    series = series.select([case.column, *(preset.features if preset else ())])
    values, times, _ = fill_missing(series.values, (preset.fill if preset else None)
                                    or "error", series.name, series.times, series.columns)
    if case.rows is not None:
        values, times = values[-case.rows:], times[-case.rows:]
    series = type(series)(series.name, times, values, series.columns)
    if preset is None:
        preset = general_preset(np.asarray(values, dtype=np.float64).reshape(len(values), -1),
                                case.season, case.horizon, name=case.name)
    return series, preset


def _forecaster(case: Case, quick: bool):
    from ..tasks import Forecaster
    series, preset = _series(case)
    units = min(preset.units, QUICK_UNITS) if quick else preset.units
    f = Forecaster(cell=preset.cell, units=units, window=preset.window, horizon=case.horizon,
                   stride=preset.stride, scaler=preset.scaler, targets=(case.column,),
                   season=case.season, lr=preset.lr, difference=preset.difference)
    return f, series, preset


def _recommended(case: Case, seed: int, quick: bool):
    """rnnkit's recommended Forecaster fitted with ``seed``: (forecaster, its preset)."""
    f, series, preset = _forecaster(case, quick)
    n = capped_epochs(min(preset.epochs, QUICK_EPOCHS) if quick else preset.epochs)
    f.fit(series, epochs=n, batch_size=preset.batch_size, patience=preset.patience,
          seed=seed, **fit_options(f"{case.name}-seed{seed}"))
    return f, preset


def _hybrid(case: Case, seed: int, origins: np.ndarray, y: np.ndarray) -> Scores | None:
    """rnnkit's ES-RNN hybrid (``tasks/hybrid.py``) forecasting ``y`` (M, K, 1) from
    ``origins``, on the recommended Forecaster's split (its test targets checked equal),
    with the series' settings from ``tasks.hybrid.hybrid_preset`` (``SHIPPED``)."""
    import time

    from ..tasks import HybridForecaster
    from ..tasks.hybrid import hybrid_preset
    series, preset = _series(case)
    spec = hybrid_preset(case.name, season=case.season, window=preset.window,
                         horizon=case.horizon, rows=len(series.values), target=case.column,
                         split_rows="changes" if preset.difference else "levels")
    epochs, batch_size = spec.epochs, spec.batch_size
    if case.rows is not None:                       # a quick run
        epochs = min(epochs, QUICK_EPOCHS)
    h = HybridForecaster(spec.config)
    t0 = time.perf_counter()
    h.fit(series, epochs=capped_epochs(epochs), batch_size=batch_size, patience=spec.patience,
          seed=seed, verbose=0)
    seconds = time.perf_counter() - t0
    true = h.targets("test")
    if true.shape != y[..., 0].shape or not np.allclose(true, y[..., 0]):
        return Scores(np.nan, np.nan, seconds, "its test targets differ from the "
                      "Forecaster's: not scored")
    m = h.evaluate("test")
    _HYBRIDS[(case.name, seed)] = h
    return Scores(m["rmse"], m["mae"], seconds)


_HYBRIDS: dict[tuple[str, int], Any] = {}      # (series, seed) -> its fitted hybrid


def _auto_row(case: Case, seeds: list[int], fitted: list) -> Row | None:
    """"rnnkit auto": per seed, what ``AutoForecaster`` keeps among the recommended
    Forecaster, the hybrid, the mean of their forecasts and the combined (its choice
    averaged with the statistical model best on validation), all chosen on the validation
    part (``AutoForecaster.among``, the rule ``fit`` applies), scored on test.  The choice
    never looks at the test part."""
    from ..tasks.forecast_auto import AutoForecaster, score
    picks, rmse, mae, seconds = [], [], [], []
    names = {"rnn": "recommended", "hybrid": "hybrid", "mean": "mean"}
    for seed, (f, _) in zip(seeds, fitted):
        h = _HYBRIDS.get((case.name, seed))
        if h is None:
            return None
        auto = AutoForecaster.among(f, h)
        kind = auto.choice.kind
        test = score({kind: auto.chosen}, "test")[0][kind]
        picks.append(f"combined ({names[auto.chosen.base_kind]} and {auto.chosen.model})"
                     if kind == "combined" else names[kind])
        rmse.append(test["rmse"])
        mae.append(test["mae"])
        seconds.append(auto.fit_seconds)
    return Row(f"{case.name}: rnnkit auto", "chose " + ", ".join(picks), seconds,
               {"test RMSE": rmse, "test MAE": mae})


@dataclass(frozen=True)
class Entry:
    """One column of the table: a name and how it scores a case for a seed (None: not
    available for this case; ``seeded`` False: one run serves every seed)."""

    name: str
    score: Callable[[Case, int, np.ndarray, np.ndarray], Scores | None]
    seeded: bool = True


def _rmse_mae(pred: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    return float(np.sqrt(np.mean((pred - y) ** 2))), float(np.mean(np.abs(pred - y)))


def _statistical(name: str, quick: bool) -> Entry:
    def score(case: Case, seed: int, origins: np.ndarray, y: np.ndarray) -> Scores | None:
        from ..tasks import stats_baselines as sb
        series, _ = _series(case)
        values = np.asarray(series.values, dtype=np.float64).reshape(len(series.values), -1)
        found = sb.statistical_forecasts(values[:, 0], origins, case.horizon, case.season,
                                         [name])[name]
        if "forecasts" not in found:
            return Scores(np.nan, np.nan, 0.0, found.get("skipped") or found.get("error"))
        return Scores(*_rmse_mae(found["forecasts"], y), found["seconds"], found["note"])
    return Entry(name, score, seeded=False)


def entries(quick: bool = False) -> list[Entry]:
    """The table's columns after "rnnkit recommended" (which every case fits first)."""
    stats = [m for m in STATS if not (quick and m == "AutoARIMA")]
    return [Entry("rnnkit hybrid", _hybrid), *(_statistical(m, quick) for m in stats)]


def run(seeds: list[int], quick: bool = False, out: str | Path | None = None) -> Report:
    from ..tasks import stats_baselines as sb
    sb.require()
    report = Report(f"{TITLE} (seeds {','.join(map(str, seeds))}; medians [min-max]; test = "
                    "the last 15 % of each series, every step, original units)", METRICS)
    cases = [replace(c, rows=QUICK_ROWS) if quick else c for c in CASES]
    notes: dict[str, str] = {}
    labels: dict[str, str] = {}
    kept = None
    for case in cases:
        fitted = [_recommended(case, s, quick) for s in seeds]
        f, preset = fitted[0]
        origins, y = f.origins_and_targets("test")
        for g, _ in fitted[1:]:                    # the targets do not depend on the seed
            assert np.array_equal(g.origins_and_targets("test")[0], origins)
        scores = [g.evaluate("test") for g, _ in fitted]
        labels[case.name] = f"{case.label}; {len(origins):,} test targets"
        report.rows.append(Row(f"{case.name}: rnnkit recommended", preset.describe(),
                               [g.fit_seconds for g, _ in fitted],
                               {"test RMSE": [m["rmse"] for m in scores],
                                "test MAE": [m["mae"] for m in scores]}))
        for entry in entries(quick):
            runs = [entry.score(case, s, origins, y) for s in (seeds if entry.seeded
                                                               else seeds[:1])]
            runs = [r for r in runs if r is not None]
            if not runs:
                notes.setdefault(entry.name, f"{entry.name}: not run (its entry returns no "
                                 "scores yet)")
                continue
            if runs[0].note:
                notes[f"{case.name} {entry.name}"] = f"{case.name}, {entry.name}: {runs[0].note}"
            if np.isnan(runs[0].rmse):
                continue
            report.rows.append(Row(f"{case.name}: {entry.name}",
                                   "statsforecast" if not entry.seeded else "",
                                   [r.seconds for r in runs],
                                   {"test RMSE": [r.rmse for r in runs],
                                    "test MAE": [r.mae for r in runs]}))
        auto = _auto_row(case, seeds, fitted)
        if auto is not None:
            report.rows.append(auto)
        if case.name == "airline":
            kept = fitted[len(fitted) // 2][0]
        extra = len(f.columns) - 1
        if extra:
            notes[f"{case.name} features"] = (f"{case.name}: the model also reads "
                                              f"{', '.join(f.columns[1:])}; the statistical "
                                              "models read the target alone")
    report.notes += list(notes.values())
    report.notes.append("fit s: the model's training; for the statistical models, the fit "
                        "and every update over the test part.")
    report.quick = quick
    report.notes += conclude(report, conclusions(report))
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "forecast-baselines.md").write_text(markdown(report, seeds, labels=labels))
        report.notes.append(f"wrote {out}/forecast-baselines.md")
        if kept is not None:
            kept.report(out / "airline")
            report.notes.append(f"wrote {out}/airline/ (the airline model's report)")
    return report


def _cases_in(report: Report) -> list[str]:
    return list(dict.fromkeys(r.system.split(": ")[0] for r in report.rows))


def _columns(report: Report) -> list[str]:
    return list(dict.fromkeys(r.system.split(": ", 1)[1] for r in report.rows))


def conclusions(report: Report) -> list[str]:
    """Per series: the model against the best statistical model (within 2 % is a tie)."""
    lines = []
    systems = {r.system for r in report.rows}
    for name in _cases_in(report):
        stats = {r.system.split(": ", 1)[1]: r.median("test RMSE") for r in report.rows
                 if r.system.startswith(f"{name}: ") and r.settings == "statsforecast"
                 and r.system.split(": ", 1)[1] not in ("Naive", "SeasonalNaive")}
        if not stats:
            continue
        best = min(stats, key=stats.get)
        for which in ("rnnkit recommended", "rnnkit hybrid", "rnnkit auto"):
            if f"{name}: {which}" not in systems:
                continue
            model = report.row(f"{name}: {which}").median("test RMSE")
            lines.append(f"{name}: {which} ({model:.4g}) {verdict(model, stats[best])} "
                         f"the best statistical model, {best} ({stats[best]:.4g}); "
                         f"ratio {model / stats[best]:.2f}.")
    return lines


def markdown(report: Report, seeds: list[int], command: str | None = None,
             labels: dict[str, str] | None = None) -> str:
    """The table as Markdown: a row per series, a column per model, "RMSE / MAE" in each
    cell (medians over seeds for seeded models), the best RMSE in bold; ``labels`` say
    what each series' row forecasts."""
    labels = labels or {}
    command = command or ("rnnkit tutorial run forecast-baselines --seeds "
                          f"{','.join(map(str, seeds))} --out runs/forecast-baselines")
    columns = ["rnnkit recommended", "rnnkit hybrid", "rnnkit auto", *STATS]
    head = ["series (test targets)", *columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in _cases_in(report):
        cells: dict[str, Any] = {}
        for col in columns:
            try:
                row = report.row(f"{name}: {col}")
            except StopIteration:
                cells[col] = "-"
                continue
            cells[col] = (row.median("test RMSE"), row.median("test MAE"),
                          statistics.median(row.seconds) if row.seconds else 0.0)
        scored = {c: v[0] for c, v in cells.items() if v != "-" and c != "rnnkit auto"}
        best = min(scored, key=scored.get) if scored else None
        out = [f"{name}" + (f" ({labels[name]})" if name in labels else "")]
        for col in columns:
            v = cells[col]
            if v == "-":
                out.append("-")
                continue
            rmse = f"**{v[0]:.4g}**" if col == best else f"{v[0]:.4g}"
            out.append(f"{rmse} / {v[1]:.4g} ({v[2]:.1f} s)")
        lines.append("| " + " | ".join(out) + " |")
    body = "\n".join(lines)
    settings = "\n".join(f"- {r.system.split(': ')[0]}: {r.settings}" for r in report.rows
                         if r.system.endswith(": rnnkit recommended"))
    chosen = [f"- {r.system.split(': ')[0]}: {r.settings} (seeds in order)"
              for r in report.rows if r.system.endswith(": rnnkit auto")]
    if chosen:
        settings += ("\n\nrnnkit auto, per seed what `--strategy auto` keeps among the two, "
                     "the mean of their forecasts and the combined (that choice averaged with "
                     "the statistical model best on validation), on validation (the bold "
                     "marks the best of the other columns):\n" + "\n".join(chosen))
    notes = "\n".join(f"- {n}" for n in report.notes)
    quick = f"\n{QUICK_NOTE}\n" if report.quick else ""
    return (f"# Forecasts against statistical models\n\nMade by `{command}`.\n{quick}\n"
            f"Each cell: test RMSE / test MAE (seconds: the model's fit; a statistical "
            f"model's fit and every update), original units; rnnkit's figures are medians "
            f"over seeds {','.join(map(str, seeds))}. The lowest RMSE of a row is in bold. "
            f"Seconds are wall-clock on the machine that ran it and vary with its load.\n\n"
            f"{body}\n\nrnnkit recommended, per series (`rnnkit forecast NAME`'s preset):\n"
            f"{settings}\n\nNotes:\n{notes}\n")


QUICK_NOTE = ("A quick run: the last 500 rows of each series, small models, two epochs, no "
              "AutoARIMA; a smoke test, not a measurement.")
