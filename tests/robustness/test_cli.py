"""Bad input on the command line: exit code 2, ``error: <message>`` on stderr naming the
option, file or column, and never a traceback; every case fails before any training.

Most cases run in-process through ``main()`` (what the ``rnnkit`` script calls); a few run
the real entry point in a subprocess."""

import gzip
import json
import os
import subprocess
import sys

import pytest

import rnnkit as rk
from rnnkit.cli.main import app, main

GOOD_CSV = "Date,Close,Volume\n" + "".join(
    f"2020-01-{i % 28 + 1:02d},{100 + i},{i}\n" for i in range(60))


def _run(capsys, *args):
    """(exit code, stdout, stderr) of ``rnnkit ARGS``."""
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return info.value.code, out, err


def _bad(capsys, args, *needles):
    code, out, err = _run(capsys, *args)
    assert code == 2, (code, out, err)
    assert err.startswith("error: "), err
    assert "Traceback" not in out + err
    for needle in needles:
        assert needle in err, f"{needle!r} not in {err!r}"
    return err


@pytest.fixture(autouse=True)
def _no_training(monkeypatch):
    """Every bad-input case must fail before a training loop starts."""
    monkeypatch.delenv("RNNKIT_DEBUG", raising=False)

    def refuse(*args, **kwargs):
        raise AssertionError("training started before the bad input was refused")
    monkeypatch.setattr(rk.training.Trainer, "fit", refuse)


@pytest.fixture
def a_file(tmp_path):
    path = tmp_path / "taken"
    path.write_text("not a folder")
    return path


# ---------------------------------------------------------------- forecast

def test_forecast_out_is_an_existing_file(capsys, a_file):
    _bad(capsys, ["forecast", "sine", "--out", a_file], "--out", str(a_file),
         "existing file")


def test_forecast_out_under_a_file(capsys, a_file):
    _bad(capsys, ["forecast", "sine", "--out", a_file / "run"], "--out", str(a_file))


def test_forecast_val_and_test_both_zero(capsys):
    _bad(capsys, ["forecast", "sunspots", "--val", "0", "--test", "0"], "--val 0", "--test 0")


def test_forecast_val_plus_test_leave_no_training(capsys):
    _bad(capsys, ["forecast", "sine", "--val", "0.6", "--test", "0.5", "--dry-run"],
         "--val 0.6", "--test 0.5")


def test_forecast_training_part_too_small_for_the_window(capsys):
    _bad(capsys, ["forecast", "airline", "--window", "140", "--dry-run"],
         "training part has 101 rows", "window + 1 = 141")


def test_forecast_window_longer_than_the_series(capsys):
    _bad(capsys, ["forecast", "airline", "--window", "400", "--dry-run"],
         "'airline' has 144 rows", "window + horizon = 401")


def test_forecast_missing_source(capsys, tmp_path):
    _bad(capsys, ["forecast", tmp_path / "nowhere.csv", "--column", "x"], "nowhere.csv",
         "neither a series dataset")


def test_forecast_csv_needs_column(capsys, tmp_path):
    path = tmp_path / "p.csv"
    path.write_text(GOOD_CSV)
    _bad(capsys, ["forecast", path], "--column")


