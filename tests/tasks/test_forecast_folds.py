"""Earlier folds in ``strategy="auto"`` (``tasks/forecast_auto.py``): with a short validation
part the choice also reads folds cut before it, each refitted on its own rows, and never the
test part."""

from dataclasses import replace

import numpy as np
import pytest

from rnnkit.datasets.series import Series
from rnnkit.tasks.forecast import ForecastConfig
from rnnkit.tasks.forecast_auto import (
    FOLD_TARGETS,
    FOLDS,
    TIE,
    AutoForecaster,
    _predictions,
    _relative_scores,
    pick,
)
from rnnkit.tasks.hybrid import hybrid_preset

from ..helpers import airline_like


def _auto(folds="auto", stats="auto", rows=150):
    cfg = ForecastConfig(cell="gru", units=4, window=12, lr=3e-3, season=12)
    hybrid = replace(hybrid_preset("y", season=12, window=12, rows=rows), epochs=3)
    return AutoForecaster(cfg, hybrid, stats=stats, folds=folds)


OPTS = dict(epochs=3, batch_size=16, verbose=0, seed=0)


def test_a_short_validation_part_adds_earlier_folds_that_end_before_it():
    y = airline_like()
    auto = _auto()
    auto.fit(y, **OPTS)
    span = auto.record()["validation_part"]
    assert span["targets"] < FOLD_TARGETS
    folds = span["folds"]
    assert [f["label"] for f in folds] == [f"fold {i}" for i in range(1, FOLDS + 1)]
    # each fold's scored part ends before the next later one begins: fold 1 before the
    # validation part, fold 2 before fold 1, ...
    later = int(span["from"])
    for f in folds:
        assert int(f["to"]) < later and f["targets"] > 0
        later = int(f["from"])
    # every candidate was scored on every fold, and the choice reads their relative scores
    scored = {n: v for n, v in auto.validation.items() if "relative" in v}
    assert {"rnn", "hybrid", "mean"} <= set(scored)
    assert all(len(v["fold_rmse"]) == FOLDS for v in scored.values())
    base = auto.validation["combined"].get("base", auto.choice.kind)
    assert base == pick({n: {"rmse": v["relative"]} for n, v in scored.items()})
    assert "3 earlier folds" in auto.choice.reason
    # the combined's statistical model is the one best over the parts, not on validation
    comb = auto.validation["combined"]
    rel = comb["stats_relative"]
    assert comb["model"] == min(rel, key=rel.get)
    # and it is kept when its RMSE over the base's, as a geometric mean over the validation
    # part and the folds, is more than TIE lower
    def err(p, t):
        return float(np.sqrt(np.mean((p - t) ** 2)))
    ratios = [comb["rmse"] / auto.validation[base]["rmse"]] + [
        err((f["preds"][base] + f["stats"][comb["model"]]) / 2, f["true"])
        / err(f["preds"][base], f["true"]) for f in auto._earlier]
    kept = float(np.exp(np.mean(np.log(ratios)))) * (1 + TIE) < 1
    assert (auto.choice.kind == "combined") == kept
    assert comb["verdict"].startswith("kept" if kept else "not kept")


def test_fold_one_is_the_candidates_refitted_on_the_rows_before_validation():
    y = airline_like()
    auto = _auto(stats=False)
    auto.fit(y, **OPTS)
    start = int(auto.record()["validation_part"]["from"])     # the first validation target
    alone = AutoForecaster(auto.config, auto.hybrid_preset, stats=False, folds=0)
    alone.fit(Series("cut", np.arange(start).astype(str), y[:start], ("x0",)), **OPTS)
    for name in ("rnn", "hybrid"):
        _, pred, true = _predictions(alone.candidates[name], "test")
        rmse = float(np.sqrt(np.mean((pred - true) ** 2)))
        assert auto.validation[name]["fold_rmse"][0] == pytest.approx(rmse, rel=1e-9), name


def test_folds_zero_is_the_validation_rule_and_a_long_validation_part_needs_none():
    y = airline_like()
    auto = _auto(folds=0)
    auto.fit(y, **OPTS)
    assert "folds" not in auto.record()["validation_part"]
    scores = {n: v for n, v in auto.validation.items() if n in ("rnn", "hybrid", "mean")}
    assert all("relative" not in v for v in scores.values())
    assert auto.validation["combined"].get("base", auto.choice.kind) == pick(scores)
    # folds="auto" adds none when the validation part already has FOLD_TARGETS targets
    long = np.sin(np.arange(720) / 5) + 2
    cfg = ForecastConfig(cell="gru", units=2, window=6)
    auto = AutoForecaster(cfg, None, stats=False)
    auto.fit(long, epochs=1, batch_size=64, verbose=0, seed=0)
    span = auto.record()["validation_part"]
    assert span["targets"] >= FOLD_TARGETS and "folds" not in span


def test_relative_scores_are_a_geometric_mean_of_each_parts_ratio():
    one = _relative_scores([{"a": 2.0, "b": 3.0}])
    assert one == pytest.approx({"a": 1.0, "b": 1.5})
    # a: best on the first part, twice the best on the second; b: 10 % worse, then best
    two = _relative_scores([{"a": 1.0, "b": 1.1}, {"a": 4.0, "b": 2.0}])
    assert two == pytest.approx({"a": 2 ** 0.5, "b": 1.1 ** 0.5})
    # a part's scale does not weigh: the same ratios on parts 1000 times apart
    assert _relative_scores([{"a": 1.0, "b": 1.1}, {"a": 4000.0, "b": 2000.0}]) \
        == pytest.approx(two)
    # a perfect forecast on a part (RMSE 0) is the best there
    assert _relative_scores([{"a": 0.0, "b": 1.0}])["a"] == 1.0


@pytest.mark.parametrize("bad", [-1, 11, True, "3", 2.0])
def test_bad_folds_are_named(bad):
    with pytest.raises(ValueError, match="folds must be 'auto' or an int from 0 to 10"):
        _auto(folds=bad)


def test_a_fold_too_short_to_fit_stops_the_folds_and_says_why():
    y = airline_like(96)
    auto = _auto(folds=4, stats=False, rows=96)
    auto.fit(y, **OPTS)
    span = auto.record()["validation_part"]
    assert len(span.get("folds", [])) < 4
    assert "could not" in span["folds_note"]
    assert f"fold {len(span.get('folds', [])) + 1} (the first" in span["folds_note"]


def test_one_candidate_without_a_combination_fits_no_folds():
    y = airline_like()
    cfg = ForecastConfig(cell="gru", units=4, window=12, season=12)
    auto = AutoForecaster(cfg, None, stats=False, mean=False)
    auto.fit(y, **OPTS)
    span = auto.record()["validation_part"]
    assert span["targets"] < FOLD_TARGETS and "folds" not in span
    assert "nothing for them to choose" in span["folds_note"]
    assert auto.kind == "rnn" and "relative" not in auto.validation["rnn"]
