"""Coverage of the 80 % intervals of ``rnnkit forecast NAME --quantiles 0.1,0.5,0.9`` (strategy
auto) on the shipped series, at several seeds.

    .venv/bin/python benchmarks/forecast_intervals.py --out runs/forecast-intervals \
        --md benchmarks/forecast-intervals.md

Each run is the command line itself, in its own process:
``rnnkit forecast NAME --quantiles 0.1,0.5,0.9 --stats none --quiet --seed S --out DIR``;
the table is read back from each run's metrics.json: what auto chose, the test share of
targets inside the 80 % interval, how many test targets there were, and the mean pinball
loss.  The issue's target is 75-85 % on each series.  A run whose metrics.json exists is
read, not run again (delete the folder to rerun it).

``--unseen 0`` (seeds) adds, as a check of the rule, the seven CSV series of
``benchmarks/forecast_unseen.py`` (statsmodels' datasets, written to CSV files under --out;
none was read to build the interval rule), each run as ``rnnkit forecast FILE.csv --column
y --date-column date`` with the same options (co2 also ``--fill interpolate``).
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

SHIPPED = ["sunspots", "airline", "stocks", "weather", "sine"]
LEVELS = "0.1,0.5,0.9"


def _command(name: str, seed: int, out: Path, source: list[str] | None = None) -> list[str]:
    rnnkit = Path(sys.executable).with_name("rnnkit")
    return [str(rnnkit), "forecast", *(source or [name]), "--quantiles", LEVELS, "--stats",
            "none", "--quiet", "--seed", str(seed), "--out", str(out)]


def unseen_sources(root: Path) -> dict[str, list[str]]:
    """name -> the CLI's source arguments for each unseen series of forecast_unseen.py, its
    CSV written under ``root``."""
    sys.path.insert(0, str(Path(__file__).parent))
    from forecast_unseen import _unseen, write_csv
    return {name: [str(write_csv(root / f"{name}.csv", times, values)), "--column", "y",
                   "--date-column", "date", *extra]
            for name, (_, times, values, _, extra) in _unseen().items()}


def run(name: str, seed: int, root: Path, source: list[str] | None = None) -> dict:
    """One run's row: {"series", "seed", "kind", "coverage", "targets", "pinball", "rmse",
    "seconds", "intervals"} (read from metrics.json; the run is made when it is missing)."""
    out = root / f"{name}-seed{seed}"
    path = out / "metrics.json"
    seconds = None
    if not path.is_file():
        t0 = time.perf_counter()
        done = subprocess.run(_command(name, seed, out, source), capture_output=True,
                              text=True)
        seconds = time.perf_counter() - t0
        (root / f"{name}-seed{seed}.log").write_text(done.stdout + done.stderr)
        if done.returncode != 0:
            raise SystemExit(f"{name} seed {seed} failed ({done.returncode}):\n"
                             f"{done.stdout[-2000:]}{done.stderr[-2000:]}")
    m = json.loads(path.read_text())
    test = m["test"]
    return {"series": name, "seed": seed, "kind": m["auto"]["kind"],
            "coverage": test["coverage"]["80"],
            "alone": test.get("coverage_without_rolling", {}).get("80"),
            "targets": test["windows"] * m["horizon"], "pinball": test["pinball"],
            "rmse": test["rmse"], "seconds": seconds, "intervals": test["intervals"]}


def _pct(share: float | None) -> str:
    return "-" if share is None else f"{100 * share:.1f} %"


def table(rows: list[dict], command: str) -> str:
    lines = ["# 80 % prediction intervals of `rnnkit forecast --quantiles` (strategy auto)", "",
             "Made by:", "", "```", command, "```", "",
             "Each row is one run of `rnnkit forecast NAME --quantiles 0.1,0.5,0.9 --stats none "
             "--quiet --seed S`; the numbers are read from its metrics.json (test part).  "
             "*chosen*: the candidate auto kept on validation RMSE (rnn: the quantile RNN, its "
             "interval calibrated by split-conformal CQR; hybrid and mean: intervals from their "
             "own validation errors, `tasks/intervals.py`).  The test part is scored rolling: "
             "each origin's band from the last n errors (CQR scores) known there, the n "
             "validation ones first, then the test part's own as their targets are observed.  "
             "*validation alone*: the same forecasts with every origin's band from the "
             "validation errors alone (the rule before; metrics.json "
             "\"coverage_without_rolling\").  Target: 75-85 % on each series.",
             "", "| series | seed | chosen | test 80 % coverage | validation alone | test targets "
             "| mean pinball | test RMSE |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['series']} | {r['seed']} | {r['kind']} | {100 * r['coverage']:.1f} % "
                     f"| {_pct(r['alone'])} | {r['targets']} | {r['pinball']:.4g} "
                     f"| {r['rmse']:.4g} |")
    lines += ["", "Median over seeds:", "",
              "| series | seeds | chosen | test 80 % coverage (median) | range | validation "
              "alone (median) | test targets (one = how many points) | mean pinball (median) |",
              "|---|---|---|---|---|---|---|---|"]
    for name in dict.fromkeys(r["series"] for r in rows):
        own = [r for r in rows if r["series"] == name]
        cov = [100 * r["coverage"] for r in own]
        kinds = ", ".join(f"{k} x{sum(r['kind'] == k for r in own)}"
                          for k in dict.fromkeys(r["kind"] for r in own))
        alone = [r["alone"] for r in own if r["alone"] is not None]
        lines.append(f"| {name} | {len(own)} | {kinds} | {statistics.median(cov):.1f} % | "
                     f"{min(cov):.1f}-{max(cov):.1f} % | "
                     f"{_pct(statistics.median(alone) if alone else None)} | {own[0]['targets']} "
                     f"({100 / own[0]['targets']:.2g}) | "
                     f"{statistics.median(r['pinball'] for r in own):.4g} |")
    lines += ["", "How each chosen model's interval was made (metrics.json \"intervals\"):", ""]
    for r in rows:
        lines.append(f"- {r['series']} seed {r['seed']} ({r['kind']}): {r['intervals']}")
    return "\n".join(lines) + "\n"


def unseen_table(rows: list[dict]) -> str:
    inside = sum(0.75 <= r["coverage"] <= 0.85 for r in rows)
    lines = ["", "## Unseen CSV series, as a check of the rule", "",
             "The seven CSV series of `benchmarks/forecast-unseen.md` (statsmodels' datasets), "
             "none of them read to build the interval rule; each run as `rnnkit forecast "
             "FILE.csv --column y --date-column date` with the options above (co2 also "
             "`--fill interpolate`).", "",
             "| series | seed | chosen | test 80 % coverage | validation alone | test targets "
             "(one = how many points) | mean pinball |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['series']} | {r['seed']} | {r['kind']} | {100 * r['coverage']:.1f} % "
                     f"| {_pct(r['alone'])} | {r['targets']} ({100 / r['targets']:.2g}) "
                     f"| {r['pinball']:.4g} |")
    lines += ["", f"Inside 75-85 %: {inside} of {len(rows)} runs."]
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path("runs/forecast-intervals"),
                   help="folder for the runs (one subfolder each)")
    p.add_argument("--md", type=Path, default=Path("benchmarks/forecast-intervals.md"),
                   help="the table to write")
    p.add_argument("--series", default=",".join(SHIPPED), help="comma-separated names")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    p.add_argument("--unseen", default="", help="seeds for the unseen CSV series (a check)")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in args.series.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            r = run(name, seed, args.out)
            rows.append(r)
            took = f", {r['seconds']:.0f}s" if r["seconds"] is not None else " (read back)"
            print(f"{name} seed {seed}: {r['kind']}, 80 % covers {100 * r['coverage']:.1f} % of "
                  f"{r['targets']} test targets, pinball {r['pinball']:.4g}{took}", flush=True)
    extra = []
    if args.unseen:
        sources = unseen_sources(args.out)
        for name, source in sources.items():
            for seed in (int(s) for s in args.unseen.split(",")):
                r = run(name, seed, args.out, source)
                extra.append(r)
                print(f"{name} seed {seed}: {r['kind']}, 80 % covers {100 * r['coverage']:.1f} "
                      f"% of {r['targets']} test targets", flush=True)
    command = shlex.join([".venv/bin/python", "benchmarks/forecast_intervals.py", *sys.argv[1:]])
    args.md.write_text(table(rows, command) + (unseen_table(extra) if extra else ""))
    print(f"wrote {args.md}")


if __name__ == "__main__":
    main()