def test_forecast_gzipped_csv(capsys, tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes(gzip.compress(GOOD_CSV.encode()))
    _bad(capsys, ["forecast", path, "--column", "Close"], str(path), "gzip")


def test_forecast_latin1_csv(capsys, tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes(("City,Close\n" + "Zürich,1\n" * 40).encode("latin-1"))
    _bad(capsys, ["forecast", path, "--column", "Close"], str(path), "line 2", "UTF-8")


def test_forecast_unknown_csv_column(capsys, tmp_path):
    path = tmp_path / "p.csv"
    path.write_text(GOOD_CSV)
    _bad(capsys, ["forecast", path, "--column", "Price"], "no column 'Price'", "Close")


def test_forecast_short_row_and_blank_trailing_lines(capsys, tmp_path):
    path = tmp_path / "p.csv"
    path.write_text(GOOD_CSV + "2020-03-01\n\n\n")
    _bad(capsys, ["forecast", path, "--column", "Close", "--date-column", "Date"],
         "line 62", "column 'Close'")


def test_forecast_missing_values_name_the_column(capsys, tmp_path):
    path = tmp_path / "p.csv"
    path.write_text(GOOD_CSV.replace(",105,", ",,"))
    _bad(capsys, ["forecast", path, "--column", "Close", "--dry-run"], "missing values",
         "column 'Close'", "fill policy")


def test_forecast_bad_fill_policy(capsys):
    _bad(capsys, ["forecast", "sine", "--fill", "zero"], "--fill", "'zero'")


def test_forecast_bad_strategy(capsys):
    _bad(capsys, ["forecast", "sine", "--strategy", "magic"], "strategy must be one of")


def test_forecast_season_larger_than_the_series(capsys):
    _bad(capsys, ["forecast", "airline", "--season", "1000", "--dry-run"], "season=1000",
         "144 rows")


def test_forecast_future_past_horizon_with_extra_features(capsys, tmp_path):
    path = tmp_path / "p.csv"
    path.write_text(GOOD_CSV)
    _bad(capsys, ["forecast", path, "--column", "Close", "--features", "Volume",
                  "--future", "5"], "--future 5", "--horizon 1", "Volume")


def test_forecast_unknown_symbol(capsys):
    _bad(capsys, ["forecast", "stocks", "--symbol", "XYZ"], "XYZ")


# ---------------------------------------------------------------- explain

def test_explain_malformed_weights_json(capsys, tmp_path):
    path = tmp_path / "w.json"
    path.write_text('{"weight_ih": [[1.0]')
    _bad(capsys, ["explain", "--weights", path], str(path))


def test_explain_weights_json_of_the_wrong_shape(capsys, tmp_path):
    path = tmp_path / "w.json"
    path.write_text(json.dumps([1, 2, 3]))
    _bad(capsys, ["explain", "--weights", path], str(path))


def test_explain_missing_weights_file(capsys, tmp_path):
    _bad(capsys, ["explain", "--weights", tmp_path / "none.json"], "none.json")


def test_explain_missing_model_folder(capsys, tmp_path):
    _bad(capsys, ["explain", "--model", tmp_path / "m"], str(tmp_path / "m"))


def test_explain_plot_is_a_file(capsys, a_file):
    _bad(capsys, ["explain", "--plot", a_file], "--plot", str(a_file))


def test_explain_weights_and_model_together(capsys, tmp_path):
    _bad(capsys, ["explain", "--weights", tmp_path / "w.json", "--model", tmp_path / "m"],
         "--weights", "--model")


# ---------------------------------------------------------------- generate

def test_generate_model_with_a_bad_vocabulary(capsys, tmp_path):
    (tmp_path / "generator.json").write_text(json.dumps(
        {"config": {}, "history": {}, "fit_seconds": 0.0, "trained_tokens": 0}))
    (tmp_path / "vocab.json").write_text("{not json")
    _bad(capsys, ["generate", "--model", tmp_path], "vocab.json")


def test_generate_model_missing(capsys, tmp_path):
    _bad(capsys, ["generate", "--model", tmp_path / "g"], "--model", str(tmp_path / "g"))


def test_generate_needs_train_or_model(capsys):
    _bad(capsys, ["generate"], "--train", "--model")


def test_generate_top_p_out_of_range(capsys, tmp_path):
    _bad(capsys, ["generate", "shakespeare", "--train", "--top-p", "2", "--out",
                  tmp_path / "g"], "--top-p", "(0, 1]")


def test_generate_missing_text_file(capsys, tmp_path):
    _bad(capsys, ["generate", tmp_path / "none.txt", "--train", "--out", tmp_path / "g"],
         "none.txt")


def test_generate_prompt_unseen_in_the_text(capsys, tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("abc abc abc\n" * 50)
    _bad(capsys, ["generate", text, "--train", "--prompt", "xyz", "--dry-run", "--out",
                  tmp_path / "g"], "--prompt", "'xyz'")


# ---------------------------------------------------------------- tutorial, classify, ...

@pytest.mark.parametrize("seeds", ["a,b", "1,x", "-1", ","])
def test_tutorial_bad_seeds(capsys, seeds):
    _bad(capsys, ["tutorial", "run", "sunspots", "--seeds", seeds], "--seeds")


def test_tutorial_unknown_name(capsys):
    _bad(capsys, ["tutorial", "run", "nope"], "unknown tutorial 'nope'")


def test_tutorial_out_is_a_file(capsys, a_file):
    _bad(capsys, ["tutorial", "run", "sunspots", "--quick", "--out", a_file], "--out")


def test_classify_out_is_a_file(capsys, a_file):
    _bad(capsys, ["classify", "digits", "--out", a_file], "--out", str(a_file))


@pytest.mark.parametrize("args, needle", [
    (["--lr", "-1"], "--lr"),
    (["--pooling", "median"], "--pooling"),
    (["--cell", "rnn"], "--cell"),
])
def test_classify_bad_options(capsys, args, needle):
    _bad(capsys, ["classify", "digits", *args], needle)


def test_translate_out_is_a_file(capsys, a_file):
    _bad(capsys, ["translate", "numbers-fr", "--train", "--out", a_file], "--out")


def test_translate_missing_model(capsys, tmp_path):
    _bad(capsys, ["translate", "--model", tmp_path / "t", "three"], str(tmp_path / "t"))


def test_translate_missing_pairs_file(capsys, tmp_path):
    _bad(capsys, ["translate", tmp_path / "pairs.tsv", "--train", "--out", tmp_path / "t"],
         "pairs.tsv")


def test_bench_unknown_cell(capsys):
    _bad(capsys, ["bench", "--cells", "transformer"], "--cells", "transformer")


def test_bench_json_is_a_folder(capsys, tmp_path):
    _bad(capsys, ["bench", "--quick", "--json", tmp_path], "--json", str(tmp_path))


# ---------------------------------------------------------------- click's own usage errors

@pytest.mark.parametrize("args, needle", [
    (["explain", "--units", "0"], "--units"),
    (["forecast", "sine", "--season", "-3"], "--season"),
    (["forecast", "sine", "--epochs", "many"], "--epochs"),
    (["forecast", "sine", "--no-such-option"], "--no-such-option"),
    (["forecast"], "SOURCE"),
    (["nosuchcommand"], "nosuchcommand"),
    (["datasets", "show", "nope"], "unknown dataset"),
])
def test_usage_errors_keep_the_usage_text_and_exit_2(capsys, args, needle):
    code, out, err = _run(capsys, *args)
    text = " ".join(err.replace("│", " ").split()).replace("'", "")
    assert code == 2 and "Usage:" in err and "Traceback" not in out + err, (code, err)
    assert needle.replace("'", "") in text or needle.lower() in text.lower(), err


# ---------------------------------------------------------------- help, debug, Ctrl-C, bugs

@pytest.mark.parametrize("args", [[], ["forecast"], ["classify"], ["generate"], ["translate"],
                                  ["explain"], ["bench"], ["convert"], ["datasets"],
                                  ["datasets", "show"], ["tutorial"], ["tutorial", "run"]])
def test_every_help_still_works(capsys, args):
    code, out, err = _run(capsys, *args, "--help")
    assert code == 0 and "Usage:" in out and not err


def test_no_arguments_shows_the_help(capsys):
    code, out, err = _run(capsys)
    assert code == 2 and "forecast" in out + err and "Traceback" not in out + err


def test_debug_option_reraises_with_the_traceback(capsys, a_file):
    with pytest.raises(ValueError, match="--out"):
        main(["--debug", "forecast", "sine", "--out", str(a_file)])


def test_debug_environment_variable_reraises(capsys, a_file, monkeypatch):
    monkeypatch.setenv("RNNKIT_DEBUG", "1")
    with pytest.raises(ValueError, match="--out"):
        main(["forecast", "sine", "--out", str(a_file)])


def test_ctrl_c_exits_130_with_one_line(capsys, monkeypatch):
    def interrupted():
        raise KeyboardInterrupt
    monkeypatch.setattr(rk.datasets, "names", interrupted)
    code, out, err = _run(capsys, "datasets", "list")
    assert code == 130 and err.strip() == "interrupted (Ctrl-C)"


def test_a_key_error_is_a_bug_and_keeps_its_traceback(monkeypatch):
    def broken():
        raise KeyError("internal")
    monkeypatch.setattr(rk.datasets, "names", broken)
    with pytest.raises(KeyError):
        main(["datasets", "list"])


def test_clirunner_on_app_sees_the_same_error():
    from typer.testing import CliRunner
    result = CliRunner().invoke(app, ["tutorial", "run", "sunspots", "--seeds", "a,b"])
    assert result.exit_code == 2 and "error: --seeds" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


# ---------------------------------------------------------------- the real entry point

def _subprocess(*args, env=None):
    return subprocess.run([sys.executable, "-m", "rnnkit.cli.main", *map(str, args)],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "RNNKIT_DEBUG": "", **(env or {})})


def test_entry_point_prints_one_clean_error(a_file):
    r = _subprocess("forecast", "sine", "--out", a_file)
    assert r.returncode == 2 and r.stderr.startswith("error: --out ")
    assert str(a_file) in r.stderr and "Traceback" not in r.stdout + r.stderr


def test_entry_point_debug_shows_the_traceback(a_file):
    r = _subprocess("--debug", "forecast", "sine", "--out", a_file)
    assert r.returncode == 1 and "Traceback (most recent call last)" in r.stderr
    assert "ValueError: --out" in r.stderr
