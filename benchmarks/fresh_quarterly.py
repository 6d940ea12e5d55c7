"""A held-out check of the two changes made on `benchmarks/forecast-unseen.md`'s series:
earlier folds in auto's choice and the standard-scaled general preset for differenced series.

    .venv/bin/python benchmarks/fresh_quarterly.py --out runs/fresh-quarterly \
        --md benchmarks/fresh-quarterly.md

The other quarterly columns of statsmodels' US macro data (1959-2009; realgdp and unemp,
the two the changes were tried on, left out), never looked at before this run: each through
`rnnkit forecast FILE.csv --column y --date-column date --quiet --stats all --seed S` three
ways: the default (folds and the standard scaler), `--folds 0` (the standard scaler alone),
and `--folds 0 --scaler minmax` (the rule before both changes; for a series that is not
differenced the preset's scaler is min-max anyway).  Test RMSE over the best of AutoARIMA,
AutoETS and AutoTheta on the same targets; the target is 1.02 or less.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from forecast_unseen import STATS, _run_cli, _verdict, write_csv  # noqa: E402

COLUMNS = ("realcons", "realinv", "realgovt", "realdpi", "cpi", "m1", "tbilrate", "infl",
           "realint", "pop")
WAYS = {"default": [], "--folds 0": ["--folds", "0"],
        "--folds 0 --scaler minmax": ["--folds", "0", "--scaler", "minmax"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="runs/fresh-quarterly")
    parser.add_argument("--md", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", default=None, help="S=rows.json,... of runs at every seed "
                        "(--seed S --out DIR): only write --md from them, with the medians")
    args = parser.parse_args()
    if args.seeds:
        runs = {int(k): json.loads(Path(v).read_text()) for k, v in
                (item.split("=", 1) for item in args.seeds.split(","))}
        Path(args.md).write_text(markdown(runs[min(runs)], min(runs)) + _medians(runs))
        return
    import statsmodels.api as sm
    md = sm.datasets.macrodata.load_pandas().data
    quarters = [f"{int(y)}-{3 * (int(q) - 1) + 1:02d}" for y, q in zip(md["year"], md["quarter"])]
    out = Path(args.out)
    rows = []
    for col in COLUMNS:
        csv = write_csv(out / f"{col}.csv", quarters, md[col].to_numpy(dtype=np.float64))
        row = {"name": col}
        for way, extra in WAYS.items():
            run = out / f"{col}-{way.replace(' ', '').replace('--', '_')}"
            code, text, seconds = _run_cli(["forecast", str(csv), "--column", "y",
                                            "--date-column", "date", "--quiet", "--stats",
                                            "all", "--seed", str(args.seed), *extra,
                                            "--out", str(run)])
            if code != 0:
                print(f"{col} {way}: exit {code}\n{text[-1500:]}")
                continue
            m = json.loads((run / "metrics.json").read_text())
            stats = {n: m["test"]["stats"][n]["rmse"] for n in STATS
                     if "rmse" in m["test"]["stats"].get(n, {})}
            row[way] = {"ratio": m["test"]["rmse"] / min(stats.values()),
                        "kind": m["auto"]["kind"], "seconds": seconds}
            print(f"{col} {way}: {row[way]['ratio']:.3f} ({row[way]['kind']}), "
                  f"{seconds:.0f} s", flush=True)
        rows.append(row)
        (out / "rows.json").write_text(json.dumps(rows, indent=1))
    if args.md:
        Path(args.md).write_text(markdown(rows, args.seed))


def _medians(runs: dict[int, list[dict]]) -> str:
    """Every seed's ratio per way, the median, and the counts."""
    seeds = sorted(runs)
    by = {s: {r["name"]: r for r in rows} for s, rows in runs.items()}
    head = "| series | " + " | ".join(f"{w}: seeds {', '.join(map(str, seeds))} (median)"
                                      for w in WAYS) + " |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    med: dict[str, list[float]] = {w: [] for w in WAYS}
    for name in (r["name"] for r in runs[seeds[0]]):
        cells = []
        for w in WAYS:
            got = [by[s][name][w]["ratio"] for s in seeds if w in by[s].get(name, {})]
            med[w].append(float(np.median(got)))
            cells.append("/".join(f"{g:.3f}" for g in got) + f" ({med[w][-1]:.3f})")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    counts = "; ".join(f"{w}: " + ", ".join(
        f"seed {s} {sum(r[w]['ratio'] <= 1.02 for r in runs[s] if w in r)}" for s in seeds)
        + f", median {sum(m <= 1.02 for m in med[w])} of {len(med[w])}" for w in WAYS)
    return ("\n## Every seed\n\nThe same runs at each seed (`--seed S --out DIR`, then "
            "`--seeds S=DIR/rows.json,...` to write this file).\n\n" + "\n".join(lines)
            + f"\n\nWithin 2 % or better: {counts}.\n")


def _gmean(values: list[float]) -> float:
    return float(np.exp(np.mean(np.log(values))))


def markdown(rows: list[dict], seed: int) -> str:
    head = "| series | " + " | ".join(WAYS) + " |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        lines.append(f"| {r['name']} | " + " | ".join(
            f"{r[w]['ratio']:.3f} ({r[w]['kind']})" if w in r else "-" for w in WAYS) + " |")
    counts = ", ".join(f"{w}: {sum(r[w]['ratio'] <= 1.02 for r in rows if w in r)} of "
                       f"{sum(w in r for r in rows)}" for w in WAYS)
    gm = ", ".join(f"{w}: {_gmean([r[w]['ratio'] for r in rows if w in r]):.3f}"
                   for w in WAYS)
    worst = ", ".join(f"{w}: {max(r[w]['ratio'] for r in rows if w in r):.3f}" for w in WAYS)
    return ("# A held-out check: fresh quarterly series\n\n"
            f"Made by `.venv/bin/python benchmarks/fresh_quarterly.py --out runs/fresh-quarterly"
            f" --md benchmarks/fresh-quarterly.md --seed {seed}`.\n\n"
            + __doc__.split("\n\n", 2)[2].strip() + "\n\n"
            "Each cell: auto's test RMSE over the best statistical model's (what auto chose)."
            "\n\n" + "\n".join(lines) + "\n\n"
            f"Within 2 % or better: {counts}.\n\nGeometric mean of the ratio: {gm}. Worst: "
            f"{worst}.\n\nVerdicts of the default: " + ", ".join(
                f"{r['name']} {_verdict(r['default']['ratio'])}" for r in rows
                if "default" in r) + ".\n")


if __name__ == "__main__":
    main()
