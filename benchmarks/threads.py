"""One epoch of training on 1 and 2 threads, quiet and beside a busy process.

Where ``rnnkit.training.threads.ONE_THREAD_MAX_MACS`` comes from: each model (a GRU +
Dense(10) classifier on the shipped 8x8 digits, read one row per step, as
``rnnkit classify digits`` trains it) is fitted with ``fit(threads=n)`` for each thread
count, first on a quiet machine and then beside CPU-bound competitors (``python -c
"while True: pass"`` subprocesses this script starts and kills).  Seconds per epoch are
the median over epochs after the first (which builds and warms up) and over repetitions,
interleaved so that drift hits every cell of the table alike.

    python benchmarks/threads.py                    # the full table, a few minutes
    python benchmarks/threads.py --quick            # two models, a few samples: a smoke run

It prints the table, the crossover under each load, and the threshold to put in
``src/rnnkit/training/threads.py``.  Run it on an otherwise idle machine: the "quiet" rows
are only quiet if nothing else runs.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import subprocess
import sys
import time

import torch

import rnnkit as rk
from rnnkit.training.losses import SparseCategoricalCrossentropy
from rnnkit.training.threads import ONE_THREAD_MAX_MACS, work_per_step

# (cell, units, batch): the digits classifier is GRU(64) at batch 32; GRU(32) at batch 32
# trains through the compiled step; GRU(256) at batch 64 is the big-GEMM side
MODELS = [("gru", 32, 32), ("gru", 64, 32), ("gru", 128, 32), ("gru", 128, 64),
          ("gru", 256, 64)]
QUICK_MODELS = [("gru", 64, 32), ("gru", 256, 64)]
LAYERS = {"gru": rk.GRU, "lstm": rk.LSTM, "simple": rk.SimpleRNN}
SLOWER_QUIET_OK = 1.10   # one thread may cost this much on a quiet machine, see suggest()


class EpochTimes(rk.Callback):
    def __init__(self):
        self.seconds: list[float] = []

    def on_epoch_begin(self, trainer, epoch):
        self.t0 = time.perf_counter()

    def on_epoch_end(self, trainer, epoch, logs):
        self.seconds.append(time.perf_counter() - self.t0)


def data(samples: int):
    d = rk.datasets.load("digits")
    train, _ = d.split(0.2, seed=0)
    x = torch.as_tensor(train.x[:samples], dtype=torch.float32)
    return x, torch.as_tensor(train.y[:samples], dtype=torch.long)


def make(cell: str, units: int) -> rk.Sequential:
    return rk.Sequential([LAYERS[cell](units), rk.Dense(10)])


def epoch_seconds(spec, threads: int, x, y, epochs: int) -> tuple[list[float], str, int]:
    cell, units, batch = spec
    model = make(cell, units)
    timer = EpochTimes()
    model.fit(x, y, epochs=epochs, batch_size=batch, loss=SparseCategoricalCrossentropy(
        from_logits=True), lr=3e-3, seed=0, verbose=0, threads=threads, callbacks=[timer])
    macs = work_per_step(model) * min(batch, len(x))
    return timer.seconds[1:] or timer.seconds, model._trainer.step_note.split(" ")[0], macs


def competitors(n: int) -> list[subprocess.Popen]:
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    time.sleep(0.5 if n else 0)        # let them reach the scheduler
    return procs


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.kill()
    for p in procs:
        p.wait()


def measure(models, thread_counts, loads, x, y, epochs: int, reps: int) -> list[dict]:
    rows = {}
    for load in loads:
        procs = competitors(load)
        try:
            for _ in range(reps):
                for spec in models:
                    for n in thread_counts:
                        secs, step, macs = epoch_seconds(spec, n, x, y, epochs)
                        row = rows.setdefault((spec, load, n), {
                            "cell": spec[0], "units": spec[1], "batch": spec[2], "load": load,
                            "threads": n, "step": step, "macs": macs, "seconds": []})
                        row["seconds"] += secs
        finally:
            stop(procs)
    for row in rows.values():
        row["median_s"] = statistics.median(row["seconds"])
    return list(rows.values())


def table(rows: list[dict], thread_counts) -> str:
    lo, hi = min(thread_counts), max(thread_counts)
    by = {(r["cell"], r["units"], r["batch"], r["load"], r["threads"]): r for r in rows}
    head = ("model", "step", "multiply-adds/step", "busy procs",
            *(f"{n} thr s/epoch" for n in thread_counts), f"{hi} thr speed-up")
    out = []
    for key in sorted({k[:4] for k in by}, key=lambda k: (k[3], by[(*k, lo)]["macs"])):
        r = {n: by[(*key, n)] for n in thread_counts}
        out.append((f"{key[0].upper()}({key[1]}) batch {key[2]}", r[lo]["step"],
                    f"{r[lo]['macs']:,}", str(key[3]),
                    *(f"{r[n]['median_s']:.3f}" for n in thread_counts),
                    f"{r[lo]['median_s'] / r[hi]['median_s']:.2f}x"))
    widths = [max(len(x[i]) for x in [head, *out]) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
                     for r in [head, *out])


def ratios(rows: list[dict], thread_counts) -> dict[int, list[tuple[int, float]]]:
    """Per load: (multiply-adds, time on most threads / time on one) sorted by size."""
    lo, hi = min(thread_counts), max(thread_counts)
    by = {(r["cell"], r["units"], r["batch"], r["load"], r["threads"]): r for r in rows}
    out: dict[int, list[tuple[int, float]]] = {}
    for key in {k[:4] for k in by}:
        one, many = by[(*key, lo)], by[(*key, hi)]
        out.setdefault(key[3], []).append((one["macs"], many["median_s"] / one["median_s"]))
    return {load: sorted(v) for load, v in out.items()}


def crossover(points: list[tuple[int, float]]) -> str:
    one = [m for m, r in points if r > 1]         # many threads slower: one thread wins
    many = [m for m, r in points if r <= 1]
    if not many:
        return f"one thread faster at every size measured (up to {max(one):,})"
    if not one:
        return f"more threads faster at every size measured (from {min(many):,})"
    return (f"one thread faster up to {max(one):,}, more threads from {min(many):,}"
            + ("" if max(one) < min(many) else " (interleaved: noisy or no clean crossover)"))


def suggest(per_load: dict[int, list[tuple[int, float]]]) -> int | None:
    """The largest size up to which one thread wins under every load with competitors and
    costs at most SLOWER_QUIET_OK on a quiet machine, rounded between it and the next
    size measured (geometric mean): one thread gives up little when the machine is idle
    and avoids the spin-wait collapse when it is not."""
    sizes = sorted({m for pts in per_load.values() for m, _ in pts})
    ok_upto = None
    for m in sizes:
        fine = True
        for load, pts in per_load.items():
            r = dict(pts).get(m)
            if r is None:
                continue
            fine &= r > 1 if load else r * SLOWER_QUIET_OK >= 1
        if not fine:
            break
        ok_upto = m
    if ok_upto is None:
        return None
    bigger = [m for m in sizes if m > ok_upto]
    return int(math.sqrt(ok_upto * bigger[0])) if bigger else ok_upto


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="two models, 128 samples, 2 epochs")
    ap.add_argument("--threads", default="1,2", help="thread counts to compare (default 1,2)")
    ap.add_argument("--busy", default="0,1", help="competing busy processes per load")
    ap.add_argument("--epochs", type=int, default=4, help="epochs per fit (the first is "
                    "not timed)")
    ap.add_argument("--reps", type=int, default=2, help="fits per cell of the table")
    ap.add_argument("--samples", type=int, default=None,
                    help="training samples (default: all 1,438)")
    ap.add_argument("--json", default=None, help="also write the rows here")
    a = ap.parse_args(argv)
    thread_counts = [int(t) for t in a.threads.split(",")]
    loads = [int(b) for b in a.busy.split(",")]
    models = QUICK_MODELS if a.quick else MODELS
    epochs, reps = (2, 1) if a.quick else (a.epochs, a.reps)
    x, y = data(a.samples or (128 if a.quick else 10**9))
    print(f"{platform.machine()}, {torch.get_num_threads()} torch threads by default, "
          f"torch {torch.__version__}; {len(x)} samples, {epochs} epochs x {reps} reps")
    rows = measure(models, thread_counts, loads, x, y, epochs, reps)
    print(table(rows, thread_counts))
    per_load = ratios(rows, thread_counts)
    for load, pts in sorted(per_load.items()):
        print(f"{load} busy: {crossover(pts)} multiply-adds per batch and time step")
    s = suggest(per_load)
    print(f"suggested ONE_THREAD_MAX_MACS = {s:,}" if s is not None else
          "suggested ONE_THREAD_MAX_MACS: none (one thread never wins here)",
          f"(now {ONE_THREAD_MAX_MACS:,})")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"command": " ".join(sys.argv), "rows": rows, "suggested": s}, f,
                      indent=1)


if __name__ == "__main__":
    main()
