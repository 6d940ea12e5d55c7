"""``strategy="auto"`` (``tasks/forecast_auto.py``): the choice reads the validation part
only, says what it chose and why, and the chosen model (the rnn, the hybrid or their mean)
predicts, saves, loads and reports; ``rnnkit forecast`` uses it by default."""

import json
from dataclasses import replace

import numpy as np
import pytest
from typer.testing import CliRunner

from rnnkit.cli.main import app
from rnnkit.tasks.forecast import ForecastConfig, Forecaster
from rnnkit.tasks.forecast_auto import AUTO_FILE, AutoForecaster, MeanForecaster
from rnnkit.tasks.hybrid import HybridForecaster, hybrid_preset
from rnnkit.types import Choice

from ..helpers import airline_like

runner = CliRunner()


def _hybrid(horizon=1, epochs=3):
    """The general hybrid preset, trained for a few epochs only."""
    return replace(hybrid_preset("y", season=12, window=12, horizon=horizon, rows=150),
                   epochs=epochs)


def _auto(rnn_lr=3e-3, horizon=1, stats="auto", **rnn):
    cfg = ForecastConfig(cell="gru", units=4, window=12, horizon=horizon, lr=rnn_lr,
                         season=12, **rnn)
    return AutoForecaster(cfg, _hybrid(horizon), stats=stats)


def _fit(auto, y, epochs=3):
    return auto.fit(y, epochs=epochs, batch_size=16, verbose=0, seed=0)


def _force(auto, kind):
    """``kind`` as if validation had chosen it, to reach its evaluate, save and load paths."""
    auto.chosen, auto.choice = auto.candidates[kind], Choice(kind, "set by the test")


def _one_by_one(model, y, origins):
    """``model``'s one-step forecasts from each origin, each from the rows up to it alone."""
    return np.array([model.predict(steps=1, series=y[:o + 1])[0, 0] for o in origins])


def test_the_choice_never_reads_the_test_part():
    y = airline_like()
    first = _auto()
    _fit(first, y)
    origin, _ = first.origins_and_targets("test")
    poisoned = y.copy()        # every test value replaced by positive noise 10x the series
    poisoned[origin[0] + 1:] = np.random.default_rng(1).uniform(1, 10 * y.max(),
                                                                len(y) - origin[0] - 1)
    second = _auto()
    _fit(second, poisoned)
    assert second.choice == first.choice
    for name, score in first.validation.items():              # the same to the last bit
        timeless = {k: v for k, v in score.items() if k != "fit_seconds"}
        assert {k: second.validation[name][k] for k in timeless} == timeless, name
    # combined was considered too: its statistical models were fitted on the training rows
    # and rolled through validation, never reading the poisoned test rows
    assert {"rnn", "hybrid", "mean", "combined"} <= {n for n, v in first.validation.items()
                                                     if "rmse" in v}
    assert second.candidates["combined"].model == first.candidates["combined"].model
    # the test part did change: the same chosen model scores very differently there
    assert second.evaluate("test")["rmse"] > 3 * first.evaluate("test")["rmse"]
    # and so does every candidate, the mean and the combined too: their validation scores
    # above did not
    for name in ("rnn", "hybrid", "mean", "combined"):
        _force(first, name)
        _force(second, name)
        assert second.evaluate("test")["rmse"] > 3 * first.evaluate("test")["rmse"], name


