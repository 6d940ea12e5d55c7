"""The ``rnnkit`` command: one module per command, assembled here."""

from __future__ import annotations

import typer

from . import datasets as datasets_cmd
from . import tutorial as tutorial_cmd
from .bench import bench
from .classify import classify
from .convert import convert
from .explain import explain
from .forecast import forecast
from .generate import generate
from .translate import translate

app = typer.Typer(help="rnnkit: recurrent neural networks on PyTorch.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
app.command("explain")(explain)
app.command("bench")(bench)
app.command("forecast")(forecast)
app.command("convert")(convert)
app.command("classify")(classify)
app.command("generate")(generate)
app.command("translate")(translate)
app.add_typer(datasets_cmd.app, name="datasets")
app.add_typer(tutorial_cmd.app, name="tutorial")


def main() -> None:
    app()
