import time

import pytest
from typer.testing import CliRunner

import rnnkit as rk
from rnnkit import tutorials
from rnnkit.cli.main import app
from rnnkit.tutorials import sine

runner = CliRunner()
QUICK_SECONDS = 20      # about 10 s on a quiet 2-core machine; room for a busy one


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
                 "rnnkit SimpleRNN, torch", "baseline: predict 0", tutorials.QUICK_HEADER):
        assert text in result.output
    lines = result.output.splitlines()
    assert all("(quick)" in ln for ln in lines if ln.startswith(("NumPy", "rnnkit")))
    assert not any("(quick)" in ln for ln in lines if ln.startswith(("article", "baseline")))
    report = sine.run([0], quick=True)
    for note in sine.conclusions(report):                        # printed, from these rows
        assert note in result.output
    scores = {(r.system, r.settings): r.scores["val RMSE"][0] for r in report.rows}
    loop = scores[("rnnkit SimpleRNN, loop", "tanh, Keras init, Adam 1e-3, batch 10")]
    native = scores[("rnnkit SimpleRNN, torch", "tanh, Keras init, Adam 1e-3, batch 10")]
    assert abs(loop - native) < 1e-3              # same seed, same math, two engines
    assert loop < scores[("baseline: predict 0", "-")]
    assert tutorials.get("sine-numpy") is sine


def test_every_tutorial_is_listed_with_a_distinct_title():
    result = runner.invoke(app, ["tutorial", "list"])
    for name in ("sunspots", "stocks", "weather", "sine-numpy"):
        assert name in result.output
        assert tutorials.get(name).TITLE
    titles = [tutorials.get(n).TITLE for n in tutorials.names()]
    assert len(set(titles)) == len(titles) == len(result.output.strip().splitlines())
    assert tutorials.get("sine") is sine and "(also: sine)" in result.output