def test_evaluate_report_and_save_carry_the_record(tmp_path):
    y = airline_like()
    # an RNN that cannot learn (lr 1e-7) beside the hybrid: the choice is the hybrid (the
    # statistical combination left out: tests/tasks/test_forecast_combined.py has it)
    auto = _auto(rnn_lr=1e-7, stats=False)
    _fit(auto, y)
    # (22 validation targets: the choice reads three earlier folds too, and says so)
    assert auto.kind == "hybrid" and auto.choice.reason.startswith("lowest relative RMSE")
    assert "3 earlier folds" in auto.choice.reason
    assert set(auto.validation) == {"rnn", "hybrid", "recursive", "mean", "combined"}
    assert auto.validation["combined"] == {"skipped": "not asked for (stats=False)"}
    assert auto.validation["hybrid"]["rmse"] < auto.validation["mean"]["rmse"] \
        < auto.validation["rnn"]["rmse"]
    assert "horizon 1" in auto.validation["recursive"]["skipped"]
    m = auto.evaluate("test", stats=["Naive"], backtest=3)
    rec = m["auto"]
    assert rec["kind"] == "hybrid" and rec["validation"] == auto.validation
    assert rec["validation_part"]["targets"] == auto.validation["hybrid"]["targets"]
    # the hybrid's own scores on the Forecaster's targets; naive and Naive line up
    assert m["rmse"] == pytest.approx(auto.chosen.evaluate("test")["rmse"], rel=1e-9)
    assert m["rmse"] == pytest.approx(rec["scores_on_test"]["hybrid"]["rmse"], rel=1e-9)
    assert m["stats"]["Naive"]["rmse"] == pytest.approx(m["baseline_last_value"]["rmse"])
    assert m["backtest"]["overall"]["rmse"] == pytest.approx(m["rmse"])
    assert len(m["backtest"]["folds"]) == 3
    refit = auto.evaluate("test", backtest=2, refit=True)["backtest"]
    assert refit["refit"] and all(f["fit_seconds"] > 0 for f in refit["folds"])
    metrics = auto.report(tmp_path / "r", future=5)
    written = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert written["auto"]["kind"] == written["test"]["auto"]["kind"] == "hybrid"
    assert len(metrics["future"]["values"]["x0"]) == 5
    assert (tmp_path / "r" / "forecast.png").is_file()
    auto.save(tmp_path / "m")
    back = AutoForecaster.load(tmp_path / "m")
    assert back.choice == auto.choice and back.validation == auto.validation
    np.testing.assert_allclose(back.predict(steps=4), auto.predict(steps=4))
    assert isinstance(back.chosen, HybridForecaster)
    # a chosen hybrid forecasts quantiles too (from its validation errors), saved with it
    q = auto.predict(steps=1, quantiles=True)
    assert q.shape == (1, 1, 3) and (np.diff(q, axis=-1) >= 0).all()
    np.testing.assert_allclose(back.predict(steps=1, quantiles=True), q)


def test_the_rnn_alone_and_a_resave_over_another_kind(tmp_path):
    y = airline_like()
    hybrid = _auto(rnn_lr=1e-7)
    _fit(hybrid, y, epochs=1)
    hybrid.save(tmp_path / "m")
    rnn = AutoForecaster(ForecastConfig(cell="gru", units=4, window=12), None, stats=False)
    _fit(rnn, y, epochs=1)
    assert rnn.kind == "rnn" and rnn.validation["hybrid"] == {
        "skipped": "not asked for (hybrid=None)"}
    assert "needs the hybrid" in rnn.validation["mean"]["skipped"]
    assert rnn.choice.reason.startswith("the only candidate")
    rnn.save(tmp_path / "m")                  # over the hybrid: its files must go
    assert not (tmp_path / "m" / "hybrid.json").exists()
    back = AutoForecaster.load(tmp_path / "m")
    assert back.kind == "rnn"
    np.testing.assert_allclose(back.predict(steps=3), rnn.predict(steps=3))
    assert rnn.evaluate("val")["auto"]["kind"] == "rnn"


def test_horizon_two_adds_the_recursive_rnn_unless_it_cannot_feed_back():
    y = airline_like()
    auto = _auto(horizon=2)
    _fit(auto, y, epochs=1)
    assert {"rnn", "recursive", "hybrid", "mean"} <= {n for n, v in auto.validation.items()
                                                      if "rmse" in v}
    assert auto.evaluate("test")["windows"] == len(auto.origins_and_targets("test")[0])
    two = np.stack([y, np.roll(y, 1)], axis=1)             # an extra input column
    cfg = ForecastConfig(cell="gru", units=4, window=12, horizon=2, targets=("x0",))
    auto = AutoForecaster(cfg, _hybrid(horizon=2, epochs=1))
    _fit(auto, two, epochs=1)
    assert "fed back" in auto.validation["recursive"]["skipped"]
    assert "rmse" in auto.validation["hybrid"] and "rmse" in auto.validation["mean"]
    q = AutoForecaster(ForecastConfig(units=4, window=12, quantiles=(0.1, 0.5, 0.9)),
                       _hybrid())
    _fit(q, y, epochs=1)           # quantiles: every candidate but the recursive rnn
    assert {"rnn", "hybrid", "mean"} <= set(q.candidates)
    assert "direct" in q.validation["recursive"]["skipped"]
    assert q.predict(steps=1, quantiles=True).shape == (1, 1, 3)


