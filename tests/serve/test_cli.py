"""``rnnkit serve`` from the command line: the plan of --dry-run, a bad folder, a missing
extra named with its pip command."""

import importlib.util

from typer.testing import CliRunner

from rnnkit.cli.main import app


def _invoke(*args):
    return CliRunner().invoke(app, ["serve", *map(str, args)], prog_name="rnnkit")


def test_dry_run_loads_the_model_and_prints_the_plan(model_dirs):
    result = _invoke(model_dirs["forecaster"], "--port", "8123", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "dry run: rnnkit serve" in result.output
    assert "a Forecaster" in result.output and "/forecast" in result.output
    assert "http://127.0.0.1:8123/" in result.output


def test_a_folder_without_a_model_is_a_usage_error(tmp_path):
    result = _invoke(tmp_path, "--dry-run")
    assert result.exit_code == 2 and "no saved rnnkit model" in result.output


def test_missing_fastapi_names_the_extra(model_dirs, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "fastapi" else real(name, *a))
    result = _invoke(model_dirs["sequential"], "--dry-run")
    assert result.exit_code == 2
    assert "pip install 'rnnkit[serve]'" in result.output and "fastapi" in result.output
