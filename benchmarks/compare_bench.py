"""Compare two ``rnnkit bench --json`` files row by row: before and after a change.

    python benchmarks/compare_bench.py BEFORE.json AFTER.json [--markdown]

Each row is one (size, cell, system): ms per training step in each file, and the ratio
to torch.nn *measured in the same run*, which cancels most of the machine's drift between
the two runs.  ``after/before`` compares those ratios (above 1: the change made the row
faster relative to torch.nn).  System names before 0.2 (``rnnkit native``, ``rnnkit fused``,
``rnnkit compiled step``) are read as today's.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

OLD_NAMES = {"rnnkit auto": "rnnkit engine=auto", "rnnkit native": "rnnkit engine=torch",
             "rnnkit fused": "rnnkit engine=rnnkit", "rnnkit loop": "rnnkit engine=loop",
             "rnnkit compiled step": "rnnkit step=cpp"}


def rows(path: Path) -> dict[tuple[str, str, str], dict]:
    data = json.loads(path.read_text())
    if "results" not in data:
        raise SystemExit(f"{path} is not a `rnnkit bench --json` file (no 'results')")
    return {(r["config"], r["cell"], OLD_NAMES.get(r["system"], r["system"])): r
            for r in data["results"]}


def compare(before: Path, after: Path) -> list[tuple]:
    a, b = rows(before), rows(after)
    out = []
    for key in sorted(a.keys() & b.keys()):
        if key[2] == "torch.nn":
            continue
        ra, rb = a[key], b[key]
        out.append((*key, ra["ms"], rb["ms"], ra["vs_torch"], rb["vs_torch"],
                    rb["vs_torch"] / ra["vs_torch"]))
    return out


def main(argv: list[str]) -> None:
    args = [a for a in argv if not a.startswith("--")]
    if len(args) != 2:
        raise SystemExit(__doc__)
    table = compare(Path(args[0]), Path(args[1]))
    head = ("size", "cell", "system", "ms before", "ms after", "x torch before",
            "x torch after", "after/before")
    text = [(c, cell, s, f"{ma:.2f}", f"{mb:.2f}", f"{va:.2f}", f"{vb:.2f}", f"{r:.2f}")
            for c, cell, s, ma, mb, va, vb, r in table]
    if "--markdown" in argv:
        print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
        for row in text:
            print("| " + " | ".join(row) + " |")
    else:
        widths = [max(len(r[i]) for r in [head, *text]) for i in range(len(head))]
        for row in [head, *text]:
            print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
    worst = min(table, key=lambda r: r[-1])
    print(f"\n{len(table)} rows; median after/before "
          f"{sorted(r[-1] for r in table)[len(table) // 2]:.2f}; lowest {worst[-1]:.2f} "
          f"({worst[0]} {worst[1]} {worst[2]})")


if __name__ == "__main__":
    main(sys.argv[1:])