def test_bad_input_is_named():
    cfg = ForecastConfig(units=4, window=12)
    cases = [
        (lambda: AutoForecaster(ForecastConfig(strategy="recursive")), "strategy='direct'"),
        (lambda: AutoForecaster({"cell": "gru"}), "rnn must be a ForecastConfig"),
        (lambda: AutoForecaster(cfg, {"units": 4}), "hybrid must be a HybridPreset"),
        (lambda: AutoForecaster(cfg, hybrid_preset("y", season=None, window=12, horizon=3)),
         "horizon"),
        (lambda: AutoForecaster(cfg, None).fit(airline_like(), val=0.0), "validation part"),
        (lambda: AutoForecaster(cfg, None).predict(), "not fitted"),
        (lambda: AutoForecaster(cfg, None).evaluate(), "not fitted"),
    ]
    for make, words in cases:
        with pytest.raises(ValueError, match=words):
            make()
    with pytest.raises(TypeError, match="recursive"):
        AutoForecaster(cfg, None, recursive="yes")
    with pytest.raises(TypeError, match="mean must be True or False"):
        AutoForecaster(cfg, None, mean=1)
    with pytest.raises(ValueError, match="at least two members"):
        MeanForecaster({"rnn": None})


def test_load_refuses_a_folder_without_a_choice(tmp_path):
    (tmp_path / "m").mkdir()
    with pytest.raises(ValueError, match=AUTO_FILE):
        AutoForecaster.load(tmp_path / "m")
    (tmp_path / "m" / AUTO_FILE).write_text(json.dumps({"kind": "prophet"}))
    with pytest.raises(ValueError, match="kind must be one of"):
        AutoForecaster.load(tmp_path / "m")


