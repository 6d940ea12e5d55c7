"""Fit time of the ES-RNN hybrid (rnnkit.tasks.hybrid) as ``rnnkit forecast`` configures it.

    .venv/bin/python benchmarks/hybrid_speed.py --profile co2 --epochs 3      # cProfile
    .venv/bin/python benchmarks/hybrid_speed.py --compare co2,elnino,elec_equip \
        --old /tmp/hyb/hybrid_old.py --runs 2                                 # old vs new

Each series gets the hybrid that ``rnnkit forecast`` fits beside its RNN (``--strategy
auto``): the "general" preset for an unseen CSV (window from ``general_preset``: 2 seasons,
season from the dates' frequency) or the shipped series' own (airline), and ``split_rows``
"changes" when the RNN preset differences, as ``AutoForecaster`` does.  The unseen series
come with statsmodels: co2 (weekly, gaps interpolated as ``--fill interpolate``), elnino
(monthly; the rows are years, flattened), elec_equip (monthly).

``--compare`` times the current ``HybridForecaster`` against another copy of hybrid.py
(``--old FILE``, imported as a module of ``rnnkit.tasks``), alternating old, new, old,
new in one process (one torch thread unless --threads), and prints each run's fit seconds,
validation and test RMSE, and the median seconds per version.  ``--batches`` fits the
current hybrid at other batch sizes over a few seeds.

Measured 2026-11-29 on the 2-core machine, shared with other jobs (medians of 2 alternating
runs; old = hybrid.py before the NumPy smoothing and the one-thread fit, seed 0; the
validation and test RMSE are the same digits before and after, weights within 2e-13):

    --threads 1          co2 15.36 -> 9.18 s (1.67x), elnino 9.33 -> 3.44 s (2.71x),
                         elec_equip 2.80 -> 1.56 s (1.80x)
    --threads 2 (torch's default, load 3-5)
                         co2 187.9 -> 11.8 s (16x), elnino 78.6 -> 4.7 s (17x),
                         elec_equip 46.1 -> 2.6 s (18x)
    val / test RMSE      co2 0.432783 / 0.435374 (30 epochs), elnino 0.474527 / 0.509588
                         (56), elec_equip 2.48333 / 1.40287 (100)

``--batches`` (seeds 0, 1, 2; median val / test RMSE, seconds): a larger batch is not
kept.  Batch 128 needs more epochs on co2 (11.2 s either way; 0.4331 / 0.4221 against
0.4353 / 0.4342), and loses on elec_equip (2.587 / 1.516 against 2.483 / 1.384) and airline
(13.93 / 18.90 against 13.31 / 18.40); elnino gains a little (0.4687 / 0.5018 against
0.4745 / 0.5096).
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.util
import pstats
import statistics
import sys
import time
from dataclasses import replace

import numpy as np
import torch

import rnnkit as rk
from rnnkit.data.tables import fill_missing
from rnnkit.tasks import hybrid as new_hybrid
from rnnkit.tasks.forecast import dataset_preset, general_preset

SEASONS = {"co2": 52, "elnino": 12, "elec_equip": 12, "airline": 12}


def load(name: str) -> np.ndarray:
    """The series' values (N,), float64."""
    if name == "airline":
        return np.asarray(rk.datasets.load("airline").values, dtype=np.float64).reshape(-1)
    import statsmodels.api as sm
    if name == "co2":
        co2 = sm.datasets.co2.load_pandas().data["co2"].to_numpy()
        return fill_missing(co2, "interpolate", "co2")[0].astype(np.float64)
    if name == "elnino":
        el = sm.datasets.elnino.load_pandas().data
        return el[el.columns[1:]].to_numpy().ravel().astype(np.float64)
    if name == "elec_equip":
        from statsmodels.datasets import elec_equip
        return elec_equip.load().data.iloc[:, 0].to_numpy().astype(np.float64)
    raise ValueError(f"unknown series {name!r}")


def preset(name: str, y: np.ndarray, module=new_hybrid):
    """The HybridPreset ``rnnkit forecast`` fits for this series (horizon 1, 70/15/15)."""
    season = SEASONS[name]
    rnn = dataset_preset(name, 1) if name == "airline" else general_preset(y, season, 1)
    p = module.hybrid_preset(name if name == "airline" else "general", season=season,
                             window=rnn.window, horizon=1, rows=len(y))
    return replace(p, config=replace(p.config, split_rows="changes" if rnn.difference
                                     else "levels"))


def fit(module, name: str, y: np.ndarray, epochs: int | None = None, seed: int = 0,
        batch_size: int | None = None):
    p = preset(name, y, module)
    h = module.HybridForecaster(p.config)
    t0 = time.perf_counter()
    h.fit(y, epochs=epochs or p.epochs, batch_size=batch_size or p.batch_size,
          patience=p.patience, seed=seed, verbose=0)
    seconds = time.perf_counter() - t0
    return h, seconds


