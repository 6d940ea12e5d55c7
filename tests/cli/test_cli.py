import json

from typer.testing import CliRunner

from rnnkit.cli.main import app

runner = CliRunner()


def test_help_lists_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("forecast", "tutorial", "explain", "datasets"):
        assert command in result.output


def test_sunspots_tutorial_quick_writes_report_and_model(tmp_path):
    out = tmp_path / "sun"
    result = runner.invoke(app, ["tutorial", "run", "sunspots", "--quick", "--out", str(out)])
    assert result.exit_code == 0, result.output
    for text in ("tutorial, published", "rnnkit, tutorial recipe", "rnnkit, recommended",
                 "naive: repeat last value"):
        assert text in result.output
    report = json.loads((out / "tutorial.json").read_text())
    assert [r["system"] for r in report["rows"]][0] == "tutorial, published"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test"]["windows"] == 564          # every month of the last 20 %
    assert (out / "forecast.png").stat().st_size > 20_000
    assert (out / "model" / "forecaster.json").exists()


def test_datasets_list_and_show():
    result = runner.invoke(app, ["datasets", "list"])
    assert result.exit_code == 0 and "sunspots" in result.output
    result = runner.invoke(app, ["datasets", "show", "sunspots"])
    assert result.exit_code == 0 and "MIT" in result.output and "1749-01" in result.output
    result = runner.invoke(app, ["datasets", "show", "nope"])
    assert result.exit_code != 0 and "unknown dataset" in result.output
