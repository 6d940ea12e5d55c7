"""``rnnkit tutorial list | run NAME``: tutorial workloads beside their published figures."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from .. import tutorials
from .options import (
    DryRun,
    Epochs,
    LogDir,
    Out,
    Quick,
    Quiet,
    Seed,
    Threads,
    out_folder,
    plan,
    verbose_level,
)


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
    """One line per tutorial, each with its own title (other names that run it in brackets)."""
    for name in tutorials.names():
        other = tutorials.aliases(name)
        also = f"  (also: {', '.join(other)})" if other else ""
        typer.echo(f"{name:14s} {tutorials.get(name).TITLE}{also}")


def _what_it_runs(module) -> str:
    """The first sentence of a tutorial module's docstring, on one line."""
    text = " ".join((module.__doc__ or "").split())
    return text.split(". ")[0].rstrip(".") + "." if text else "-"


@app.command("run")
def run(
    name: Annotated[str, typer.Argument(help="tutorial name, see `rnnkit tutorial list`")],
    seeds: Annotated[str, typer.Option(help="comma-separated seeds; medians [min-max] are "
                                       "reported")] = "0,1,2",
    seed: Seed = None,      # None: --seeds decides
    epochs: Epochs = None,
    quick: Quick = False,
    dry_run: DryRun = False,
    out: Out = None,
    threads: Threads = None,
    quiet: Quiet = False,
    logdir: LogDir = None,
) -> None:
    """Run one tutorial workload and print its comparison table, the conclusions computed
    from it, and (with --out) write tutorial.json and the recommended model's report.

    --seed N runs that one seed (the same as --seeds N).  --epochs N caps every trained
    row's epochs.  --quick runs one seed for a few epochs on part of the data: its measured
    rows say "(quick)" and its conclusions say they come from a quick run.  --threads N and
    --logdir DIR reach every rnnkit fit (TensorBoard events in one subfolder per row).
    Each trained row shows its progress: a line naming it, then a bar on a terminal or one
    line per epoch elsewhere; --quiet leaves only the result table."""
    module = tutorials.get(name)
    seed_list = parse_seeds(seeds) if seed is None else [seed]
    out_folder(out)
    out_folder(logdir, "--logdir", "TensorBoard event files")
    if quick:
        seed_list = seed_list[:1]
    if dry_run:
        published = getattr(module, "PUBLISHED", {}) or {}
        plan(f"tutorial {name}" + (" (quick)" if quick else ""), {
            "tutorial": f"{module.NAME}: {module.TITLE}",
            "what it runs": _what_it_runs(module),
            "published": ", ".join(f"{k} {v:g}" for k, v in published.items()) or "none",
            "seeds": ",".join(map(str, seed_list)) + " (medians [min-max])",
            "mode": ("quick: a smoke test, a few epochs on part of the data" if quick
                     else "full: the settings the README reports"),
            "epochs": (f"at most {epochs} per trained row" if epochs
                       else "each row's own (the tutorial's settings)"),
            "threads": f"{threads} in every fit" if threads else "chosen by each fit",
            "logdir": str(logdir) if logdir else "none",
            "would write": (f"{out}/tutorial.json and the recommended model's report and "
                            "model" if out is not None else "nothing (no --out)"),
        })
        return
    with tutorials.run_options(epochs=epochs, threads=threads, log_dir=logdir,
                               verbose=verbose_level(quiet)):
        report = module.run(seed_list, quick=quick, out=out)
    report.quick = quick
    typer.echo(report.table())
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "tutorial.json").write_text(json.dumps(report.to_dict(), indent=2))