def import_copy(path: str):
    """Another hybrid.py, imported as rnnkit.tasks._hybrid_copy (its relative imports work)."""
    spec = importlib.util.spec_from_file_location("rnnkit.tasks._hybrid_copy", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module                 # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def compare(names: list[str], old_path: str, runs: int, epochs: int | None) -> None:
    old = import_copy(old_path)
    for name in names:
        y = load(name)
        p = preset(name, y)
        print(f"{name}: {len(y)} rows, {p.describe()}; split_rows {p.config.split_rows}",
              flush=True)
        seconds: dict[str, list[float]] = {"old": [], "new": []}
        for module in (old, new_hybrid):
            fit(module, name, y, 1)                      # warm-up (C++ kernels, imports)
        fitted = {}
        for _ in range(runs):
            for tag, module in (("old", old), ("new", new_hybrid)):
                h, s = fit(module, name, y, epochs)
                seconds[tag].append(s)
                val, test = h.evaluate("val")["rmse"], h.evaluate("test")["rmse"]
                print(f"  {tag}: {s:8.2f} s, {len(h.history['loss'])} epochs, val RMSE "
                      f"{val:.6g}, test RMSE {test:.6g}", flush=True)
                fitted[tag] = h
        a, b = fitted["old"], fitted["new"]
        diff = max(float((p - q).detach().abs().max()) for p, q in zip(
            [*a.model.parameters(), *a.smoothing.parameters()],
            [*b.model.parameters(), *b.smoothing.parameters()]))
        mo, mn = statistics.median(seconds["old"]), statistics.median(seconds["new"])
        print(f"  median: old {mo:.2f} s, new {mn:.2f} s ({mo / mn:.2f}x); largest weight "
              f"difference of the last pair {diff:.3g}", flush=True)


def batches(names: list[str], sizes: list[int], seeds: list[int],
            epochs: int | None) -> None:
    """The current hybrid at other batch sizes: seconds, validation and test RMSE per seed."""
    for name in names:
        y = load(name)
        fit(new_hybrid, name, y, 1)                          # warm-up
        print(f"{name}: {len(y)} rows, {preset(name, y).describe()}", flush=True)
        for size in sizes:
            rows = []
            for seed in seeds:
                h, s = fit(new_hybrid, name, y, epochs, seed, size)
                rows.append((s, h.evaluate("val")["rmse"], h.evaluate("test")["rmse"]))
                print(f"  batch {size:4d} seed {seed}: {s:7.2f} s, {len(h.history['loss'])} "
                      f"epochs, val RMSE {rows[-1][1]:.5g}, test RMSE {rows[-1][2]:.5g}",
                      flush=True)
            med = [statistics.median(r[i] for r in rows) for i in range(3)]
            print(f"  batch {size:4d} median: {med[0]:.2f} s, val RMSE {med[1]:.5g}, test RMSE "
                  f"{med[2]:.5g}", flush=True)


def profile(name: str, epochs: int, top: int) -> None:
    y = load(name)
    p = preset(name, y)
    print(f"{name}: {len(y)} rows, {p.describe()}; split_rows {p.config.split_rows}")
    fit(new_hybrid, name, y, 1)                          # warm-up (C++ kernels, imports)
    prof = cProfile.Profile()
    prof.enable()
    h, s = fit(new_hybrid, name, y, epochs)
    prof.disable()
    engine = h.model.layers[0].engine_choice
    print(f"{epochs} epochs: {s:.2f} s; RNN engine {engine.kind} ({engine.reason})")
    pstats.Stats(prof).sort_stats("tottime").print_stats(top)
    pstats.Stats(prof).sort_stats("cumulative").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", metavar="SERIES")
    parser.add_argument("--compare", metavar="SERIES,...")
    parser.add_argument("--old", metavar="FILE", help="the hybrid.py to compare against")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=None, help="default: the preset's")
    parser.add_argument("--batches", metavar="SERIES,...", help="the current hybrid at "
                        "--sizes batch sizes over --seeds")
    parser.add_argument("--sizes", default="32,64,128")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.profile:
        profile(args.profile, args.epochs or 3, args.top)
    if args.compare:
        if not args.old:
            parser.error("--compare needs --old FILE")
        compare(args.compare.split(","), args.old, args.runs, args.epochs)
    if args.batches:
        batches(args.batches.split(","), [int(v) for v in args.sizes.split(",")],
                [int(v) for v in args.seeds.split(",")], args.epochs)


if __name__ == "__main__":
    main()
