"""The 2 % target applied to statsforecast alone: had a user picked, among AutoARIMA,
AutoETS and AutoTheta, the one best on validation (as auto picks the statistical member of
its combination), how far would its test RMSE be from the best of the three on test?

    .venv/bin/python benchmarks/stat_choice.py \
        --runs runs/unseen-final-s0,runs/fresh-pat-s0 --md benchmarks/stat-choice.md

Reads the `rnnkit forecast` runs the other two benchmarks leave (`forecast_unseen.py
--out DIR`, `fresh_quarterly.py --out DIR`; their default runs): each folder with a
metrics.json and model/auto.json.  The pick is auto's own (auto.json's "validation"
record of the combined: the relative RMSE over the validation part and the earlier folds,
or the validation RMSE where there are none); the test RMSEs are the --stats table's, fitted
before the first test origin and updated with each value.  Nothing is fitted here.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

STATS = ("AutoARIMA", "AutoETS", "AutoTheta")


def rows(folders: list[Path]) -> list[dict]:
    out = []
    for top in folders:
        for run in sorted(p for p in top.iterdir() if (p / "metrics.json").exists()):
            if "-" in run.name and not run.name.endswith("-default"):
                continue                     # fresh_quarterly's other ways
            m = json.loads((run / "metrics.json").read_text())
            auto = json.loads((run / "model" / "auto.json").read_text())
            combined = auto["validation"].get("combined", {})
            scores = combined.get("stats_relative") or {
                n: v for n, v in combined.get("stats_rmse", {}).items() if isinstance(v, float)}
            test = {n: m["test"]["stats"][n]["rmse"] for n in STATS
                    if "rmse" in m["test"]["stats"].get(n, {})}
            scores = {n: v for n, v in scores.items() if n in test}
            if not scores:
                continue
            pick = min(scores, key=scores.get)
            best = min(test.values())
            out.append({"series": run.name.removesuffix("-default"), "pick": pick,
                        "best": min(test, key=test.get), "stat_ratio": test[pick] / best,
                        "rnnkit_ratio": m["test"]["rmse"] / best, "chose": auto["kind"]})
    return out


def markdown(found: list[dict], command: str) -> str:
    lines = ["# The 2 % target applied to a statistical model chosen on validation", "",
             f"Made by `{command}` (see its docstring). \"picked\": the one of AutoARIMA, "
             "AutoETS and AutoTheta best over the validation part (and earlier folds) in "
             "the `rnnkit forecast` run, as auto chooses its combination's member; "
             "\"best on test\": the one with the lowest test RMSE. Both ratios divide by "
             "the best on test; the target is 1.02 or less.", "",
             "| series | picked on validation | best on test | picked / best | "
             "rnnkit auto (chose) / best |", "|---|---|---|---|---|"]
    for r in found:
        lines.append(f"| {r['series']} | {r['pick']} | {r['best']} | {r['stat_ratio']:.3f} | "
                     f"{r['rnnkit_ratio']:.3f} ({r['chose']}) |")
    n = len(found)
    stat = sum(r["stat_ratio"] <= 1.02 for r in found)
    ours = sum(r["rnnkit_ratio"] <= 1.02 for r in found)
    lines += ["", f"Within 2 % of the best on test: the statistical model picked on validation "
              f"{stat} of {n}, rnnkit's default {ours} of {n}."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", required=True, help="comma-separated run folders")
    parser.add_argument("--md", default=None)
    args = parser.parse_args()
    folders = [Path(p) for p in args.runs.split(",")]
    missing = [str(p) for p in folders if not p.is_dir()]
    if missing:
        raise SystemExit(f"no run folder {', '.join(missing)}: make it with "
                         "benchmarks/forecast_unseen.py or fresh_quarterly.py --out DIR")
    command = (".venv/bin/python benchmarks/stat_choice.py --runs " + args.runs
               + (f" --md {args.md}" if args.md else ""))
    text = markdown(rows(folders), command)
    print(text)
    if args.md:
        Path(args.md).write_text(text)


if __name__ == "__main__":
    main()
