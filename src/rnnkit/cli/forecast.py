"""``rnnkit forecast``: train a Forecaster on a shipped dataset or any CSV, report, save."""

from __future__ import annotations

from pathlib import Path

import typer

from .. import datasets
from ..data.tables import FILL_POLICIES, fill_missing, read_csv_series
from .options import out_folder

DEFAULT_COLUMN = {"stocks": "Adj Close", "weather": "temp"}


def _split(text: str | None) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()] if text else []


def load_series(source: str, column: str | None, features: str | None, date_column: str | None,
                symbol: str, origin: str, fill: str):
    """The Series to forecast (targets first, then the other features) and a note on gaps."""
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
    note = f"{filled} missing values handled by --fill {fill}" if filled else ""
    return type(series)(series.name, times, values, series.columns), len(targets), note


def forecast(
    source: str = typer.Argument(..., help="a dataset (sunspots, airline, stocks, weather, "
                                           "sine) or a CSV file"),
    column: str = typer.Option(None, help="column(s) to forecast, comma-separated"),
    features: str = typer.Option(None, help="extra input columns, comma-separated"),
    date_column: str = typer.Option(None, help="CSV column with the time labels"),
    symbol: str = typer.Option("MSFT", help="stocks: AAPL, GOOG, IBM, MSFT or FB"),
    origin: str = typer.Option("JFK", help="weather: EWR, JFK or LGA"),
    fill: str = typer.Option("error", help=f"missing values: {', '.join(FILL_POLICIES)}"),
    cell: str = typer.Option("lstm", help="simple | lstm | gru"),
    units: int = typer.Option(64, min=1),
    layers: int = typer.Option(1, min=1),
    window: int = typer.Option(12, min=1, help="input steps per sample"),
    horizon: int = typer.Option(1, min=1, help="steps predicted per sample"),
    strategy: str = typer.Option("direct", help="direct | recursive | seq2seq"),
    stride: int = typer.Option(1, min=1, help="step between training windows"),
    scaler: str = typer.Option("minmax", help="minmax | standard | none"),
    difference: bool = typer.Option(False, "--difference", help="model step-to-step changes "
                                    "(for trending series: prices, counts)"),
    dropout: float = typer.Option(0.0, min=0.0, max=0.99),
    bidirectional: bool = typer.Option(False, "--bidirectional"),
    season: int = typer.Option(None, min=1, help="period for the seasonal-naive baseline "
                                          "(default: the dataset's)"),
    epochs: int = typer.Option(50, min=1),
    batch_size: int = typer.Option(32, min=1),
    patience: int = typer.Option(10, min=0, help="early-stopping patience (0 = off)"),
    lr: float = typer.Option(1e-3, min=0.0),
    val: float = typer.Option(0.15, min=0.0, max=0.9, help="validation fraction (end of series)"),
    test: float = typer.Option(0.15, min=0.0, max=0.9, help="test fraction (end of series)"),
    future: int = typer.Option(None, min=1, help="steps to forecast after the data"),
    seed: int = typer.Option(0),
    out: Path = typer.Option(Path("runs/forecast"), help="report and model folder"),
    dry_run: bool = typer.Option(False, "--dry-run", help="one epoch, nothing written"),
) -> None:
    """Train an RNN forecaster, print its test metrics beside naive baselines, and write
    metrics.json, forecast.png, training.png and the model to --out."""
    from ..tasks import Forecaster
    if fill not in FILL_POLICIES:
        raise ValueError(f"--fill must be one of {', '.join(FILL_POLICIES)}, got {fill!r}")
    if val == 0 and test == 0:
        raise ValueError("--val 0 and --test 0 hold nothing out to measure the forecaster on; "
                         "give --test (or --val) a fraction such as 0.15")
    if val + test >= 1:
        raise ValueError(f"--val {val:g} + --test {test:g} leave no rows for training; "
                         "their sum must be below 1")
    if not dry_run:
        out_folder(out)
    series, n_targets, note = load_series(source, column, features, date_column, symbol,
                                          origin, fill)
    if future is not None and future > horizon and len(series.columns) > n_targets:
        raise ValueError(f"--future {future} is more than --horizon {horizon}, which feeds "
                         "forecasts back as inputs: every input column must then be forecast, "
                         f"but --features adds {', '.join(series.columns[n_targets:])}; use "
                         f"--future {horizon} or a larger --horizon")
    if season is None and source in datasets.SERIES:
        season = datasets.info(source).SEASON
    f = Forecaster(cell=cell, units=units, layers=layers, window=window, horizon=horizon,
                   strategy=strategy, stride=stride, scaler=None if scaler == "none" else
                   scaler, dropout=dropout, bidirectional=bidirectional,
                   targets=series.columns[:n_targets], season=season, lr=lr,
                   difference=difference)
    goal = ", ".join(series.columns[:n_targets])
    typer.echo(f"{series.name}: {len(series.values)} rows, columns "
               f"{', '.join(series.columns)}; forecasting {goal}"
               + (f"; {note}" if note else ""))
    f.fit(series, epochs=1 if dry_run else epochs, batch_size=batch_size, val=val,
          test=test, patience=patience or None, seed=seed, verbose=1)
    part = "test" if test > 0 else "val"
    metrics = f.evaluate(part)
    typer.echo(f"\n{part} part: {metrics['windows']} windows, horizon {horizon}, "
               f"fit {f.fit_seconds:.1f}s, {f.training_step.split(':')[0].split(' (')[0]} "
               "training step")
    typer.echo(f"{'':24s}{'RMSE':>12s}{'MAE':>12s}{'MAPE %':>10s}{'RMSE scaled':>13s}")
    rows = [("rnnkit " + cell.upper(), metrics)] + [
        (k.replace("baseline_", "naive: ").replace("_", " "), v)
        for k, v in metrics.items() if k.startswith("baseline_")]
    for name, m in rows:
        scaled = f"{m['rmse_scaled']:13.4f}" if "rmse_scaled" in m else f"{'-':>13s}"
        typer.echo(f"{name:24s}{m['rmse']:12.4g}{m['mae']:12.4g}{m['mape']:10.2f}{scaled}")
    ahead = f.predict(steps=future or horizon)
    typer.echo(f"next {len(ahead)} values after {series.times[-1]}: "
               + ", ".join(f"{v:.4g}" for v in ahead[:, 0]))
    if dry_run:
        return
    f.report(out, future=future)
    f.save(out / "model")
    typer.echo(f"wrote {out}/metrics.json, forecast.png, training.png and {out}/model")
