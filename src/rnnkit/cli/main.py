"""The ``rnnkit`` command: one module per command, assembled here."""

from __future__ import annotations

import typer

from . import datasets as datasets_cmd
from .demo import demo

app = typer.Typer(help="rnnkit: recurrent neural networks on PyTorch.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
app.command("demo")(demo)
app.add_typer(datasets_cmd.app, name="datasets")


def main() -> None:
    app()
