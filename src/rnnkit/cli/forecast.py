"""``rnnkit forecast``: train a Forecaster on a shipped dataset or any CSV, report, save.

Every setting left out comes from a preset, printed on the first lines: a shipped series
gets the README's recommended settings for it, a CSV (and the generated sine) a general
preset sized by its season.  ``--strategy auto`` (the default) also fits the ES-RNN hybrid
(``tasks.hybrid.hybrid_preset``) and keeps whichever forecasts the validation part better
(``tasks.forecast_auto.AutoForecaster``); the output says which, why, and every
candidate's validation score.  When statsforecast is installed, auto also tries the mean of
its choice and the statistical model (AutoARIMA, AutoETS, AutoTheta) best on validation, kept
only when more than 1 % better there (``--no-combine-stats`` to leave it out).  A validation
part of fewer than 100 targets is a noisy ranking, so then the choice also reads three
earlier folds, every candidate refitted on the rows before each (``--folds``).  The season
comes from --season, the dataset, or the CSV's dates.  The text, metrics.json and
forecast.png show the same forecast after the data: the same number of steps, at the same
time labels.

When statsforecast is installed (``pip install 'rnnkit[stats]'``) the test table also scores
AutoARIMA, AutoETS, AutoTheta, Naive and SeasonalNaive on exactly the model's targets and
origins (``--stats``); ``--backtest N`` adds a rolling-origin evaluation at N origins and
``--quantiles`` trains quantile forecasts with 80 % intervals.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from .. import datasets
from ..data.tables import FILL_POLICIES, fill_missing, read_csv_series
from ..tasks import stats_baselines
from ..tasks.forecast import SEASON_RULE, dataset_preset, general_preset, infer_season
from ..tasks.hybrid import hybrid_preset
from .options import (
    DryRun,
    Epochs,
    LogDir,
    Out,
    Precision,
    Quick,
    Quiet,
    Seed,
    Threads,
    out_folder,
    plan,
    verbose_level,
)

DEFAULT_COLUMN = {"stocks": "Adj Close", "weather": "temp"}
DEFAULT_OUT = Path("runs/forecast")
SEASON_WHY = {"sunspots": "the ~11-year solar cycle, in months", "airline": "monthly data",
              "weather": "hourly data", "stocks": "trading days have no fixed season",
              "sine": "a generated wave"}
QUICK_ROWS, QUICK_UNITS, QUICK_EPOCHS = 500, 8, 2
OVERRIDES = "--cell/--units/--window"   # what the preset line names; every option overrides
STRATEGIES = ("auto", "direct", "recursive", "seq2seq")


def _split(text: str | None) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()] if text else []


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def load_series(source: str, column: str | None, features: str | None, date_column: str | None,
                symbol: str, origin: str, fill: str, keep: int | None = None):
    """The Series to forecast (targets first, then the other features), its number of
    targets, a note on gaps, and its rows before ``keep`` (the last rows kept, --quick).
    The note counts the gaps in the rows kept."""
    targets = _split(column)
    if source in datasets.SERIES:
        options = {"stocks": {"symbol": symbol}, "weather": {"origin": origin}}.get(source, {})
        series = datasets.load(source, **options)
        targets = targets or [DEFAULT_COLUMN.get(source, series.columns[0])]
    else:
        if not Path(source).is_file():
            raise ValueError(f"{source!r} is neither a series dataset "
                             f"({', '.join(datasets.SERIES)}) nor a CSV file")
        if not targets:
            raise ValueError("a CSV needs --column NAME (the values to forecast)")
        series = read_csv_series(source, targets + [f for f in _split(features)
                                                    if f not in targets], date_column)
    names = targets + [f for f in _split(features) if f not in targets]
    series = series.select(names)
    values, times, filled = fill_missing(series.values, fill, series.name, series.times,
                                         series.columns)
    rows = len(values)
    if keep is not None and keep < rows:
        values, times = values[-keep:], times[-keep:]
        if filled:                       # count the gaps of the rows kept, not the series'
            raw = np.asarray(series.values, dtype=np.float64)
            gaps = np.isnan(raw if raw.ndim == 2 else raw[:, None])
            if fill == "drop":           # rows dropped after the first row kept
                first = np.flatnonzero(~gaps.any(1))[-keep]
                filled = int(gaps[first:].any(1).sum())
            else:
                filled = int(gaps[-keep:].sum())
    note = (f"{filled} missing value{'s' if filled != 1 else ''} handled by --fill {fill}"
            if filled else "")
    return type(series)(series.name, times, values, series.columns), len(targets), note, rows


def _stats_choice(stats: str | None, quick: bool) -> tuple[object, str]:
    """What --stats asks ``evaluate`` for, and the line that says so."""
    if stats is None:                       # the default: whatever is installed
        if not stats_baselines.available():
            return False, ("statistical baselines: none (statsforecast is not installed: "
                           f"{stats_baselines.INSTALL})")
        stats = "fast" if quick else "all"
    which = stats_baselines.resolve_models(stats)
    if not which:
        return False, "statistical baselines: none (--stats none)"
    if not stats_baselines.available():
        raise ValueError(f"--stats {stats} needs statsforecast: {stats_baselines.INSTALL}")
    skipped = [m for m in stats_baselines.MODELS if m not in which]
    return stats, (f"statistical baselines: {', '.join(which)} (statsforecast, on the same "
                   "targets; fitted once before the first, updated with each new value)"
                   + (f"; not {', '.join(skipped)} (--stats all)" if stats == "fast" else ""))


def _parse_quantiles(text: str | None) -> tuple[float, ...] | None:
    if not text:
        return None
    try:
        return tuple(float(t) for t in _split(text))
    except ValueError:
        raise ValueError(f"--quantiles must be comma-separated levels such as 0.1,0.5,0.9; "
                         f"got {text!r}") from None


def _season(source: str, season: int | None, series, date_column: str | None
            ) -> tuple[int | None, str]:
    """The season and the line that says where it came from."""
    if season is not None:
        return season, f"season {season} (--season)"
    if source in datasets.SERIES:
        value = datasets.info(source).SEASON
        why = SEASON_WHY.get(source, "")
        if value is None:
            return None, (f"season: none (the {source} dataset's: {why}; no seasonal-naive "
                          "baseline; --season N to set one)")
        return value, f"season {value} (the {source} dataset's: {why}; --season to override)"
    if date_column is None:
        return None, ("season: none (no --date-column to infer it from; no seasonal-naive "
                      "baseline; --season N to set one)")
    value, why = infer_season(series.times)
    if value is None:
        return None, f"season: none ({why}; no seasonal-naive baseline; --season N to set one)"
    return value, f"season {value} ({why}; --season to override)"


def _print_table(m: dict, model: str, seconds: float) -> None:
    """The model, the naive baselines and the statistical models on the same targets."""
    typer.echo(f"{'':28s}{'RMSE':>12s}{'MAE':>12s}{'MAPE %':>10s}{'RMSE scaled':>13s}"
               f"{'seconds':>9s}")
    rows = [(model, m, seconds)] + [
        (k.replace("baseline_", "naive: ").replace("_", " "), v, None)
        for k, v in m.items() if k.startswith("baseline_")]
    found = m.get("stats", {})
    rows += [(f"stats: {name}", r, r.get("seconds")) for name, r in found.items()
             if not name.startswith("_") and "rmse" in r]
    for name, r, secs in rows:
        scaled = f"{r['rmse_scaled']:13.4f}" if "rmse_scaled" in r else f"{'-':>13s}"
        took = f"{secs:9.1f}" if secs is not None else f"{'-':>9s}"
        typer.echo(f"{name:28s}{r['rmse']:12.4g}{r['mae']:12.4g}{r['mape']:10.2f}{scaled}"
                   f"{took}")
    notes: dict[str, list[str]] = {}            # the same note once, for every model it fits
    for name, r in found.items():
        if name.startswith("_"):
            continue
        if "rmse" not in r:
            why = r.get("skipped") or r.get("error")
            note = f"{'skipped' if 'skipped' in r else 'failed'}: {why}"
        else:
            note = r.get("note", "")
        if note:
            notes.setdefault(note, []).append(name)
    for note, names in notes.items():
        typer.echo(f"(stats: {', '.join(names)}: {note})")
    if "_note" in found:
        typer.echo(f"(stats: {found['_note']})")


def _print_choice(auto, tag: str) -> None:
    """What --strategy auto chose and why, and every candidate's validation score."""
    typer.echo(f"\nauto chose {auto.choice.kind}{tag}: {auto.choice.reason}")
    typer.echo(f"{'candidate':12s}{'val RMSE':>12s}{'val MAE':>12s}{'fit s':>8s}  settings")
    for name, v in auto.validation.items():
        if "skipped" in v:
            typer.echo(f"{name:12s}{'-':>12s}{'-':>12s}{'-':>8s}  not fitted: {v['skipped']}")
        else:
            typer.echo(f"{name:12s}{v['rmse']:12.4g}{v['mae']:12.4g}{v['fit_seconds']:8.1f}  "
                       f"{v['settings']}")
    combined = auto.validation.get("combined", {})
    if "verdict" in combined:
        scored = ", ".join(f"{n} {r:.4g}" if isinstance(r, float) else f"{n} skipped"
                           for n, r in combined["stats_rmse"].items())
        rel = combined.get("stats_relative")
        chosen = (f"{combined['model']}, the lowest relative RMSE over the validation part "
                  "and the folds (" + ", ".join(f"{n} {r:.3f}" for n, r in rel.items())
                  + "), is averaged" if rel else f"the lowest, {combined['model']}, is averaged")
        typer.echo(f"combined {combined['verdict']} (validation RMSE of the statistical "
                   f"models alone: {scored}; {chosen})")
    span = auto.record()["validation_part"]
    if span.get("folds"):
        typer.echo("earlier folds the choice also read (each: every candidate fitted again on "
                   "the rows before it): " + "; ".join(
                       f"{f['label']} {f['from']} to {f['to']} ({f['targets']} targets)"
                       for f in span["folds"]))
    if span.get("folds_note"):
        typer.echo(f"(earlier folds: {span['folds_note']})")