def test_the_cli_default_is_auto_on_a_csv(tmp_path):
    y = airline_like(120)
    dates = [f"{1990 + i // 12}-{i % 12 + 1:02d}" for i in range(len(y))]
    path = tmp_path / "series.csv"
    path.write_text("date,y\n" + "".join(f"{d},{v:.3f}\n" for d, v in zip(dates, y)))
    out = tmp_path / "run"
    result = runner.invoke(app, ["forecast", str(path), "--column", "y", "--date-column",
                                 "date", "--quick", "--quiet", "--stats", "none",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = result.output
    assert "strategy auto: fits the RNN and the ES-RNN hybrid" in text
    assert "auto chose " in text and "lowest validation RMSE" in text
    for row in ("rnn ", "hybrid ", "recursive ", "mean ", "combined "):
        assert any(line.startswith(row) for line in text.splitlines()), row
    # --stats none leaves the test table's statistical rows out, not the combination
    assert "then tries the mean of that choice and the best on validation" in text
    combined = next(line for line in text.splitlines() if line.startswith("combined "))
    assert " mean of " in combined and " and Auto" in combined
    assert "combined kept: " in text or "combined not kept: " in text
    # 18 validation months: the choice read three earlier folds too, and says so
    assert "with fewer than 100 validation targets, over 3 earlier folds too" in text
    assert "earlier folds the choice also read" in text and "fold 3 " in text
    assert "3 earlier folds" in text.split("auto chose ", 1)[1].splitlines()[0]
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["auto"]["validation_part"]["folds"]) == 3
    assert metrics["auto"]["kind"] in ("rnn", "hybrid", "mean", "combined")
    assert metrics["test"]["auto"]["validation"] == metrics["auto"]["validation"]
    shown = {"hybrid": "hybrid", "mean": "mean of rnn and hybrid", "combined": "combined"}
    assert f"rnnkit auto: {shown.get(metrics['auto']['kind'], 'GRU')}" in text
    back = AutoForecaster.load(out / "model")
    assert back.choice.kind == metrics["auto"]["kind"]


def test_the_cli_names_bad_strategy_and_auto_without_validation(tmp_path):
    for extra, words in ((["--strategy", "best"], "--strategy must be one of auto"),
                         (["--folds", "many"], "--folds must be auto or an int from 0 to 10"),
                         (["--folds", "11"], "--folds must be auto or an int from 0 to 10"),
                         (["--folds", "2", "--strategy", "direct"],
                          "--folds applies to --strategy auto"),
                         (["--val", "0"], "--strategy auto chooses on the validation part")):
        result = runner.invoke(app, ["forecast", "sine", "--dry-run", *extra,
                                     "--out", str(tmp_path / "o")])
        assert result.exit_code == 2 and words in result.output, (extra, result.output)
    result = runner.invoke(app, ["forecast", "sine", "--dry-run", "--strategy", "direct",
                                 "--val", "0", "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert "direct (the RNN alone" in result.output
    result = runner.invoke(app, ["forecast", "airline", "--dry-run", "--out",
                                 str(tmp_path / "o")])
    assert "auto: fits the RNN and the ES-RNN hybrid" in result.output
    assert "then tries the mean of that choice and the best on validation" in result.output
    result = runner.invoke(app, ["forecast", "airline", "--dry-run", "--folds", "0",
                                 "--out", str(tmp_path / "o")])
    assert "(the simpler within 1 %; on the validation part alone)" in result.output
    result = runner.invoke(app, ["forecast", "airline", "--dry-run", "--no-combine-stats",
                                 "--out", str(tmp_path / "o")])
    assert "no statistical combination (--no-combine-stats)" in result.output
    result = runner.invoke(app, ["forecast", "sine", "--dry-run", "--strategy", "direct",
                                 "--combine-stats", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "--combine-stats applies to --strategy auto" \
        in result.output, result.output


def test_a_near_tie_keeps_the_simpler_model_and_says_so():
    from rnnkit.tasks.forecast_auto import _reason, pick
    tie = {"rnn": {"rmse": 15.83}, "hybrid": {"rmse": 15.81}}     # sunspots' validation
    assert pick(tie) == "rnn"
    assert "within 1 % of hybrid's 15.81 (+0.13 %)" in _reason("rnn", tie, 423)
    clear = {"rnn": {"rmse": 41.12}, "hybrid": {"rmse": 13.21}}   # airline's
    assert pick(clear) == "hybrid"
    assert _reason("hybrid", clear, 21).startswith("lowest validation RMSE: 13.21")
    # the mean is listed last: it wins only by more than 1 %
    assert pick({"rnn": {"rmse": 10.05}, "hybrid": {"rmse": 11}, "mean": {"rmse": 10}}) == "rnn"
    assert pick({"rnn": {"rmse": 10.2}, "hybrid": {"rmse": 11}, "mean": {"rmse": 10}}) == "mean"


def test_the_mean_is_the_average_of_its_members_and_saves_both(tmp_path):
    from rnnkit.serve.models import detect_kind
    y = airline_like()
    auto = _auto()
    _fit(auto, y)
    rnn, hybrid, mean = (auto.candidates[n] for n in ("rnn", "hybrid", "mean"))
    assert mean.members == {"rnn": rnn, "hybrid": hybrid}
    np.testing.assert_allclose(mean.predict(steps=5),
                               (rnn.predict(steps=5) + hybrid.predict(steps=5)) / 2)
    # its validation score: the members' own forecasts, one origin at a time, averaged
    origins = np.intersect1d(rnn.origins_and_targets("val")[0], hybrid.origins("val"))
    both = (_one_by_one(rnn, y, origins) + _one_by_one(hybrid, y, origins)) / 2
    score = auto.validation["mean"]
    assert score["targets"] == len(origins)
    assert score["rmse"] == pytest.approx(np.sqrt(np.mean((both - y[origins + 1]) ** 2)))
    assert score["fit_seconds"] == rnn.fit_seconds + hybrid.fit_seconds
    _force(auto, "mean")
    m = auto.evaluate("test", stats=["Naive"], backtest=3)
    origins, _ = auto.origins_and_targets("test")
    both = (_one_by_one(rnn, y, origins) + _one_by_one(hybrid, y, origins)) / 2
    assert m["rmse"] == pytest.approx(np.sqrt(np.mean((both - y[origins + 1]) ** 2)))
    assert m["rmse"] == pytest.approx(m["auto"]["scores_on_test"]["mean"]["rmse"])
    assert m["stats"]["Naive"]["rmse"] == pytest.approx(m["baseline_last_value"]["rmse"])
    assert m["backtest"]["overall"]["rmse"] == pytest.approx(m["rmse"])
    assert m["backtest"]["folds"][0]["naive_rmse"] > 0
    refit = auto.evaluate("test", backtest=2, refit=True)["backtest"]
    assert all(f["fit_seconds"] > 0 for f in refit["folds"])
    q = auto.predict(steps=1, quantiles=True)        # from the mean's validation errors
    assert q.shape == (1, 1, 3) and q[0, 0, 1] == pytest.approx(auto.predict(steps=1)[0, 0])
    metrics = auto.report(tmp_path / "r", future=4)
    assert metrics["kind"] == "mean" and set(metrics["config"]) == {"rnn", "hybrid"}
    np.testing.assert_allclose(metrics["future"]["values"]["x0"], auto.predict(steps=4)[:, 0])
    assert (tmp_path / "r" / "forecast.png").is_file()
    # saved: each member in its subfolder, nothing a tool could take for one model
    auto.save(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [AUTO_FILE, "hybrid", "rnn"]
    back = AutoForecaster.load(tmp_path / "m")
    assert back.choice == auto.choice and back.validation == auto.validation
    np.testing.assert_array_equal(back.predict(steps=6), auto.predict(steps=6))
    assert detect_kind(tmp_path / "m") == "forecaster"      # rnnkit serve: /forecast only
    # another kind saved over it takes the members away; the mean over that, the rnn's files
    _force(auto, "rnn")
    auto.save(tmp_path / "m")
    assert not (tmp_path / "m" / "rnn").exists() and not (tmp_path / "m" / "hybrid").exists()
    assert AutoForecaster.load(tmp_path / "m").kind == "rnn"
    assert detect_kind(tmp_path / "m") == "forecaster"
    _force(auto, "mean")
    auto.save(tmp_path / "m")
    assert not (tmp_path / "m" / "config.json").exists()
    np.testing.assert_array_equal(AutoForecaster.load(tmp_path / "m").predict(steps=3),
                                  auto.predict(steps=3))


def test_a_save_that_fails_leaves_the_earlier_folder_whole_and_user_files_stop_it(
        tmp_path, monkeypatch):
    y = airline_like()
    auto = _auto()
    _fit(auto, y)
    _force(auto, "mean")
    auto.save(tmp_path / "m")
    before = {p.relative_to(tmp_path): p.read_bytes() for p in (tmp_path / "m").rglob("*")
              if p.is_file()}
    want = auto.predict(steps=3)

    def broken(self, path, overwrite=False):
        raise KeyboardInterrupt          # stopped while the hybrid member is being written
    _force(auto, "mean")
    monkeypatch.setattr(HybridForecaster, "save", broken)
    with pytest.raises(KeyboardInterrupt):
        auto.save(tmp_path / "m")
    monkeypatch.undo()
    after = {p.relative_to(tmp_path): p.read_bytes() for p in (tmp_path / "m").rglob("*")
             if p.is_file()}
    assert after == before and sorted(p.name for p in tmp_path.iterdir()) == ["m"]
    np.testing.assert_array_equal(AutoForecaster.load(tmp_path / "m").predict(steps=3), want)
    # a file rnnkit did not write, even inside a member folder, is never deleted
    (tmp_path / "m" / "rnn" / "NOTES.txt").write_text("mine")
    _force(auto, "rnn")
    with pytest.raises(ValueError, match=r"did not write \(rnn/NOTES.txt\)"):
        auto.save(tmp_path / "m")
    assert (tmp_path / "m" / "rnn" / "NOTES.txt").read_text() == "mine"
    assert AutoForecaster.load(tmp_path / "m").kind == "mean"


def test_a_mean_names_bad_members():
    y = airline_like()
    auto = _auto()
    _fit(auto, y)
    rnn, hybrid = auto.candidates["rnn"], auto.candidates["hybrid"]
    with pytest.raises(TypeError, match="members must be a dict"):
        MeanForecaster([rnn, hybrid])
    with pytest.raises(TypeError, match=r"members\['hybrid'\] must be a Forecaster"):
        MeanForecaster({"rnn": rnn, "hybrid": "x"})
    with pytest.raises(ValueError, match=r"members\['b'\] is not fitted"):
        MeanForecaster({"a": rnn, "b": Forecaster(ForecastConfig(units=2, window=4))})
    two = AutoForecaster(ForecastConfig(cell="gru", units=4, window=12, horizon=2),
                         _hybrid(2))
    _fit(two, y, epochs=1)
    with pytest.raises(ValueError, match="same targets at the same horizon"):
        MeanForecaster({"rnn": rnn, "hybrid": two.candidates["hybrid"]})
    with pytest.raises(ValueError, match="must begin with the fitted series' first 12"):
        hybrid.predict(steps=1, series=y[5:])


def test_refit_backtest_of_a_hybrid_fitted_on_a_named_column():
    """The refit hybrid is trained on the rows before each origin under the column name the
    chosen one was fitted on (it was refused as "target 'passengers' is not a column (x0)")."""
    from rnnkit.datasets import load
    series = load("airline")
    auto = _auto(stats=False)
    auto.fit(series, epochs=2, batch_size=16, verbose=0, seed=0)
    _force(auto, "hybrid")
    bt = auto.evaluate("test", backtest=2, refit=True)["backtest"]
    assert bt["refit"] and len(bt["folds"]) == 2
    assert all(f["fit_seconds"] > 0 and np.isfinite(f["rmse"]) for f in bt["folds"])
