"""``rnnkit tutorial list | run NAME``: tutorial workloads beside their published figures."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from .. import tutorials
from .options import out_folder


def parse_seeds(text: str, option: str = "--seeds") -> list[int]:
    """"0,1,2" -> [0, 1, 2]; anything else is a ValueError naming the option."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise ValueError(f"{option} must hold at least one seed, got {text!r}")
    bad = [p for p in parts if not (p.isascii() and p.isdigit())]
    if bad:
        raise ValueError(f"{option} must be comma-separated non-negative integers such as "
                         f"0,1,2; got {text!r} ({', '.join(map(repr, bad))} "
                         f"{'is' if len(bad) == 1 else 'are'} not)")
    return [int(p) for p in parts]

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
    module = tutorials.get(name)
    seed_list = parse_seeds(seeds)
    out_folder(out)
    if quick or dry_run:
        seed_list = seed_list[:1]
    report = module.run(seed_list, quick=quick or dry_run, out=out)
    typer.echo(report.table())
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "tutorial.json").write_text(json.dumps(report.to_dict(), indent=2))
