"""Every help screen renders what its code says: exit 0, no markup eaten or left raw, whole
sentences, readable metavariables, and every claim the README makes about a help screen."""

import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from rnnkit.cli.main import app

README = Path(__file__).resolve().parents[2] / "README.md"


def _commands(command=None, path=()):
    """(path, click command) for the app and every command and subcommand under it."""
    command = command or typer.main.get_command(app)
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, (*path, name))


COMMANDS = dict(_commands())


def _help(*path: str) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], prog_name="rnnkit")
    assert result.exit_code == 0, result.output
    return result.output


def _flat(text: str) -> str:
    """Whitespace collapsed and line breaks after a hyphen undone, as wrapping leaves them."""
    return re.sub(r"-\s+", "-", " ".join(text.replace("\b", " ").split()))


def test_the_tree_holds_every_command():
    names = {" ".join(p) for p in COMMANDS}
    for name in ("forecast", "classify", "generate", "translate", "explain", "bench",
                 "convert", "datasets list", "datasets show", "tutorial list", "tutorial run"):
        assert name in names


@pytest.mark.parametrize("path", list(COMMANDS), ids=lambda p: " ".join(p) or "rnnkit")
def test_help_renders_what_the_code_says(path):
    text = _help(*path)
    command = COMMANDS[path]
    assert text.startswith(f"Usage: rnnkit {' '.join(path)}".rstrip())
    for raw in ("{", "}", "<bool>", "<str>", "<int", "<float", "<path>", "╭", "│", "[/",
                "[bold", "[red", "[green", "[dim", "[cyan"):
        assert raw not in text, f"{raw!r} in the help of {path}:\n{text}"
    flat = _flat(text)
    # every paragraph of the docstring, whole (no sentence split at a source line break)
    for paragraph in re.split(r"\n\s*\n", command.help or ""):
        assert _flat(paragraph) in flat, f"{paragraph!r} not whole in:\n{text}"
    usage = text.splitlines()[0]
    for param in command.params:
        if param.param_type_name == "argument":          # NAME or [NAME], never {name}
            assert (param.metavar or param.name).upper() in usage, usage
        elif param.help and not param.hidden:            # no bracket or word eaten
            assert _flat(param.help) in flat, f"{param.help!r} not in:\n{text}"
            if not param.is_flag:
                assert param.opts[0] + " " in text


def test_bench_help_keeps_its_brackets():
    assert "median [min-max]" in _flat(_help("bench"))


def test_command_list_keeps_whole_lines():
    text = _help()
    listing = text[text.index("Commands:"):].splitlines()[1:]
    assert len(listing) == len(COMMANDS[()].commands)
    for line in listing:
        assert not line.rstrip().endswith("..."), line


def test_readme_help_claims_are_true():
    """Each `rnnkit ... --help` the README cites is listed here with what it must show."""
    from rnnkit.interop.layouts import layout_table
    claims = {
        "rnnkit convert --help": lambda text: all(line in text for line in
                                                  layout_table().splitlines()),
    }
    cited = set(re.findall(r"`(rnnkit [^`]*--help)`", README.read_text()))
    assert cited, "the README cites no help screen: drop this test or its claims"
    for claim in sorted(cited):
        assert claim in claims, f"the README cites `{claim}`: add what it must show here"
        words = claim.split()[1:-1]
        assert claims[claim](_help(*words)), f"`{claim}` does not show what the README says"
