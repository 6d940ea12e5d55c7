import json

from typer.testing import CliRunner

from rnnkit.cli.main import app

runner = CliRunner()


def test_help_lists_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0 and "demo" in result.output and "datasets" in result.output


def test_demo_dry_run_trains_and_prints_metrics(tmp_path):
    result = runner.invoke(app, ["demo", "--dry-run", "--out", str(tmp_path / "d")])
    assert result.exit_code == 0, result.output
    assert "rnnkit (this run)" in result.output and "tutorial, published" in result.output
    assert not (tmp_path / "d").exists()


def test_demo_writes_model_metrics_and_plot(tmp_path):
    result = runner.invoke(app, ["demo", "--epochs", "1", "--out", str(tmp_path / "d")])
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "d" / "metrics.json").read_text())
    assert metrics["train_windows"] == 187 and metrics["test_windows"] == 46
    assert 0 < metrics["test_rmse"] < 0.5
    assert (tmp_path / "d" / "forecast.png").stat().st_size > 10_000
    assert (tmp_path / "d" / "model" / "weights.safetensors").exists()


def test_datasets_list_and_show():
    result = runner.invoke(app, ["datasets", "list"])
    assert result.exit_code == 0 and "sunspots" in result.output
    result = runner.invoke(app, ["datasets", "show", "sunspots"])
    assert result.exit_code == 0 and "MIT" in result.output and "1749-01" in result.output
    result = runner.invoke(app, ["datasets", "show", "nope"])
    assert result.exit_code != 0 and "unknown dataset" in result.output
