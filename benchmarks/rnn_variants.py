"""Can the validation part tell which RNN will forecast the test part best?  The general
preset's RNN (what `rnnkit forecast FILE.csv` fits as its "rnn" candidate) beside a few
plausible variants of it, on the short quarterly series where the default still misses
(`forecast-unseen.md`: unemp; `fresh-quarterly.md`: realinv) and on a few where it does not.

    .venv/bin/python benchmarks/rnn_variants.py --md benchmarks/rnn-variants.md

Each variant is fitted at seeds 0-2 exactly as the preset fits (early stopping on the
validation part), one thread; validation and test RMSE in original units, one-step, means
over the seeds.  Two more rows use the preset unchanged: "refit" fits it again on the
training and validation rows, for as many epochs as the first fit's best (nothing left to
stop on), and "ensemble of 5" averages the forecasts of seeds 0-4.  Nothing here is used by
rnnkit: it measures whether a validation-only rule could have found a better default.

A second table asks the same of the statistical model alone, on the series where the
default misses: auto (as `rnnkit forecast` builds it, seed 0) is fitted, and the RMSE of
the statistical model it averaged is divided by the combined's on the validation part and
on each earlier fold; were "the statistical model alone" a candidate, a geometric mean
above 1 would leave the combined chosen.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from forecast_unseen import _unseen, write_csv  # noqa: E402

SERIES = ("unemp", "realinv", "realgdp", "cpi", "tbilrate", "realdpi", "nile", "elec_equip")
MISSES = ("unemp", "realinv", "cpi")
SEEDS = (0, 1, 2)
VARIANTS = {"preset": {}, "min-max scaler": {"scaler": "minmax"}, "window 4": {"window": 4},
            "window 12": {"window": 12}, "GRU(8)": {"units": 8}}


def _data(names: tuple[str, ...], folder: Path) -> dict[str, Path]:
    """name -> a date,y CSV, from statsmodels' datasets as the other benchmarks take them."""
    import statsmodels.api as sm
    unseen = _unseen()
    md = sm.datasets.macrodata.load_pandas().data
    quarters = [f"{int(y)}-{3 * (int(q) - 1) + 1:02d}" for y, q in zip(md["year"], md["quarter"])]
    out = {}
    for name in names:
        if name in unseen:
            _, times, values, _, _ = unseen[name]
        else:
            times, values = quarters, md[name].to_numpy(dtype=np.float64)
        out[name] = write_csv(folder / f"{name}.csv", times, values)
    return out


def _setup(path: Path):
    """The CSV as `rnnkit forecast FILE.csv` reads it: (series, general preset, the
    ForecastConfig options of its rnn candidate), torch on one thread."""
    import torch

    from rnnkit.cli.forecast import _season, load_series
    from rnnkit.tasks.forecast import general_preset
    torch.set_num_threads(1)
    series, *_ = load_series(str(path), "y", None, "date", "", "", "error")
    season, _ = _season(str(path), None, series, "date")
    p = general_preset(series.values, season)
    return series, p, dict(cell=p.cell, units=p.units, window=p.window, horizon=1,
                           strategy="direct", stride=p.stride, scaler=p.scaler, lr=p.lr,
                           difference=p.difference, season=season)


def _one_step(f, part: str) -> tuple[np.ndarray, np.ndarray]:
    """A fitted Forecaster's one-step forecasts and targets on a part, original units."""
    from rnnkit.tasks.forecast_auto import _predictions
    _, pred, true = _predictions(f, part)
    return pred, true


def measure(path: Path) -> dict[str, tuple[float, float]]:
    """variant -> (validation RMSE, test RMSE), means over the seeds."""
    from rnnkit.tasks.forecast import Forecaster, rmse
    series, p, base = _setup(path)
    out, fitted = {}, []
    for name, change in VARIANTS.items():
        scores = []
        for seed in SEEDS:
            f = Forecaster(**{**base, **change})
            hist = f.fit(series, epochs=p.epochs, patience=p.patience, seed=seed, verbose=0)
            scores.append((rmse(*_one_step(f, "val")), rmse(*_one_step(f, "test"))))
            if not change:
                fitted.append((f, int(np.argmin(hist.history["val_loss"])) + 1))
        out[name] = tuple(np.mean(scores, axis=0))
    refit = []
    for (f, best), seed in zip(fitted, SEEDS):
        g = Forecaster(**base)
        g.fit(series, epochs=best, val=0.0, test=0.15, patience=None, seed=seed, verbose=0)
        refit.append(rmse(*_one_step(g, "test")))
    out["refit on train + validation"] = (float("nan"), float(np.mean(refit)))
    members = [f for f, _ in fitted]
    for seed in range(len(SEEDS), 5):
        f = Forecaster(**base)
        f.fit(series, epochs=p.epochs, patience=p.patience, seed=seed, verbose=0)
        members.append(f)
    out["ensemble of 5 seeds"] = tuple(
        rmse(np.mean([_one_step(f, part)[0] for f in members], axis=0),
             _one_step(members[0], part)[1]) for part in ("val", "test"))
    stats = fitted[0][0].evaluate("test", stats="all")["stats"]
    out["best statistical model"] = (float("nan"), min(
        v["rmse"] for v in stats.values() if isinstance(v, dict) and "rmse" in v))
    return out


