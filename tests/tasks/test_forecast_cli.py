"""``rnnkit forecast`` with statistical baselines, backtests and quantiles."""

import json
import sys

from typer.testing import CliRunner

from rnnkit.cli.main import app

runner = CliRunner()


def test_stats_backtest_and_quantiles_are_printed_and_written(tmp_path):
    out = tmp_path / "run"
    result = runner.invoke(app, ["forecast", "sine", "--quick", "--quiet", "--season", "21",
                                 "--stats", "Naive,SeasonalNaive,AutoTheta",
                                 "--backtest", "3", "--quantiles", "0.1,0.5,0.9",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = result.output
    assert "statistical baselines: Naive, SeasonalNaive, AutoTheta" in text
    for row in ("stats: Naive", "stats: SeasonalNaive", "stats: AutoTheta", "80 % interval",
                "backtest (quick): 3 origins", "overall: RMSE"):
        assert row in text, row
    m = json.loads((out / "metrics.json").read_text())["test"]
    assert set(m["stats"]) == {"Naive", "SeasonalNaive", "AutoTheta", "_note"}
    # the same targets: statsforecast's Naive is rnnkit's last-value baseline
    assert abs(m["stats"]["Naive"]["rmse"] - m["baseline_last_value"]["rmse"]) < 1e-6
    assert len(m["backtest"]["folds"]) == 3 and "80" in m["coverage"]
    covers = [fold["coverage"]["80"] for fold in m["backtest"]["folds"]]   # per origin, printed
    assert "80 % cover" in text and f"{100 * covers[0]:.1f} %" in text
    assert f"80 % interval covers {100 * m['backtest']['overall']['coverage']['80']:.1f} %" in text
    plot = json.loads((out / "metrics.json").read_text())["plot"]
    assert plot["interval"]["coverage"] == 80


def test_dry_run_names_the_baselines_and_the_backtest(tmp_path):
    result = runner.invoke(app, ["forecast", "airline", "--dry-run", "--stats", "fast",
                                 "--backtest", "4", "--refit", "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert "AutoETS, AutoTheta, Naive, SeasonalNaive" in result.output
    assert "not AutoARIMA (--stats all)" in result.output
    assert "4 origins over the test part, a model refitted at each" in result.output


def test_bad_options_are_named(tmp_path):
    cases = [(["--refit"], "--backtest"), (["--stats", "Prophet"], "'Prophet'"),
             (["--quantiles", "0.1,x"], "--quantiles"), (["--quantiles", "0.1,0.9"], "0.5")]
    for extra, words in cases:
        result = runner.invoke(app, ["forecast", "sine", "--dry-run", *extra,
                                     "--out", str(tmp_path / "o")])
        assert result.exit_code == 2 and words in result.output, (extra, result.output)


def test_without_statsforecast_the_default_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "statsforecast", None)
    result = runner.invoke(app, ["forecast", "sine", "--dry-run", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "statsforecast is not installed" in result.output
    assert "rnnkit[stats]" in result.output
    result = runner.invoke(app, ["forecast", "sine", "--dry-run", "--stats", "all",
                                 "--out", str(tmp_path)])
    assert result.exit_code == 2 and "rnnkit[stats]" in result.output


def test_a_second_run_into_the_same_out_replaces_the_model_folder(tmp_path):
    """auto (the default) then --strategy direct into one --out: the plain Forecaster's
    folder replaces the auto one whole (it was refused, and a Forecaster saved over an auto
    folder that chose the rnn kept the stale auto.json); a file rnnkit did not write is
    never deleted."""
    from rnnkit.tasks.forecast import Forecaster
    from rnnkit.tasks.forecast_auto import AUTO_FILE
    out = tmp_path / "run"
    base = ["forecast", "airline", "--quick", "--quiet", "--stats", "none", "--out", str(out)]
    first = runner.invoke(app, base)
    assert first.exit_code == 0, first.output
    assert (out / "model" / AUTO_FILE).is_file()
    second = runner.invoke(app, base + ["--strategy", "direct"])
    assert second.exit_code == 0, second.output
    assert not (out / "model" / AUTO_FILE).exists()
    assert Forecaster.load(out / "model").predict(steps=2).shape == (2, 1)
    (out / "model" / "notes.txt").write_text("mine")
    third = runner.invoke(app, base + ["--strategy", "direct"])
    assert third.exit_code != 0 and "holds files rnnkit forecast did not write (notes.txt)" \
        in third.output
    assert (out / "model" / "notes.txt").read_text() == "mine"
