"""The ``rnnkit`` command: one module per command, assembled here, and the one error handler.

Bad input never shows a traceback: a ValueError, TypeError or OSError (a missing, unreadable
or misplaced file) from any command prints ``error: <message>`` on stderr and exits with
code 2; click's own usage errors keep their usage text and exit 2 too; Ctrl-C exits 130.
A KeyError, RuntimeError or anything else is a bug and keeps its traceback. ``--debug`` (or
``RNNKIT_DEBUG=1``) re-raises every error so its traceback shows.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import typer
from typer import core as typer_core
from typer._click import exceptions as click_exceptions

from . import datasets as datasets_cmd
from . import tutorial as tutorial_cmd
from .bench import bench
from .classify import classify
from .convert import convert
from .convert import epilog as convert_epilog
from .explain import explain
from .forecast import forecast
from .generate import generate
from .serve import serve
from .translate import translate

__all__ = ["app", "main", "USER_ERRORS", "EXIT_USAGE", "EXIT_INTERRUPTED"]

EXIT_USAGE = 2              # bad input: a wrong option, file, column, ...
EXIT_INTERRUPTED = 130      # Ctrl-C, as shells report SIGINT
# what bad input raises; json.JSONDecodeError and UnicodeDecodeError are ValueErrors, and
# FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError are OSErrors;
# an ImportError is an optional extra that is not installed (its message says which)
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, TypeError, OSError, ImportError)


class _Interrupted(Exception):
    """Ctrl-C inside a command (typer would otherwise exit 130 without a word)."""


def _debug_env() -> bool:
    return os.environ.get("RNNKIT_DEBUG", "").strip().lower() not in ("", "0", "false", "no")


def error_message(err: BaseException) -> str:
    """One line (or a few) naming what was wrong, without the exception's class."""
    if isinstance(err, OSError) and err.strerror:
        name = err.filename if err.filename is not None else ""
        where = f"{name}: " if name != "" else ""
        other = f" -> {err.filename2}" if err.filename2 is not None else ""
        return f"{where}{err.strerror.lower()}{other}"
    if isinstance(err, click_exceptions.ClickException):
        return err.format_message()
    text = str(err).strip()
    return text or type(err).__name__


class _Argument(typer_core.TyperArgument):
    """A positional argument as help screens have always shown it: ``NAME`` when required,
    ``[NAME]`` when optional (typer writes ``{name}``), and no ``<str>`` type tag."""

    def _usage_display_name(self) -> str:
        name = (self.metavar or self.name or "ARG").upper()
        name = name if self.required else f"[{name}]"
        return name + ("..." if self.nargs != 1 else "")

    def _rich_display_name(self) -> str:
        return (self.metavar or self.name or "ARG").upper()

    def display_type_rich(self, ctx: Any) -> str | None:
        return None

    def get_error_hint(self, *args: Any) -> str:
        return f"'{self._rich_display_name()}'"


# what an option without a metavar shows instead of typer's "<str>", "<int range>", ...
_VALUE_NAMES = {"str": "TEXT", "int": "INTEGER", "int range": "INTEGER", "float": "NUMBER",
                "float range": "NUMBER", "path": "PATH"}


class _Option(typer_core.TyperOption):
    """An option's value shown as its metavar (``--epochs N``), else as click names it
    (``--column TEXT``), never in angle brackets."""

    def display_type_rich(self, ctx: Any) -> str | None:
        if self.metavar is not None:
            return self.metavar
        label = self.display_type(ctx).strip("<>")
        return _VALUE_NAMES.get(label, label) + ("..." if self.nargs != 1 else "")


def _plain_params(command: Any) -> None:
    """Every argument and option of ``command`` and its subcommands shown the plain way."""
    for param in command.params:
        if type(param) is typer_core.TyperArgument:
            param.__class__ = _Argument
        elif type(param) is typer_core.TyperOption:
            param.__class__ = _Option
    for sub in getattr(command, "commands", {}).values():
        _plain_params(sub)