def _print_backtest(bt: dict, tag: str) -> None:
    how = "a model refitted at each origin" if bt["refit"] else "one model, not refitted"
    typer.echo(f"\nbacktest{tag}: {bt['origins']} origins over the {bt['part']} part, {how}")
    stats = [n for n in bt["folds"][0].get("stats_rmse", {}) if n not in ("Naive",)]
    covers = list(bt["overall"].get("coverage", {}))      # the central intervals, "80", ...
    typer.echo(f"{'origin':>20s}  {'targets':<34s}{'windows':>8s}{'RMSE':>12s}{'MAE':>12s}"
               f"{'naive RMSE':>12s}" + "".join(f"  {c + ' % cover':>11s}" for c in covers)
               + "".join(f"  {n + ' RMSE':>{len(n) + 5}s}" for n in stats))
    for fold in bt["folds"]:
        span = f"{fold['from']} to {fold['to']}"
        typer.echo(f"{fold['origin']:>20s}  {span:<34s}{fold['windows']:8d}{fold['rmse']:12.4g}"
                   f"{fold['mae']:12.4g}{fold['naive_rmse']:12.4g}"
                   + "".join(f"  {100 * fold['coverage'][c]:9.1f} %" if "coverage" in fold
                             else f"  {'-':>11s}" for c in covers)
                   + "".join(f"  {fold['stats_rmse'][n]:{len(n) + 5}.4g}" for n in stats))
    if stats:
        typer.echo("(statistical models per origin: their forecasts above, on the same "
                   "windows; fitted once and updated, never refitted)")
    if covers:
        typer.echo("(interval coverage per origin: " + (
            "each refitted model's bands, calibrated on its own validation part)"
            if bt["refit"] else "the part's bands, rolled through it as evaluate scores "
            "them)"))
    o = bt["overall"]
    typer.echo(f"overall: RMSE {o['rmse']:.4g}, MAE {o['mae']:.4g}; RMSE per origin "
               f"{o['rmse_mean']:.4g} +- {o['rmse_sd']:.2g} (from {o['rmse_min']:.4g} to "
               f"{o['rmse_max']:.4g})"
               + "".join(f"; {c} % interval covers {100 * o['coverage'][c]:.1f} %"
                         for c in covers))


