import pytest
from typer.testing import CliRunner

from rnnkit import tutorials
from rnnkit.cli.main import app
from rnnkit.tutorials import sine

runner = CliRunner()


def test_tutorial_list_and_unknown_name():
    result = runner.invoke(app, ["tutorial", "list"])
    assert result.exit_code == 0 and "sine-numpy" in result.output
    result = runner.invoke(app, ["tutorial", "run", "nope"])
    assert result.exit_code != 0 and "unknown tutorial 'nope'" in result.output


def test_sine_data_matches_the_article():
    x, y, xv, yv = sine.data()
    assert x.shape == (100, 50, 1) and xv.shape == (50, 50, 1)
    assert y[0, 0] == x[1, -1, 0]                 # consecutive windows overlap by 49


def test_sine_quick_run_prints_the_comparison():
    result = runner.invoke(app, ["tutorial", "run", "sine-numpy", "--quick"])
    assert result.exit_code == 0, result.output
    for text in ("article, published", "0.1270", "NumPy, correct BPTT", "rnnkit SimpleRNN, loop",
                 "rnnkit SimpleRNN, native", "baseline: predict 0"):
        assert text in result.output
    report = sine.run([0], quick=True)
    scores = {(r.system, r.settings): r.scores["val RMSE"][0] for r in report.rows}
    loop = scores[("rnnkit SimpleRNN, loop", "tanh, Keras init, Adam 1e-3, batch 10")]
    native = scores[("rnnkit SimpleRNN, native", "tanh, Keras init, Adam 1e-3, batch 10")]
    assert abs(loop - native) < 1e-3              # same seed, same math, two engines
    assert loop < scores[("baseline: predict 0", "-")]
    assert tutorials.get("sine-numpy") is sine


def test_every_tutorial_is_listed_with_a_title():
    result = runner.invoke(app, ["tutorial", "list"])
    for name in ("sunspots", "stocks", "weather", "sine-numpy"):
        assert name in result.output
        assert tutorials.get(name).TITLE


def test_stocks_and_weather_quick_runs(tmp_path):
    stocks = tutorials.get("stocks").run([0], quick=True, out=tmp_path / "s")
    naive = stocks.row("naive: yesterday's price").median("test RMSE $")
    assert 0 < naive < 1.0 and stocks.row("rnnkit, recommended").median("test RMSE $") > 0
    assert (tmp_path / "s" / "forecast.png").exists()
    weather = tutorials.get("weather").run([0], quick=True)
    assert weather.row("naive: same hour yesterday").median("RMSE 24h") > 0
    assert "RMSE 24h" in weather.table()


@pytest.mark.parametrize("name, metric", [("mnist-rows", "test accuracy"),
                                          ("imdb-style", "padding gap"),
                                          ("shakespeare", "held-out nats/char"),
                                          ("translation", "exact match")])
def test_sequence_tutorials_quick_runs(name, metric, tmp_path):
    report = tutorials.get(name).run([0], quick=True, out=tmp_path / name)
    rnnkit_rows = [r for r in report.rows if r.system.startswith("rnnkit")]
    assert rnnkit_rows and all(r.seconds for r in rnnkit_rows)
    values = [v for r in rnnkit_rows for v in r.scores.get(metric, [])]
    assert values and all(v == v for v in values)                  # measured, not NaN
    if name == "imdb-style":
        assert max(values) < 1e-5                                  # padding changes nothing
    assert any(p.is_file() for p in (tmp_path / name).rglob("*.json"))