def test_tutorial_dry_run_prints_the_plan_and_writes_nothing(tmp_path):
    result = runner.invoke(app, ["tutorial", "run", "sunspots", "--dry-run", "--quick",
                                 "--out", str(tmp_path / "t"), "--threads", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "dry run: tutorial sunspots (quick)" in result.output
    assert "published" in result.output and "nothing trained or written" in result.output
    assert not (tmp_path / "t").exists()


def _report(module, rows):
    from rnnkit.tutorials import Report, Row
    metrics = sorted({m for _, _, scores in rows for m in scores})
    return Report("t", metrics, [Row(system, settings, [1.0] if system.startswith(
        ("rnnkit", "NumPy", "tutorial stack")) else [], {k: [v] for k, v in scores.items()})
        for system, settings, scores in rows])


def _sine_rows(article):
    v = "val RMSE"
    return _report(sine, [("article, published", "x", {v: 0.127}),
                          ("NumPy, correct BPTT", "article's: sigmoid", {v: article}),
                          ("NumPy, correct BPTT", "tanh, U", {v: 0.2}),
                          ("rnnkit SimpleRNN, loop", "tanh", {v: 0.3}),
                          ("rnnkit SimpleRNN, torch", "tanh", {v: 0.3}),
                          ("baseline: predict 0", "-", {v: 0.705})])


def test_sine_conclusions_follow_the_rows():
    assert "learn nothing" in sine.conclusions(_sine_rows(0.7053))[0]
    assert "do worse than predicting 0" in sine.conclusions(_sine_rows(15.18))[0]
    said = sine.conclusions(_sine_rows(0.05))
    assert "learn something" in said[0] and "beats the published" in said[0]
    assert "not below the published 0.1270" in said[1]          # best sensible row: 0.2
    report = _sine_rows(0.7)
    report.rows[2].scores["val RMSE"] = [0.0033]
    assert "38 times lower than the published" in sine.conclusions(report)[1]


def test_sunspots_and_stocks_conclusions_follow_the_rows():
    sunspots = tutorials.get("sunspots")
    m = "test RMSE"

    def sun(recipe, best):
        report = _report(sunspots, [
            ("tutorial, published", "x", {m: 0.077}),
            ("Keras 3/TF, tutorial's code", "x", {m: 0.09}),
            ("rnnkit, tutorial recipe", "x", {m: recipe}),
            ("rnnkit, recommended", "x", {m: best}),
            ("naive: repeat last value", "-", {m: 0.0796})])
        report.rows[1].scores[m] = [0.088, 0.090, 0.096]
        return sunspots.conclusions(report)
    said = sun(0.0931, 0.0716)
    assert "below the range Keras gives" in said[0]
    assert "(0.0931) loses to repeating" in said[1]
    assert "(0.0716) beats the last value and beats the published" in said[2]
    said = sun(0.06, 0.09)                                       # the opposite rows
    assert "(0.0600) beats repeating" in said[1]
    assert "(0.0900) loses to the last value and loses to the published" in said[2]
    stocks = tutorials.get("stocks")
    m = "test RMSE $"
    said = stocks.conclusions(_report(stocks, [
        ("tutorial stack, LSTM", "x", {m: 0.2}), ("rnnkit, recommended", "x", {m: 0.3112}),
        ("naive: yesterday's price", "-", {m: 0.3112})]))
    assert "0.64 times yesterday's price (0.3112): it beats it" in said[0]
    assert "it ties with it" in said[1]


def test_quick_reports_mark_measured_rows_only():
    report = _sine_rows(0.7)
    report.quick = True
    table = report.table().splitlines()
    assert table[1] == tutorials.QUICK_HEADER
    assert sum("(quick)" in ln for ln in table) == 4 + 1        # 4 measured rows + header
    assert report.to_dict()["quick"] is True


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
    start = time.perf_counter()
    report = tutorials.get(name).run([0], quick=True, out=tmp_path / name)
    seconds = time.perf_counter() - start
    if name in ("mnist-rows", "imdb-style"):        # a smoke run: seconds, small models
        assert seconds < QUICK_SECONDS, f"{name} --quick took {seconds:.1f} s"
        assert all("(32)" in r.settings for r in report.rows if r.seconds), report.table()
    rnnkit_rows = [r for r in report.rows if r.system.startswith("rnnkit")]
    assert rnnkit_rows and all(r.seconds for r in rnnkit_rows)
    values = [v for r in rnnkit_rows for v in r.scores.get(metric, [])]
    assert values and all(v == v for v in values)                  # measured, not NaN
    if name == "imdb-style":
        assert max(values) < 1e-5                                  # padding changes nothing
    assert any(p.is_file() for p in (tmp_path / name).rglob("*.json"))


class _Stop(Exception):
    """Raised by a stand-in fit once its options are seen."""


@pytest.mark.parametrize("quiet", [False, True], ids=["progress", "quiet"])
def test_tutorial_run_shows_each_rows_progress(quiet, monkeypatch):
    seen = {}

    def fit(self, *args, **kwargs):
        seen.update(kwargs)
        raise _Stop
    monkeypatch.setattr(rk.tasks.Translator, "fit", fit)
    result = runner.invoke(app, ["tutorial", "run", "translation", "--quick"]
                           + (["--quiet"] if quiet else []))
    assert isinstance(result.exception, _Stop), result.output
    assert seen["verbose"] == (0 if quiet else 1)
    assert ("training lstm-seed0:" in result.output) is not quiet
    with tutorials.run_options(verbose=1):
        assert tutorials.fit_options("row")["verbose"] == 1
    assert tutorials.fit_options("row")["verbose"] == 0          # outside the CLI: quiet


def test_tutorial_help_says_quiet_hides_progress():
    result = runner.invoke(app, ["tutorial", "run", "--help"])
    text = " ".join(result.output.split())
    assert "--quiet changes nothing" not in text and "per epoch" in text


def test_imdb_conclusion_says_rows_tie():
    imdb = tutorials.get("imdb-style")
    rows = [(s, "x", {"test accuracy": v, "padding gap": 0.0}) for s, v in [
        ("rnnkit, tutorial's model", 0.5675), ("rnnkit SimpleRNN", 0.5675),
        ("rnnkit LSTM", 0.5675), ("rnnkit GRU", 0.5675)]]
    said = imdb.conclusions(_report(imdb, rows))[-1]
    assert "all 4 rows tie" in said and "rnnkit, tutorial's model" not in said
    rows[2] = ("rnnkit LSTM", "x", {"test accuracy": 0.80, "padding gap": 0.0})
    assert imdb.conclusions(_report(imdb, rows))[-1] == "Most accurate: rnnkit LSTM (0.8000)."


def test_translation_conclusions_weigh_bleu():
    translation = tutorials.get("translation")

    def said(bleu):
        return translation.conclusions(_report(translation, [
            ("rnnkit, tutorial's model", "x", {"exact match": 0.0, "BLEU-4": 0.10}),
            ("rnnkit, recommended", "x", {"exact match": 0.0, "BLEU-4": bleu})]))
    lines = said(0.30)
    assert "Exact match: the recommended model (0.0000) ties with" in lines[0]
    assert "BLEU-4: the recommended model (0.3000) beats the tutorial's (0.1000)" in lines[1]
    assert "BLEU-4 decides: the recommended model beats" in lines[2]
    assert len(said(0.10)) == 2                                  # both tie: nothing decides


def test_quick_conclusions_say_they_come_from_a_quick_run():
    report = _sine_rows(0.7)
    assert tutorials.conclude(report, ["x beats y."]) == ["x beats y."]
    report.quick = True
    assert tutorials.conclude(report, ["x beats y."]) == [tutorials.QUICK_CONCLUSION
                                                          + "x beats y."]
    result = runner.invoke(app, ["tutorial", "run", "sine-numpy", "--quick", "--quiet"])
    conclusions = [ln for ln in result.output.splitlines() if "published" in ln
                   and ("beats" in ln or "learn" in ln or "lowest" in ln)]
    assert conclusions and all(ln.startswith(tutorials.QUICK_CONCLUSION)
                               for ln in conclusions), result.output


def test_tutorial_texts_name_no_internal_places():
    import inspect
    for name in tutorials.names():
        source = inspect.getsource(tutorials.get(name))
        assert "in the issue" not in source and "shared/anchors" not in source, name
    assert "measured on this machine (the project's anchor scripts)" in inspect.getsource(
        tutorials.get("sunspots"))