def forecast(
    source: Annotated[str, typer.Argument(help="a dataset (sunspots, airline, stocks, weather, "
                                          "sine) or a CSV file")],
    column: Annotated[str | None, typer.Option(help="column(s) to forecast, comma-separated")]
    = None,
    features: Annotated[str | None, typer.Option(help="extra input columns, comma-separated "
                                                 "(default: the preset's)")] = None,
    date_column: Annotated[str | None, typer.Option(help="CSV column with the time labels "
                                                    "(ISO dates give the season)")] = None,
    symbol: Annotated[str, typer.Option(help="stocks: AAPL, GOOG, IBM, MSFT or FB")] = "MSFT",
    origin: Annotated[str, typer.Option(help="weather: EWR, JFK or LGA")] = "JFK",
    fill: Annotated[str | None, typer.Option(
        help=f"missing values: {', '.join(FILL_POLICIES)} (default: the preset's, else "
        "error)")] = None,
    cell: Annotated[str | None, typer.Option(help="simple | lstm | gru (default: the "
                                             "preset's)")] = None,
    units: Annotated[int | None, typer.Option(min=1, help="hidden units (default: the "
                                              "preset's)")] = None,
    layers: Annotated[int, typer.Option(min=1)] = 1,
    window: Annotated[int | None, typer.Option(min=1, help="input steps per sample (default: "
                                               "the preset's)")] = None,
    horizon: Annotated[int, typer.Option(min=1, help="steps predicted per sample")] = 1,
    strategy: Annotated[str, typer.Option(
        help="auto | direct | recursive | seq2seq. auto (the default) fits the preset's RNN "
        "and the ES-RNN hybrid (and the RNN recursive at --horizon 2 or more), tries the mean "
        "of the RNN's and the hybrid's forecasts, and keeps the "
        "one with the lowest validation RMSE (with fewer than 100 validation targets, also "
        "over earlier folds: --folds); the output says which and why")] = "auto",
    combine_stats: Annotated[bool | None, typer.Option(
        "--combine-stats/--no-combine-stats", help="with --strategy auto: also try the mean of "
        "its choice and the best on validation of AutoARIMA, AutoETS and AutoTheta, kept only "
        "when its validation RMSE is more than 1 % lower (default: when statsforecast is "
        "installed; --combine-stats requires it). Independent of --stats, which only adds "
        "rows to the test table: --stats none still combines")] = None,
    folds: Annotated[str, typer.Option(
        help="with --strategy auto: earlier folds the choice also reads, each with every "
        "candidate fitted again on the rows before it: auto (3 when the validation part has "
        "fewer than 100 targets, else 0) or 0 to 10")] = "auto",
    stride: Annotated[int | None, typer.Option(min=1, help="step between training windows")]
    = None,
    scaler: Annotated[str | None, typer.Option(help="minmax | standard | none (default: the "
                                               "preset's)")] = None,
    difference: Annotated[bool | None, typer.Option(
        "--difference/--no-difference", help="model step-to-step changes, for trending "
        "series (default: the preset's; for a CSV, when a line through the training rows "
        "moves more than the spread around it)")] = None,
    dropout: Annotated[float, typer.Option(min=0.0, max=0.99)] = 0.0,
    bidirectional: Annotated[bool, typer.Option("--bidirectional/--no-bidirectional")] = False,
    season: Annotated[int | None, typer.Option(
        min=1, metavar="N", help="period in steps of the seasonal-naive baseline (and of a "
        "CSV preset's window). Default: a shipped dataset's own; for a CSV, inferred from "
        f"--date-column's frequency: {SEASON_RULE}. The output says which and why.")] = None,
    epochs: Epochs = None,
    batch_size: Annotated[int | None, typer.Option(min=1, help="(default: the preset's)")]
    = None,
    patience: Annotated[int | None, typer.Option(min=0, help="early-stopping patience, 0 = "
                                                 "off (default: the preset's)")] = None,
    lr: Annotated[float | None, typer.Option(min=0.0, help="Adam learning rate (default: the "
                                             "preset's)")] = None,
    val: Annotated[float, typer.Option(min=0.0, max=0.9, help="validation fraction (end of "
                                       "series)")] = 0.15,
    test: Annotated[float, typer.Option(min=0.0, max=0.9, help="test fraction (end of "
                                        "series)")] = 0.15,
    future: Annotated[int | None, typer.Option(
        min=1, help="steps to forecast after the data: printed, in metrics.json and drawn "
        "(default: the preset's; the horizon when --features are given)")] = None,
    stats: Annotated[str | None, typer.Option(
        metavar="WHICH", help="statistical baselines on the same test targets: all, fast "
        "(all but AutoARIMA, the slow one), none, or names from "
        f"{', '.join(stats_baselines.MODELS)} (comma-separated). Default: all when "
        "statsforecast is installed "
        "(fast with --quick); a seasonal AutoARIMA on a long history is skipped unless "
        "named. Auto's combined candidate is set by --combine-stats, not by this.")] = None,
    backtest: Annotated[int | None, typer.Option(
        min=1, metavar="N", help="rolling-origin evaluation of the test part at N origins, "
        "per origin and overall")] = None,
    refit: Annotated[bool, typer.Option(
        "--refit/--no-refit", help="with --backtest: fit a new model at each origin on the "
        "rows before it (slower), instead of the one model")] = False,
    quantiles: Annotated[str | None, typer.Option(
        metavar="LEVELS", help="train quantile forecasts (pinball loss), e.g. 0.1,0.5,0.9 "
        "(must hold 0.5, the point forecast): reports interval coverage and pinball loss, "
        "draws the interval; calibrated on the validation part (with --strategy auto, a "
        "chosen hybrid, mean or combined takes its intervals from its validation errors); "
        "the test part is scored rolling (each origin from the last errors known there) and "
        "the band after the data from the last validation and test errors")] = None,
    seed: Seed = 0,
    out: Out = None,
    quick: Quick = False,
    dry_run: DryRun = False,
    threads: Threads = None,
    precision: Precision = "fp32",
    quiet: Quiet = False,
    logdir: LogDir = None,
) -> None:
    """Train an RNN forecaster, print its test metrics beside naive baselines and the
    forecast after the data, and write metrics.json, forecast.png, training.png and the
    model to --out (default runs/forecast).

    Settings not given come from a preset: the README's recommended ones for a shipped
    series, a general one for a CSV; the first lines say which, and why.  By default
    (--strategy auto) the RNN and an ES-RNN hybrid are both fitted and the one with the
    lower validation RMSE is kept; the test part is never read to choose."""
    from ..tasks import Forecaster
    from ..tasks.forecast_auto import FOLD_TARGETS, FOLDS, TIE, AutoForecaster, replace_folder
    if strategy not in STRATEGIES:
        raise ValueError(f"--strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
    auto = strategy == "auto"
    if fill is not None and fill not in FILL_POLICIES:
        raise ValueError(f"--fill must be one of {', '.join(FILL_POLICIES)}, got {fill!r}")
    if val == 0 and test == 0:
        raise ValueError("--val 0 and --test 0 hold nothing out to measure the forecaster on; "
                         "give --test (or --val) a fraction such as 0.15")
    if val + test >= 1:
        raise ValueError(f"--val {val:g} + --test {test:g} leave no rows for training; "
                         "their sum must be below 1")
    if refit and backtest is None:
        raise ValueError("--refit applies to --backtest N; give --backtest too")
    if combine_stats and not auto:
        raise ValueError(f"--combine-stats applies to --strategy auto, not --strategy "
                         f"{strategy}")
    if folds != "auto" and not (folds.isdigit() and 0 <= int(folds) <= 10):
        raise ValueError(f"--folds must be auto or an int from 0 to 10, got {folds!r}")
    if folds != "auto" and not auto:
        raise ValueError(f"--folds applies to --strategy auto, not --strategy {strategy}")
    if combine_stats and not stats_baselines.available():
        raise ValueError(f"--combine-stats needs statsforecast: {stats_baselines.INSTALL}")
    if auto and val == 0:
        raise ValueError("--strategy auto chooses on the validation part, and --val 0 leaves "
                         "none; give --val a fraction such as 0.15, or --strategy direct")
    levels = _parse_quantiles(quantiles)
    stats_which, stats_line = _stats_choice(stats, quick)
    out = out if out is not None else DEFAULT_OUT
    out_folder(out)
    preset = dataset_preset(source, horizon) if source in datasets.SERIES else None
    changed = []
    if preset is not None and preset.features:
        if features is None:
            features = ",".join(preset.features)
        elif tuple(_split(features)) != preset.features:
            changed.append(f"--features {features or 'none'}")
    if fill is None:
        fill = preset.fill if preset is not None and preset.fill else "error"
    elif preset is not None and preset.fill and fill != preset.fill:
        changed.append(f"--fill {fill}")
    keep = (max(QUICK_ROWS, 10 * ((window or (preset.window if preset else 24)) + horizon))
            if quick else None)
    series, n_targets, note, rows = load_series(source, column, features, date_column, symbol,
                                                origin, fill, keep)
    season, season_line = _season(source, season, series, date_column)
    if preset is None:
        preset = general_preset(series.values[:, 0] if series.values.ndim == 2
                                else series.values, season, horizon, val, test,
                                name="general" if source not in datasets.SERIES else source)
    given = {"cell": cell, "units": units, "window": window, "stride": stride,
             "difference": difference, "scaler": scaler, "lr": lr, "epochs": epochs,
             "batch_size": batch_size, "patience": patience}
    for k, v in given.items():
        if v is not None and v != getattr(preset, k):
            flag = k.replace("_", "-")
            changed.append(f"--{flag}" if v is True else f"--no-{flag}" if v is False
                           else f"--{flag} {v}")
    s = {k: getattr(preset, k) if v is None else v for k, v in given.items()}
    if quick:                            # what --quick changed, listed as any option is
        kept = len(series.values)
        smaller = [f"the last {kept} of {rows} rows"] if kept < rows else []
        if s["units"] > QUICK_UNITS:
            s["units"] = QUICK_UNITS
            smaller.append(f"{s['cell'].upper()}({QUICK_UNITS})")
        if s["epochs"] > QUICK_EPOCHS:
            s["epochs"] = QUICK_EPOCHS
            smaller.append(f"at most {_plural(QUICK_EPOCHS, 'epoch')}")
        if smaller:
            changed.append(f"--quick: {', '.join(smaller)}")
    has_features = len(series.columns) > n_targets
    steps = future or (horizon if has_features else max(horizon, preset.future))
    if steps > horizon and has_features:
        raise ValueError(f"--future {steps} is more than --horizon {horizon}, which feeds "
                         "forecasts back as inputs: every input column must then be forecast, "
                         f"but --features adds {', '.join(series.columns[n_targets:])}; use "
                         f"--future {horizon} or a larger --horizon")
    f = Forecaster(cell=s["cell"], units=s["units"], layers=layers, window=s["window"],
                   horizon=horizon, strategy="direct" if auto else strategy, stride=s["stride"],
                   scaler=None if s["scaler"] == "none" else s["scaler"], dropout=dropout,
                   bidirectional=bidirectional, targets=series.columns[:n_targets],
                   season=season, lr=s["lr"], difference=s["difference"], quantiles=levels)
    parts = f.check(series, val=val, test=test)
    hybrid = None
    if auto:
        hybrid = hybrid_preset(source if source in datasets.SERIES else "general",
                               season=season, window=s["window"], horizon=horizon,
                               rows=len(series.values), val=val, test=test)
        if quick and hybrid.config.units > QUICK_UNITS:
            hybrid = replace(hybrid, config=replace(hybrid.config, units=QUICK_UNITS))
        if (quick or epochs is not None) and s["epochs"] < hybrid.epochs:   # --epochs caps both
            hybrid = replace(hybrid, epochs=s["epochs"])
    goal = ", ".join(series.columns[:n_targets])
    tag = " (quick)" if quick else ""
    preset_line = (f"preset: {preset.name} ({preset.describe()}); "
                   + (f"changed: {', '.join(changed)}" if changed
                      else f"override with {OVERRIDES}"))
    model = (f"{s['cell'].upper()}({s['units']}) x{layers}, window {s['window']}, stride "
             f"{s['stride']}, {'direct' if auto else strategy}"
             + (", differenced" if s["difference"] else "")
             + f", scaler {s['scaler'] or 'none'}, lr {s['lr']:g}")
    left_out = "several targets" if n_targets > 1 else None
    both = horizon > 1 and not has_features and not levels     # recursive differs from direct
    if combine_stats is False:
        combine = "no statistical combination (--no-combine-stats)"
    elif not stats_baselines.available():
        combine = "no statistical combination (statsforecast not installed: " \
            f"{stats_baselines.INSTALL})"
    elif n_targets > 1:
        combine = "no statistical combination (several targets)"
    else:
        combine = ("then tries the mean of that choice and the best on validation of "
                   f"AutoARIMA, AutoETS, AutoTheta (kept if more than {100 * TIE:g} % lower; "
                   "--no-combine-stats to skip)")
    fold_rule = (f"with fewer than {FOLD_TARGETS} validation targets, over {FOLDS} earlier "
                 "folds too"
                 if folds == "auto" else f"over {folds} earlier folds too" if int(folds)
                 else "on the validation part alone")
    auto_line = (f"strategy auto: fits the RNN{' (direct and recursive)' if both else ''}"
                 + (f" (the ES-RNN hybrid is left out: {left_out} need the RNN)" if left_out
                    else f" and the ES-RNN hybrid ({hybrid.describe()}; "
                    f"{'; '.join(hybrid.why)}), tries the mean of their forecasts"
                    + (" (quantiles: the RNN learns them, the hybrid, the mean and the "
                       "combined take them from their validation errors)" if levels else ""))
                 + f", keeps the lowest validation RMSE (the simpler within {100 * TIE:g} %; "
                 f"{fold_rule}), "
                 f"{combine}; --strategy direct for the RNN alone"
                 if auto else f"strategy {strategy} (the RNN alone; --strategy auto to choose "
                 "between it and the ES-RNN hybrid on validation)")
    training = (f"at most {_plural(s['epochs'], 'epoch')} of batch {s['batch_size']}, "
                + (f"early stopping (patience {s['patience']})" if s["patience"]
                   else "no early stopping"))
    where = (f"{series.name}: {len(series.values)} rows ({series.times[0]} to "
             f"{series.times[-1]}), columns {', '.join(series.columns)}; forecasting {goal}"
             + (f"; {note}" if note else ""))
    if dry_run:
        plan(f"forecast {source}{tag}", {
            "series": where, "preset": preset_line.removeprefix("preset: "),
            **({"preset why": "; ".join(preset.why)} if preset.why else {}),
            "parts": "; ".join(f"{p} {v['rows']} rows ({v['from']} to {v['to']}), "
                               f"{v['windows']} windows" for p, v in parts.items()),
            "model": model, "strategy": auto_line.removeprefix("strategy "),
            "training": training,
            "horizon": f"{horizon} step{'s' if horizon != 1 else ''} per window",
            "season": season_line,
            "future": f"{steps} steps after {series.times[-1]}",
            "baselines": stats_line.removeprefix("statistical baselines: "),
            **({"backtest": f"{backtest} origins over the test part, "
                + ("a model refitted at each" if refit else "one model")} if backtest else {}),
            **({"quantiles": ", ".join(f"{q:g}" for q in levels)} if levels else {}),
            "would write": f"{out}/metrics.json, forecast.png, training.png, model/"})
        return
    if quick:
        typer.echo(f"quick run: {'the last' if kept < rows else 'all'} {kept} rows, "
                   f"{s['units']} units, {_plural(s['epochs'], 'epoch')} -- a smoke test; its "
                   "figures are not a measurement")
    typer.echo(where)
    typer.echo(preset_line)
    for why in preset.why:
        typer.echo(f"  {why}")
    typer.echo(season_line)
    typer.echo(stats_line)
    typer.echo(auto_line)
    runner = AutoForecaster(f.config, hybrid, stats="auto" if combine_stats is None
                            else combine_stats,
                            folds=folds if folds == "auto" else int(folds)) if auto else f
    runner.fit(series, epochs=s["epochs"], batch_size=s["batch_size"], val=val, test=test,
               patience=s["patience"] or None, seed=seed, verbose=verbose_level(quiet),
               log_dir=logdir, threads=threads, precision=precision)
    extra = {"preset": {"name": preset.name, "settings": preset.describe(),
                        "why": list(preset.why), "changed": changed},
             "season": {"value": season, "source": season_line}, "quick": quick,
             "horizon": horizon, "source": source}
    if auto:
        extra["hybrid_preset"] = {"settings": hybrid.describe(), "why": list(hybrid.why)}
        _print_choice(runner, tag)
    metrics = runner.report(out, future=steps, extra=extra,
                            label="quick run, not a measurement" if quick else "",
                            stats=stats_which, backtest=backtest, refit=refit)
    part = "test" if "test" in metrics else "val"
    m = metrics[part]
    f = runner.chosen if auto else f
    if isinstance(f, Forecaster):
        name = f"{f.config.cell.upper()}" + (f" {f.config.strategy}" if auto and
                                             f.config.strategy != "direct" else "")
        how = f"{f.training_step.kind} training step"
    elif runner.kind == "combined":
        name = "combined"
        how = (f"{f.describe()}: its {f.base_kind}'s training, {f.model} fitted by "
               "statsforecast (on the rows before the first target, updated with each value)")
    else:
        name, how = "hybrid", "the hybrid's own training loop"
        if runner.kind == "mean":
            name, how = "mean of rnn and hybrid", "its members' training, nothing more fitted"
    typer.echo(f"\n{part} part{tag}: {m['windows']} windows, horizon {horizon}, "
               f"fit {f.fit_seconds:.1f}s"
               + (f" ({runner.fit_seconds:.1f}s with every candidate)" if auto else "")
               + f", {how}")
    _print_table(m, f"rnnkit {'auto: ' if auto else ''}{name}{tag}", f.fit_seconds)
    if "coverage" in m:
        fixed = m.get("coverage_without_rolling", {})
        for cover, share in m["coverage"].items():
            alone = (f" ({100 * fixed[cover]:.1f} % with the validation errors alone at every "
                     "origin)" if cover in fixed else "")
            typer.echo(f"{cover} % interval{tag}: covers {100 * share:.1f} % of the {part} "
                       f"targets{alone}; mean pinball loss {m['pinball']:.4g}; intervals "
                       f"{m['intervals']}")
    if "backtest" in m:
        _print_backtest(m["backtest"], tag)
    if "baseline_seasonal_naive" not in m and season is not None:
        typer.echo(f"(no seasonal-naive row: season {season} reaches back past the "
                   f"{part} windows' inputs)")
    ahead = metrics["future"]
    span = ahead["times"][0] + (f" to {ahead['times'][-1]}" if ahead["steps"] > 1 else "")
    for col, values in ahead["values"].items():
        typer.echo(f"{col}{tag}, next {ahead['steps']} step{'s' if ahead['steps'] != 1 else ''}"
                   f" after {ahead['after']} ({span}): "
                   + ", ".join(f"{v:.4g}" for v in values))
    if auto:
        runner.save(out / "model")
    else:     # a fresh folder swapped in: no auto.json of an earlier auto run left beside it
        replace_folder(out / "model", runner.save, "rnnkit forecast")
    typer.echo(f"wrote {out}/metrics.json, forecast.png ({metrics['plot']['future_steps']} "
               f"forecast steps drawn), training.png and {out}/model")
