"""The options every training command shares (``rnnkit.cli.options``): the same names and
help everywhere; ``--dry-run`` checks and plans but trains and writes nothing; ``--quick``
is a labelled smoke run in seconds that writes what a full run writes; ``--threads``,
``--quiet`` and ``--logdir`` reach the task's ``fit``."""

import re
import time
import typing

import pytest
import typer
from typer.testing import CliRunner

import rnnkit as rk
from rnnkit.cli import options
from rnnkit.cli.main import app

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")

# each training command on a small shipped dataset
COMMANDS = {
    "forecast": ["forecast", "sunspots"],
    "classify": ["classify", "digits"],
    "generate": ["generate", "shakespeare", "--train"],
    "translate": ["translate", "numbers-fr", "--train"],
    "tutorial run": ["tutorial", "run", "sunspots"],
}
SHARED = {"--epochs": options.Epochs, "--quick": options.Quick, "--dry-run": options.DryRun,
          "--out": options.Out, "--seed": options.Seed, "--threads": options.Threads,
          "--quiet": options.Quiet, "--logdir": options.LogDir}
DRY_RUN_SECONDS = 20      # loading and checking the data, on a busy 2-core machine
QUICK_SECONDS = 90        # a smoke run is meant to take seconds; this bound is generous


def _invoke(args):
    start = time.perf_counter()
    result = CliRunner().invoke(app, [str(a) for a in args], prog_name="rnnkit")
    return result, time.perf_counter() - start


def _click_command(name: str):
    command = typer.main.get_command(app)
    for part in name.split():
        command = command.commands[part]
    return command


def _flat(text: str) -> str:
    return re.sub(r"-\s+", "-", " ".join(text.split()))


def _files(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.parametrize("name", list(COMMANDS))
def test_help_lists_the_shared_options_with_one_text(name):
    result, _ = _invoke([*name.split(), "--help"])
    assert result.exit_code == 0, result.output
    flat = _flat(result.output)
    params = {opt: p for p in _click_command(name).params for opt in p.opts}
    missing = [opt for opt in SHARED if opt not in params]
    assert not missing, f"rnnkit {name} lacks {missing}"
    for opt, alias in SHARED.items():
        text = typing.get_args(alias)[1].help
        assert params[opt].help == text, f"rnnkit {name} {opt}: {params[opt].help!r}"
        assert _flat(text) in flat
    bidirectional = [p for p in params.values() if "--bidirectional" in p.opts]
    for p in bidirectional:
        assert p.secondary_opts == ["--no-bidirectional"], (name, p.secondary_opts)


@pytest.mark.parametrize("name", list(COMMANDS))
def test_dry_run_checks_plans_and_writes_nothing(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)                     # default output folders land here too

    def refuse(*args, **kwargs):
        raise AssertionError("--dry-run started training")
    monkeypatch.setattr(rk.training.Trainer, "fit", refuse)
    result, seconds = _invoke([*COMMANDS[name], "--dry-run", "--out", tmp_path / "out"])
    assert result.exit_code == 0, result.output
    assert "dry run:" in result.output and "nothing trained or written" in result.output
    assert _files(tmp_path) == [], f"--dry-run wrote {_files(tmp_path)}"
    assert seconds < DRY_RUN_SECONDS, f"--dry-run took {seconds:.1f} s"


@pytest.mark.parametrize("name", list(COMMANDS))
def test_quick_is_a_labelled_smoke_run_that_writes_the_report(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    result, seconds = _invoke([*COMMANDS[name], "--quick", "--out", out])
    assert result.exit_code == 0, result.output
    assert "quick" in result.output.lower()
    assert (out / "metrics.json").is_file(), _files(tmp_path)
    assert seconds < QUICK_SECONDS, f"--quick took {seconds:.1f} s"
    if name in ("classify", "translate"):   # every line but the per-epoch ones says quick
        for line in result.output.splitlines():
            assert line.startswith(("quick", "epoch ")), line


# what each command's task ``fit`` is, to see the options it receives
FITS = {"forecast": "Forecaster", "classify": "SequenceClassifier",
        "generate": "TextGenerator", "translate": "Translator"}


class _Stop(Exception):
    """Raised by the stand-in fit: the options were seen, no training is needed."""


@pytest.mark.parametrize("quiet", [False, True], ids=["progress", "quiet"])
@pytest.mark.parametrize("name", list(FITS))
def test_threads_quiet_and_logdir_reach_fit(name, quiet, tmp_path, monkeypatch):
    pytest.importorskip("tensorboard")             # --logdir refuses to run without it
    seen = {}

    def fit(self, *args, **kwargs):
        seen.update(kwargs)
        raise _Stop
    monkeypatch.setattr(getattr(rk.tasks, FITS[name]), "fit", fit)
    args = [*COMMANDS[name], "--quick", "--threads", "3", "--logdir", tmp_path / "logs",
            "--out", tmp_path / "out"] + (["--quiet"] if quiet else [])
    result, _ = _invoke(args)
    assert isinstance(result.exception, _Stop), result.output
    assert seen["threads"] == 3
    assert seen["verbose"] == (0 if quiet else 1)
    assert str(seen["log_dir"]) == str(tmp_path / "logs")


def test_bench_dry_run_plans_without_timing(tmp_path):
    result, seconds = _invoke(["bench", "--quick", "--dry-run", "--json", tmp_path / "b.json"])
    assert result.exit_code == 0, result.output
    assert "dry run: rnnkit bench --quick" in result.output and "repetitions  2" in result.output
    assert _files(tmp_path) == [] and seconds < DRY_RUN_SECONDS


def test_convert_dry_run_checks_onnx_without_writing(tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    rk.save(rk.Sequential([rk.GRU(3, input_size=2), rk.Dense(1, input_size=3)]), tmp_path / "m")
    result, _ = _invoke(["convert", tmp_path / "m", "--from", "rnnkit", "--to",
                         tmp_path / "m.onnx", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "onnxruntime" in result.output and "DIFFERS" not in result.output
    assert "nothing trained or written" in result.output
    assert not (tmp_path / "m.onnx").exists()


def test_generate_and_translate_refuse_quick_without_training(tmp_path):
    for args in (["generate", "--model", tmp_path, "--quick"],
                 ["translate", "--model", tmp_path, "one", "--quick"]):
        result, _ = _invoke(args)
        assert result.exit_code == 2 and "--quick" in result.output, result.output
