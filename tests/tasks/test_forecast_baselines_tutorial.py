"""``rnnkit tutorial run forecast-baselines``: one table, the same targets for every model."""

import numpy as np
from typer.testing import CliRunner

from rnnkit import tutorials
from rnnkit.cli.main import app
from rnnkit.tutorials import forecast_baselines as fb

runner = CliRunner()


def _airline_only(monkeypatch):
    airline = next(c for c in fb.CASES if c.name == "airline")
    monkeypatch.setattr(fb, "CASES", (airline,))
    return airline


def test_quick_run_scores_every_model_on_the_models_targets(monkeypatch, tmp_path):
    case = _airline_only(monkeypatch)
    report = fb.run([0], quick=True, out=tmp_path)
    systems = [r.system for r in report.rows]
    assert systems == ["airline: rnnkit recommended", "airline: rnnkit hybrid",
                       "airline: AutoETS", "airline: AutoTheta", "airline: Naive",
                       "airline: SeasonalNaive", "airline: rnnkit auto"]  # quick: no AutoARIMA
    auto = report.row("airline: rnnkit auto")
    pick = auto.settings.removeprefix("chose ")
    if pick == "mean":        # no column of its own; RMSE is a norm, so at most the average
        members = [report.row(f"airline: rnnkit {n}").scores["test RMSE"][0]
                   for n in ("recommended", "hybrid")]
        assert auto.scores["test RMSE"][0] <= sum(members) / 2 + 1e-9
    elif pick.startswith("combined ("):   # the choice averaged with a statistical model
        base, model = pick.removeprefix("combined (").removesuffix(")").split(" and ")
        assert base in ("recommended", "hybrid", "mean")
        assert model in ("AutoARIMA", "AutoETS", "AutoTheta")
        rmse = auto.scores["test RMSE"][0]
        assert np.isfinite(rmse) and rmse > 0
        if base != "mean" and model != "AutoARIMA":     # both have a column (quick: no ARIMA)
            members = [report.row(f"airline: {n}").scores["test RMSE"][0]
                       for n in (f"rnnkit {base}", model)]
            assert rmse <= sum(members) / 2 + 1e-9      # a norm: at most the average
    else:
        other = report.row(f"airline: rnnkit {pick}").scores["test RMSE"]
        assert auto.scores["test RMSE"] == other    # auto is the one it chose, on test too
    # Naive from statsforecast is the last value before each of the model's own targets
    f, series, _ = fb._forecaster(case, quick=True)
    f.fit(series, epochs=1, verbose=0)
    origins, y = f.origins_and_targets("test")
    naive = np.asarray(series.values, dtype=float).reshape(len(series.values), -1)[origins, 0]
    rmse = float(np.sqrt(np.mean((naive - y[:, 0, 0]) ** 2)))
    assert abs(report.row("airline: Naive").median("test RMSE") - rmse) < 1e-6
    assert abs(f.evaluate("test")["baseline_last_value"]["rmse"] - rmse) < 1e-6
    text = (tmp_path / "forecast-baselines.md").read_text()
    assert "rnnkit tutorial run forecast-baselines" in text
    header = next(ln for ln in text.splitlines() if ln.startswith("| series"))
    assert "rnnkit hybrid" in header and "AutoARIMA" in header
    row = next(ln for ln in text.splitlines() if ln.startswith("| airline"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert "-" not in cells[1:4] and cells[4] == "-"    # hybrid, auto; no AutoARIMA (quick)
    assert sum(c.startswith("**") for c in cells) == 1  # one best RMSE
    assert (tmp_path / "airline" / "metrics.json").exists()
    lines = fb.conclusions(report)
    assert [ln.split(" (")[0] for ln in lines] == ["airline: rnnkit recommended",
                                                  "airline: rnnkit hybrid",
                                                  "airline: rnnkit auto"]


def test_a_model_is_one_more_entry(monkeypatch):
    _airline_only(monkeypatch)
    made = []

    def mine(case, seed, origins, y):
        made.append(seed)
        return fb.Scores(rmse=1.0, mae=0.5, seconds=0.1)
    monkeypatch.setattr(fb, "entries", lambda quick=False: [fb.Entry("rnnkit hybrid", mine)])
    report = fb.run([0, 1], quick=True)
    assert made == [0, 1]
    row = report.row("airline: rnnkit hybrid")
    assert row.scores == {"test RMSE": [1.0, 1.0], "test MAE": [0.5, 0.5]}
    assert "| **1** / 0.5 (0.1 s) |" in fb.markdown(report, [0, 1])


def test_registered_and_dry_run(tmp_path):
    assert tutorials.get("forecast-baselines") is fb
    result = runner.invoke(app, ["tutorial", "run", "forecast-baselines", "--dry-run",
                                 "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert "Forecast baselines" in result.output
