"""``rnnkit tutorial list | run NAME``: tutorial workloads beside their published figures."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from .. import tutorials

app = typer.Typer(help="Run the classic RNN tutorials' workloads and compare with their "
                       "published numbers.", no_args_is_help=True)


@app.command("list")
def list_() -> None:
    """One line per tutorial."""
    for name in tutorials.names():
        typer.echo(f"{name:14s} {tutorials.get(name).TITLE}")


@app.command("run")
def run(
    name: str = typer.Argument(..., help="tutorial name, see `rnnkit tutorial list`"),
    seeds: str = typer.Option("0,1,2", help="comma-separated seeds; medians are reported"),
    quick: bool = typer.Option(False, "--quick", help="a few epochs, one seed: a smoke run"),
    dry_run: bool = typer.Option(False, "--dry-run", help="same as --quick"),
    out: Path = typer.Option(None, help="write the recommended model's report and model here"),
) -> None:
    """Run one tutorial workload and print its comparison table."""
    try:
        module = tutorials.get(name)
        seed_list = [int(s) for s in seeds.split(",") if s.strip()]
    except ValueError as err:
        raise typer.BadParameter(str(err)) from None
    if not seed_list:
        raise typer.BadParameter("give at least one seed", param_hint="--seeds")
    if quick or dry_run:
        seed_list = seed_list[:1]
    report = module.run(seed_list, quick=quick or dry_run, out=out)
    typer.echo(report.table())
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "tutorial.json").write_text(json.dumps(report.to_dict(), indent=2))
