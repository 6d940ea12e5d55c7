"""bf16 against fp32 after the same number of steps, on three tasks (issue 16's quality table).

    python benchmarks/bf16_quality.py [--md benchmarks/bf16-quality.md]

Each task trains twice with the same seed, data and epochs (no early stopping, so both see
the same number of steps): once with ``precision="fp32"``, once with ``precision="bf16"``
forced (``"auto"`` would keep these sizes in fp32).  Reported: the task's own quality figure
and the relative difference.
- digits: ``rnnkit classify digits``'s settings (GRU(64), lr 3e-3), 20 epochs, test accuracy.
- sunspots: the recommended Forecaster preset (GRU(32), window 24), 30 epochs, test RMSE.
- shakespeare: a GRU(256) character model, embedding 64, on the first 300,000 characters,
  5 epochs, held-out nats per character (the last 10 %).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

import rnnkit as rk
from rnnkit import datasets
from rnnkit.tasks import Forecaster, SequenceClassifier, TextGenerator
from rnnkit.tasks.forecast import dataset_preset


def digits(precision: str) -> float:
    d = datasets.load("digits")
    train, test = d.split(0.2, seed=0)
    clf = SequenceClassifier(cell="gru", units=64, lr=3e-3)
    clf.fit(train.x, train.y, epochs=20, patience=None, seed=0, verbose=0, precision=precision)
    return clf.evaluate(test.x, test.y)["accuracy"]


def sunspots(precision: str) -> float:
    p = dataset_preset("sunspots")
    f = Forecaster(cell=p.cell, units=p.units, window=p.window, stride=p.stride, lr=p.lr,
                   scaler=p.scaler, difference=p.difference)
    f.fit(datasets.load("sunspots"), epochs=30, batch_size=p.batch_size, patience=None,
          seed=0, verbose=0, precision=precision)
    return f.evaluate()["rmse"]


def shakespeare(precision: str) -> float:
    text = str(datasets.load("shakespeare").text)[:300_000]
    gen = TextGenerator(cell="gru", units=256, embedding=64)
    hist = gen.fit(text, epochs=5, held_out=0.1, seed=0, verbose=0, patience=None,
                   precision=precision)
    return hist["val_loss"][-1]


TASKS = {"digits (test accuracy, higher is better)": digits,
         "sunspots recommended (test RMSE)": sunspots,
         "shakespeare GRU(256) (held-out nats/char)": shakespeare}


def main(argv: list[str]) -> None:
    rows = []
    for name, fn in TASKS.items():
        got = {}
        for p in ("fp32", "bf16"):
            t0 = time.perf_counter()
            got[p] = (float(fn(p)), time.perf_counter() - t0)
            print(f"{name}: {p} {got[p][0]:.4f} ({got[p][1]:.0f} s)", flush=True)
        rows.append((name, got))
    lines = ["| task (same seed, data and steps) | fp32 | bf16 | bf16 / fp32 - 1 | fit s fp32 "
             "/ bf16 |", "|---|---|---|---|---|"]
    for name, got in rows:
        (a, ta), (b, tb) = got["fp32"], got["bf16"]
        lines.append(f"| {name} | {a:.4f} | {b:.4f} | {100 * (b / a - 1):+.2f} % | "
                     f"{ta:.0f} / {tb:.0f} |")
    table = "\n".join(lines)
    print(table)
    if "--md" in argv:
        out = Path(argv[argv.index("--md") + 1])
        out.write_text("# bf16 against fp32: quality after the same steps\n\nMade by `python "
                       f"benchmarks/bf16_quality.py --md {out}` (rnnkit {rk.__version__}).\n"
                       "See the script's docstring for the settings. bf16 is forced (`auto` "
                       "keeps these sizes in fp32, where bf16 does not pay on this CPU), so the "
                       "seconds show its cost at small sizes.\n\n" + table + "\n")
        (out.with_suffix(".json")).write_text(json.dumps(
            {n: {p: v for p, v in g.items()} for n, g in rows}, indent=1))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main(sys.argv[1:])
