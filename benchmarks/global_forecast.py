"""One global RNN across related series against one Forecaster per series (issue 13, "many
series, one model"), medians of the test RMSE over seeds.

    .venv/bin/python benchmarks/global_forecast.py --data stocks     # measure, keep the JSON
    .venv/bin/python benchmarks/global_forecast.py --data weather
    .venv/bin/python benchmarks/global_forecast.py --data weather --steps-matched --seeds 0
    .venv/bin/python benchmarks/global_forecast.py --table           # benchmarks/global-forecast.md

Both sides use the same settings (the dataset's preset from ``dataset_preset``: cell, units,
window, differencing, scaler, lr, batch, patience, at most the same epochs), the same split
of every series (``GlobalConfig.forecast_config()`` is what the per-series Forecaster gets)
and are scored on the same one-step test targets, which the script checks.  The global model
is trained once on the pooled windows of every series, each series scaled by its own
training rows; "global + ids" also reads a learned vector per series (``id_embedding``).
Every fit runs on one thread, so seconds compare; the machine is shared, so they are rough.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

import rnnkit as rk
from rnnkit.data import fill_missing
from rnnkit.datasets.series import Series
from rnnkit.tasks import Forecaster
from rnnkit.tasks.forecast import dataset_preset
from rnnkit.tasks.global_forecast import GlobalConfig, GlobalForecaster
from rnnkit.tutorials import verdict

HERE = Path(__file__).parent
RESULTS = HERE.parent / "runs" / "global-forecast.json"       # the measurements, kept
TABLE = HERE / "global-forecast.md"
SEEDS = (0, 1, 2)
ID_EMBEDDING = 4
# dataset -> (loader option, the series' ids, the column forecast, how missing values are filled)
DATA = {"stocks": ("symbol", ("AAPL", "GOOG", "IBM", "MSFT"), "Adj Close", None),
        "weather": ("origin", ("EWR", "JFK", "LGA"), "temp", "ffill")}
VAL, TEST = 0.15, 0.15            # rnnkit forecast's split


def load_series(name: str) -> dict[str, Series]:
    option, ids, column, fill = DATA[name]
    out = {}
    for key in ids:
        s = rk.datasets.load(name, **{option: key}).select([column])
        values = s.values
        if fill:
            values, times, _ = fill_missing(values, fill, name=s.name, times=s.times)
            s = Series(s.name, times, values, s.columns)
        out[key] = s
    return out


def settings(name: str, epochs: int | None) -> tuple[GlobalConfig, dict]:
    p = dataset_preset(name)
    cfg = GlobalConfig(cell=p.cell, units=p.units, window=p.window, stride=p.stride,
                       difference=p.difference, scaler=p.scaler, lr=p.lr)
    fit = dict(epochs=epochs or p.epochs, batch_size=p.batch_size, patience=p.patience,
               val=VAL, test=TEST, verbose=0, threads=1)
    return cfg, fit


def measure(name: str, seeds: tuple[int, ...], epochs: int | None) -> dict:
    series = load_series(name)
    cfg, fit = settings(name, epochs)
    runs: dict[str, dict] = {"per-series": {}, "global": {}, "global + ids": {}}
    naive: dict[str, float] = {}
    for seed in seeds:
        per, seconds = {}, 0.0
        targets = {}
        for key, s in series.items():
            f = Forecaster(cfg.forecast_config())
            f.fit(s, seed=seed, **fit)
            seconds += f.fit_seconds
            r = f.evaluate("test")
            per[key] = {"rmse": r["rmse"], "epochs": len(f.history["loss"])}
            naive[key] = r["baseline_last_value"]["rmse"]
            targets[key] = f.origins_and_targets("test")
        runs["per-series"][seed] = {"series": per, "seconds": seconds}
        for label, k in (("global", 0), ("global + ids", ID_EMBEDDING)):
            g = GlobalForecaster(replace(cfg, id_embedding=k))
            g.fit(series, seed=seed, **fit)
            for key in series:                        # the very targets Forecaster scores
                o, y = g.origins_and_targets(key, "test")
                assert np.array_equal(o, targets[key][0]) and np.array_equal(y, targets[key][1])
            r = g.evaluate("test")
            runs[label][seed] = {"series": {key: {"rmse": v["rmse"]}
                                            for key, v in r["series"].items()},
                                 "epochs": len(g.history["loss"]), "seconds": g.fit_seconds,
                                 "rmse_scaled": r["overall"]["rmse_scaled"]}
        ratio = {lab: statistics.mean(v[seed]["series"][k]["rmse"] / naive[k] for k in series)
                 for lab, v in runs.items()}
        print(f"{name} seed {seed}: mean RMSE / naive " + ", ".join(
            f"{lab} {x:.4f}" for lab, x in ratio.items()), file=sys.stderr)
    return {"settings": {**asdict(cfg), "id_embedding (global + ids)": ID_EMBEDDING,
                         **{k: v for k, v in fit.items() if k != "verbose"}},
            "test_windows": {k: int(len(t[0])) for k, t in targets.items()},
            "seeds": list(seeds), "naive": naive, "runs": runs}


def steps_matched(name: str, seeds: tuple[int, ...]) -> dict:
    """Per-series Forecasters allowed as many epochs as there are series times the preset's:
    as many gradient steps as one global epoch budget (does the global model win by
    training longer?)."""
    series = load_series(name)
    cfg, fit = settings(name, None)
    fit["epochs"] *= len(series)
    out: dict = {"epochs": fit["epochs"], "seeds": list(seeds), "series": {}, "epochs_run": []}
    for key, s in series.items():
        for seed in seeds:
            f = Forecaster(cfg.forecast_config())
            f.fit(s, seed=seed, **fit)
            out["series"].setdefault(key, []).append(f.evaluate("test")["rmse"])
            out["epochs_run"].append(len(f.history["loss"]))
    return out


def _med(values: list[float]) -> str:
    return (f"{statistics.median(values):.5g} [{min(values):.5g}-{max(values):.5g}]"
            if len(values) > 1 else f"{values[0]:.5g}")


NOTES = [
    "Held equal on both sides: the preset's model, window, differencing, scaler, learning "
    "rate, batch and patience, at most the preset's epochs (an epoch of the global model "
    "passes over every series' windows, so it takes as many steps as all the per-series "
    "epochs together), the chronological 70/15/15 split of each series, and the one-step "
    "test targets (the script checks that they are the same arrays). Nothing was tuned: "
    "the settings are the per-series presets and `id_embedding=4` was fixed before "
    "measuring.",
    "",
    "- stocks: AAPL, GOOG, IBM and MSFT (FB, 196 days from 2012-05, is left out: its 29 "
    "test days would weigh as much as the others' hundreds), adjusted close, differenced; "
    "daily prices are close to a random walk, so every model is within 1 % of repeating "
    "yesterday's price.",
    "- weather: the three airports' hourly temperature alone (the per-series preset also "
    "reads humidity and pressure; here both sides read temperature only), missing hours "
    "carried forward.",
]


def table(results: dict) -> str:
    script = ".venv/bin/python benchmarks/global_forecast.py"
    commands = [f"{script} --data {name}" for name in results]
    commands += [f"{script} --data {name} --steps-matched --seeds "
                 + ",".join(map(str, r["steps_matched"]["seeds"]))
                 for name, r in results.items() if "steps_matched" in r]
    lines = ["# One global model against one model per series", "",
             "Made by these commands, in this order (the last writes this file):", "",
             "```", *commands, f"{script} --table", "```", "",
             "Test RMSE in original units, one step ahead, on the same targets for every "
             "system; median [min-max] over the seeds; **bold** = the lowest median of the "
             "row. Seconds are the fits' (all series for per-series), one thread each, on a "
             "2-core machine shared with other jobs: rough.", ""]
    tally: dict[str, dict[str, int]] = {}
    body: list[str] = []
    for name, r in results.items():
        body += _dataset(name, r, tally)
    lines.append("**The question: does one global model beat a model per series?** Counted "
                 "over every series below (median test RMSE, within 2 % a tie): " + "; ".join(
                     f"{lab}: beats per-series on {t['beats']}, ties on {t['ties with']}, "
                     f"loses on {t['loses to']}" for lab, t in tally.items()) + ".")
    lines += ["", *NOTES, ""]
    return "\n".join(lines + body)


def _dataset(name: str, r: dict, tally: dict[str, dict[str, int]]) -> list[str]:
    """The section of one dataset; counts each system's verdicts into ``tally``."""
    lines: list[str] = []
    labels = list(r["runs"])
    ids = list(r["naive"])
    lines += [f"## {name}", "", "Settings: " + ", ".join(f"{k}={v}" for k, v in
                                                         r["settings"].items()), "",
              "| series (test targets) | naive | " + " | ".join(labels) + " |",
              "|---|---|" + "---|" * len(labels)]
    wins = {lab: 0 for lab in labels}
    ratios = {lab: [] for lab in labels}
    for key in ids:
        meds = {lab: [r["runs"][lab][str(s)]["series"][key]["rmse"] for s in r["seeds"]]
                for lab in labels}
        best = min(labels, key=lambda lab: statistics.median(meds[lab]))
        wins[best] += 1
        for lab in labels:
            ratios[lab].append(statistics.median(meds[lab]) / r["naive"][key])
        cells = [("**" + _med(meds[lab]) + "**") if lab == best else _med(meds[lab])
                 for lab in labels]
        lines.append(f"| {key} ({r['test_windows'][key]}) | {r['naive'][key]:.5g} | "
                     + " | ".join(cells) + " |")
    secs = {}
    for lab in labels:
        v = [r["runs"][lab][str(s)]["seconds"] for s in r["seeds"]]
        secs[lab] = f"{statistics.median(v):.1f} [{min(v):.1f}-{max(v):.1f}]"
    lines.append("| fit seconds | - | " + " | ".join(secs[lab] for lab in labels) + " |")
    lines += ["", "Computed from the rows above (within 2 % is a tie, as rnnkit's "
              "tutorials judge):"]
    for lab in labels:
        lines.append(f"- {lab}: lowest median on {wins[lab]} of {len(ids)} series; mean of "
                     f"(median RMSE / naive RMSE) over the series "
                     f"{statistics.mean(ratios[lab]):.4f}")
    for lab in labels[1:]:
        said = [f"{key} {verdict(mine, theirs)} it ({100 * (mine / theirs - 1):+.1f} %)"
                for key, mine, theirs in zip(ids, ratios[lab], ratios[labels[0]])]
        lines.append(f"- {lab} against {labels[0]}: " + "; ".join(said))
        t = tally.setdefault(lab, {"beats": 0, "ties with": 0, "loses to": 0})
        for mine, theirs in zip(ratios[lab], ratios[labels[0]]):
            t[verdict(mine, theirs)] += 1
    cap = r["settings"]["epochs"]
    for lab in labels:
        runs = [r["runs"][lab][str(s)] for s in r["seeds"]]
        ran = [e for run in runs for e in ([run["epochs"]] if "epochs" in run else
                                           [v["epochs"] for v in run["series"].values()])]
        lines.append(f"- {lab}: {sum(e >= cap for e in ran)} of {len(ran)} fits ran to the "
                     f"{cap}-epoch cap (the others stopped early); epochs run "
                     f"{', '.join(map(str, ran))}")
    if "steps_matched" in r:
        m = r["steps_matched"]
        said = []
        for key, rmses in m["series"].items():
            glob = [r["runs"]["global"][str(s)]["series"][key]["rmse"] for s in m["seeds"]]
            per = [r["runs"]["per-series"][str(s)]["series"][key]["rmse"] for s in m["seeds"]]
            said.append(f"{key} {_med(rmses)} (at most {cap} epochs: {_med(per)}; global: "
                        f"{_med(glob)})")
        lines.append(f"- per-series with at most {m['epochs']} epochs (as many gradient steps "
                     f"as the global model may take), seeds {m['seeds']}: " + "; ".join(said)
                     + f"; epochs run {', '.join(map(str, m['epochs_run']))}"
                     + (f" ({m['wall_seconds']:.0f} s wall-clock)" if "wall_seconds" in m
                        else ""))
    if "wall_seconds" in r:
        lines.append(f"- the measurement took {r['wall_seconds']:.0f} s wall-clock")
    lines.append("")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", choices=sorted(DATA), help="measure this dataset's series")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--epochs", type=int, default=None, help="at most this many (default: "
                    "the preset's)")
    ap.add_argument("--steps-matched", action="store_true", help="with --data: only the "
                    "per-series Forecasters, at most (number of series) x the preset's epochs")
    ap.add_argument("--table", action="store_true", help=f"write {TABLE.name} from "
                    f"{RESULTS.name}")
    args = ap.parse_args()
    if args.data:
        seeds = tuple(int(s) for s in args.seeds.split(","))
        t0 = time.perf_counter()
        old = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        if args.steps_matched:
            if args.data not in old:
                raise SystemExit(f"measure --data {args.data} first")
            result = steps_matched(args.data, seeds)
            result["wall_seconds"] = time.perf_counter() - t0
            old[args.data]["steps_matched"] = result
        else:
            result = measure(args.data, seeds, args.epochs)
            result["wall_seconds"] = time.perf_counter() - t0
            old[args.data] = json.loads(json.dumps(result))          # seeds as JSON keys
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(old, indent=1) + "\n")
        print(f"{args.data}: {result['wall_seconds']:.0f} s; kept in {RESULTS}")
    if args.table:
        TABLE.write_text(table(json.loads(RESULTS.read_text())))
        print(TABLE.read_text())


if __name__ == "__main__":
    main()