class _App(typer_core.TyperGroup):
    """rnnkit's top-level group: every way in (the ``rnnkit`` script, ``main()``, typer's
    CliRunner on ``app``) passes through ``main`` below, so errors look the same from all."""

    debug = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _plain_params(self)

    def invoke(self, ctx: Any) -> Any:
        self.debug = bool(ctx.params.get("debug")) or _debug_env()
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            if self.debug:
                raise
            raise _Interrupted() from None

    def main(self, args: Any = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             **extra: Any) -> Any:
        self.debug = _debug_env() or "--debug" in _global_args(args)
        try:
            result = super().main(args=args, prog_name=prog_name, complete_var=complete_var,
                                  standalone_mode=False, **extra)
            code = result if isinstance(result, int) and not isinstance(result, bool) else 0
        except _Interrupted:
            typer.echo("interrupted (Ctrl-C)", err=True)
            code = EXIT_INTERRUPTED
        except click_exceptions.UsageError as err:        # click's own: keep its usage text
            if self.debug:
                raise
            if typer_core.HAS_RICH and self.rich_markup_mode is not None:
                from typer import rich_utils
                rich_utils.rich_format_error(err)
            else:
                err.show()
            code = EXIT_USAGE
        except click_exceptions.ClickException as err:
            if self.debug:
                raise
            typer.echo(f"error: {error_message(err)}", err=True)
            code = EXIT_USAGE
        except typer.Abort:
            typer.echo("error: aborted", err=True)
            code = 1
        except USER_ERRORS as err:
            if self.debug:
                raise
            typer.echo(f"error: {error_message(err)}", err=True)
            code = EXIT_USAGE
        if standalone_mode:
            sys.exit(code)
        return code


def _global_args(args: Any) -> list[str]:
    """The options before the command's name (where --debug belongs)."""
    argv = list(sys.argv[1:] if args is None else args)
    out = []
    for a in argv:
        if not a.startswith("-"):
            break
        out.append(a)
    return out


# rich_markup_mode=None: help is plain click text, so brackets such as "[min-max]" show as
# written and no "<bool>" column appears; paragraphs are rewrapped, "\b" keeps a block's lines
app = typer.Typer(help="rnnkit: recurrent neural networks on PyTorch.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False, cls=_App,
                  rich_markup_mode=None)


@app.callback()
def _options(
    debug: bool = typer.Option(False, "--debug", help="Show the full traceback of an error "
                               "(also RNNKIT_DEBUG=1)."),
) -> None:
    pass


# one line each in `rnnkit --help` (click would cut the docstring's first sentence at 45
# characters)
app.command("forecast", short_help="Train a forecaster on a series dataset or a CSV.")(
    forecast)
app.command("classify", short_help="Train a sequence classifier (digits, reviews).")(classify)
app.command("generate", short_help="Train a character-level generator, or sample from one.")(
    generate)
app.command("translate", short_help="Train an encoder-decoder translator, or translate.")(
    translate)
app.command("explain", short_help="Show every hidden state of a small RNN, step by step.")(
    explain)
app.command("bench", short_help="Time rnnkit's engines against torch.nn and naive loops.")(
    bench)
app.command("convert", short_help="Convert models between Keras, torch.nn, rnnkit, ONNX.",
            epilog=convert_epilog())(convert)
app.command("serve", short_help="Serve a saved model over HTTP, with a page to try it.")(
    serve)
app.add_typer(datasets_cmd.app, name="datasets",
              short_help="List and describe the shipped datasets.")
app.add_typer(tutorial_cmd.app, name="tutorial",
              short_help="Run the classic tutorials' workloads beside their figures.")


def main(argv: list[str] | None = None) -> None:
    """The ``rnnkit`` script: runs the app and exits with its code (0, 2 bad input, 130
    interrupted).  ``--nproc N`` (and the launcher options beside it) on any command runs
    it on N processes through ``torch.distributed.run`` (``cli/launch.py``)."""
    from .launch import launch, quiet_worker, split_launcher
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        opts, rest = split_launcher(argv)
        if opts:
            sys.exit(launch(opts, rest))
    except ValueError as err:
        if _debug_env() or "--debug" in argv:
            raise
        typer.echo(f"error: {error_message(err)}", err=True)
        sys.exit(EXIT_USAGE)
    app(args=quiet_worker(argv), prog_name="rnnkit")


if __name__ == "__main__":
    main()
