"""``rnnkit datasets list | show NAME``: what ships inside the package, and where it came from."""

from __future__ import annotations

import typer

from .. import datasets

app = typer.Typer(help="List and describe the datasets shipped with rnnkit.",
                  no_args_is_help=True)


@app.command("list")
def list_() -> None:
    """One line per shipped dataset."""
    for name in datasets.names():
        typer.echo(f"{name:12s} {datasets.info(name).NOTE}")


@app.command("show")
def show(name: str = typer.Argument(..., metavar="NAME",
                                    help="A dataset's name, from `rnnkit datasets list`.")):
    """Title, source, licence and the first values of one dataset."""
    try:
        module = datasets.info(name)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="NAME") from None
    typer.echo(f"{module.TITLE}\n  note:    {module.NOTE}\n  source:  {module.SOURCE}\n"
               f"  licence: {module.LICENSE}")
    if hasattr(module, "preview"):
        for line in module.preview():
            typer.echo(f"  {line}")
        return
    series = datasets.load(name)
    typer.echo(f"  shape:   {series.values.shape}")
    for t, v in list(zip(series.times, series.values))[:5]:
        typer.echo(f"  {t}  {v}")