def stat_alone(path: Path) -> dict[str, object]:
    """auto's choice on the CSV at seed 0, and its statistical model's RMSE over the
    combined's on the validation part and each earlier fold."""
    from rnnkit.tasks.forecast import ForecastConfig, rmse
    from rnnkit.tasks.forecast_auto import AutoForecaster
    from rnnkit.tasks.hybrid import hybrid_preset
    series, p, base = _setup(path)
    hybrid = hybrid_preset("general", season=base["season"], window=p.window, horizon=1,
                           rows=len(series.values), val=0.15, test=0.15)
    auto = AutoForecaster(ForecastConfig(**base), hybrid)
    auto.fit(series, epochs=p.epochs, batch_size=p.batch_size, patience=p.patience, seed=0,
             verbose=0)
    v = auto.validation["combined"]
    model, kind = v["model"], v["base"]
    ratios = [v["stats_rmse"][model] / v["rmse"]] + [
        rmse(fold["stats"][model], fold["true"])
        / rmse((fold["preds"][kind] + fold["stats"][model]) / 2, fold["true"])
        for fold in auto._earlier]
    return {"chose": auto.kind, "combined": f"{kind}+{model}", "ratios": ratios,
            "geometric": float(np.exp(np.mean(np.log(ratios))))}


def stat_table(rows: dict[str, dict]) -> str:
    lines = ["", "## The statistical model alone, where the default misses", "",
             "auto at seed 0 (as `rnnkit forecast FILE.csv` fits it); the RMSE of the "
             "statistical model in its combined over the combined's, on the validation part "
             "and on each earlier fold, and their geometric mean (above 1: the combined is "
             "better over the parts auto reads).", "",
             "| series | auto chose | combined | validation | fold 1 | fold 2 | fold 3 | "
             "geometric mean |", "|---|---|---|---|---|---|---|---|"]
    for name, r in rows.items():
        cells = [f"{x:.3f}" for x in r["ratios"]] + ["-"] * (4 - len(r["ratios"]))
        lines.append(f"| {name} | {r['chose']} | {r['combined']} | " + " | ".join(cells)
                     + f" | {r['geometric']:.3f} |")
    return "\n".join(lines) + "\n"


def markdown(results: dict[str, dict[str, tuple[float, float]]]) -> str:
    names = list(next(iter(results.values())))
    lines = ["# Can the validation part pick a better RNN? Variants of the general preset", "",
             "Made by `.venv/bin/python benchmarks/rnn_variants.py --md "
             "benchmarks/rnn-variants.md` (see its docstring). Validation / test RMSE, "
             "original units, one-step, means over seeds 0-2 (the ensemble: one forecast, "
             "the mean of seeds 0-4). Bold: the lowest validation and the lowest test "
             "RMSE of the row (the statistical models left out); \"best statistical model\": the "
             "lowest test RMSE of AutoARIMA, AutoETS and AutoTheta on the same targets.", "",
             "| series | " + " | ".join(names) + " |",
             "|---|" + "---|" * len(names)]
    for series, row in results.items():
        vals = {n: v for n, (v, _) in row.items() if not np.isnan(v)}
        tests = {n: t for n, (_, t) in row.items() if n != "best statistical model"}
        best_v, best_t = min(vals, key=vals.get), min(tests, key=tests.get)
        cells = []
        for n in names:
            v, t = row[n]
            vs = "-" if np.isnan(v) else f"{v:.4g}"
            ts = f"{t:.4g}"
            cells.append(f"{'**' + vs + '**' if n == best_v else vs} / "
                         f"{'**' + ts + '**' if n == best_t else ts}")
        lines.append(f"| {series} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="runs/rnn-variants")
    parser.add_argument("--md", default=None)
    parser.add_argument("--only", default=None, help="comma-separated series names")
    args = parser.parse_args()
    names = tuple(args.only.split(",")) if args.only else SERIES
    results = {}
    for name, path in _data(names, Path(args.out)).items():
        t0 = time.perf_counter()
        results[name] = measure(path)
        print(name, {k: tuple(round(x, 4) for x in v) for k, v in results[name].items()},
              f"{time.perf_counter() - t0:.0f} s", flush=True)
    text = markdown(results)
    misses = [n for n in MISSES if n in names]
    if misses:
        paths = _data(tuple(misses), Path(args.out))
        text += stat_table({n: stat_alone(paths[n]) for n in misses})
    print(text)
    if args.md:
        Path(args.md).write_text(text)


if __name__ == "__main__":
    main()
