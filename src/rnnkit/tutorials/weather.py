"""Weather, multivariate: temperature, humidity and pressure at JFK in 2013 predict the
temperature of the next hour, and of each of the next 24 hours.  The readers' question of
the classic tutorials ("how do I use several series at once, and forecast further?").
No published figure: the yardsticks are the naive forecasts (the last hour repeated; the
same hour yesterday) and the same model fed temperature alone.
"""

from __future__ import annotations

from pathlib import Path

from . import Report, Row, conclude, epochs, fit_options, verdict

NAME = "weather"
TITLE = "JFK hourly temperature (F) from temperature, humidity and pressure"
PUBLISHED: dict[str, float] = {}


def data(columns=("temp", "humid", "pressure")):
    from .. import datasets
    from ..data import fill_missing
    s = datasets.load("weather", origin="JFK").select(list(columns))
    values, times, _ = fill_missing(s.values, "ffill", s.name, s.times)
    return type(s)(s.name, times, values, s.columns)


def _fit(columns, horizon: int, window: int, units: int, seed: int, n_epochs: int):
    from ..tasks import Forecaster
    f = Forecaster(cell="gru", units=units, window=window, horizon=horizon, targets=("temp",),
                   season=24, lr=2e-3)
    f.fit(data(columns), epochs=n_epochs, batch_size=64, patience=5, seed=seed,
          **fit_options(f"{'-'.join(columns)}-{horizon}h-seed{seed}"))
    return f, f.evaluate("test")


def run(seeds: list[int], quick: bool = False, out: str | Path | None = None) -> Report:
    n = epochs(1 if quick else 40)
    report = Report(f"{TITLE} (seeds {','.join(map(str, seeds))}; medians [min-max]; test = "
                    "last 15 % of 2013, every hour)", ["RMSE 1h", "RMSE 24h"])
    keep = None
    for label, columns in [("rnnkit GRU, temp + humid + pressure", ("temp", "humid", "pressure")),
                           ("rnnkit GRU, temp only", ("temp",))]:
        one = [_fit(columns, 1, 24, 32, s, n) for s in seeds]
        day = [_fit(columns, 24, 48, 64, s, n) for s in seeds]
        report.rows.append(Row(label, "window 24 h (1 h) / 48 h (24 h), direct",
                               [a[0].fit_seconds + b[0].fit_seconds for a, b in zip(one, day)],
                               {"RMSE 1h": [m["rmse"] for _, m in one],
                                "RMSE 24h": [m["rmse"] for _, m in day]}))
        keep = keep or day[0]
    _, m1 = one[0]
    _, m24 = day[0]
    for key, label in (("baseline_last_value", "naive: last hour repeated"),
                       ("baseline_seasonal_naive", "naive: same hour yesterday")):
        report.rows.append(Row(label, "-", [], {"RMSE 1h": [m1[key]["rmse"]],
                                                "RMSE 24h": [m24[key]["rmse"]]}))
    report.notes.append("Missing hours and values are carried forward (--fill ffill); "
                        "the 24-hour RMSE averages all 24 steps ahead.")
    report.quick = quick
    report.notes += conclude(report, conclusions(report))
    if out is not None and keep is not None:
        keep[0].report(out)
        keep[0].save(Path(out) / "model")
    return report


def conclusions(report: Report) -> list[str]:
    """Whether humidity and pressure help, and the model against the naive forecasts."""
    multi = report.row("rnnkit GRU, temp + humid + pressure")
    alone = report.row("rnnkit GRU, temp only")
    lines = []
    for m in report.metrics:
        a, b = multi.median(m), alone.median(m)
        naive = min(report.row(n).median(m) for n in ("naive: last hour repeated",
                                                      "naive: same hour yesterday"))
        lines.append(f"{m}: temp + humid + pressure ({a:.4f}) {verdict(a, b)} temp only "
                     f"({b:.4f}) and {verdict(a, naive)} the better naive forecast "
                     f"({naive:.4f}).")
    return lines
