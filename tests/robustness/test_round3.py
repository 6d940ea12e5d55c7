"""A third campaign: devices, id dtypes, huge sizes, paths, JSON, mixed saves, date columns."""

import datetime as dt
import json
import os

import pytest
import torch

import rnnkit as rk
from rnnkit.cli.main import app
from rnnkit.data.tables import read_csv_series


def _model():
    m = rk.Sequential([rk.GRU(4), rk.Dense(1)])
    m(torch.zeros(1, 5, 3))
    return m


CALLS = {
    "meta tensor to a recurrent layer": (
        lambda tmp: rk.GRU(4)(torch.randn(2, 5, 3, device="meta")), TypeError,
        "expects a CPU or CUDA tensor, got device 'meta'"),
    "meta tensor to Dense": (lambda tmp: rk.Dense(2)(torch.randn(2, 3, device="meta")),
                             TypeError, "got device 'meta'"),
    "seed too large": (lambda tmp: rk.set_seed(2**64), ValueError, "seed must be below 2\\*\\*63"),
    "threads far above the CPUs": (
        lambda tmp: _model().fit(torch.randn(4, 5, 3), torch.randn(4, 1), threads=999,
                                 verbose=0), ValueError, "threads must be at most"),
    "save with a NUL byte": (lambda tmp: _model().save(f"{tmp}/a\x00b"), ValueError,
                             "holds a NUL byte"),
    "save under a file": (lambda tmp: (open(f"{tmp}/afile", "w").close(),
                                       _model().save(f"{tmp}/afile/m")), ValueError,
                          "afile is a file, not a folder"),
    "save with a name too long": (lambda tmp: _model().save(f"{tmp}/{'x' * 300}"), ValueError,
                                  "longer than 255 bytes"),
    "log_dir is a file": (lambda tmp: (open(f"{tmp}/tb", "w").close(), _model().fit(
        torch.randn(4, 5, 3), torch.randn(4, 1), log_dir=f"{tmp}/tb", verbose=0)),
        ValueError, "log_dir .*tb is a file"),
    "summary of a billion steps": (lambda tmp: rk.Sequential([rk.GRU(4)]).summary(
        input_shape=(10**9, 3), print_fn=None), ValueError, "too large for a summary"),
    "generate 10**9 characters": (
        lambda tmp: _generator().generate("ab", length=10**9), ValueError,
        "length must be at most 1,000,000"),
}


def _generator():
    gen = rk.tasks.TextGenerator(units=4, embedding=4)
    gen.fit("abcabcabcabc" * 20, epochs=1, verbose=0)
    return gen


@pytest.mark.parametrize("case", list(CALLS))
def test_round3_calls(tmp_path, case):
    call, kind, pattern = CALLS[case]
    with pytest.raises(kind, match=pattern):
        call(tmp_path)


def test_small_integer_token_ids_are_read():
    emb = rk.Embedding(10, 4)
    assert torch.equal(emb(torch.tensor([[1, 2]], dtype=torch.uint8)),
                       emb(torch.tensor([[1, 2]])))


def test_duplicate_keys_in_a_config_are_refused(tmp_path):
    _model().save(tmp_path / "m")
    path = tmp_path / "m" / "config.json"
    text = path.read_text().replace('"format": "rnnkit-model"',
                                    '"format": "rnnkit-model", "format": "rnnkit-model"', 1)
    path.write_text(text)
    with pytest.raises(ValueError, match="key 'format' appears twice"):
        rk.load(tmp_path / "m")


def test_weights_of_another_save_are_refused(tmp_path):
    _model().save(tmp_path / "a")
    _model().save(tmp_path / "b")
    os.replace(tmp_path / "b" / "weights.safetensors", tmp_path / "a" / "weights.safetensors")
    with pytest.raises(ValueError, match="is not the weights file .* was saved with"):
        rk.load(tmp_path / "a")
    meta = json.loads((tmp_path / "b" / "config.json").read_text())
    assert len(meta["weights_sha256"]) == 64


def test_complex_input_to_a_classifier_is_refused():
    import numpy as np
    clf = rk.tasks.SequenceClassifier(units=4)
    x = np.random.default_rng(0).normal(size=(12, 4, 2)).astype(np.float32)
    clf.fit(x, [0, 1] * 6, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="x must hold real numbers, got complex64"):
        clf.predict(x.astype(np.complex64))


def _csv(path, labels):
    path.write_text("Date,Close\n" + "".join(f"{d},{i}\n" for i, d in enumerate(labels)))
    return path


DAYS = [(dt.date(2000, 1, 1) + dt.timedelta(days=i)).isoformat() for i in range(40)]

DATES = {
    "descending": (list(reversed(DAYS)), "comes after '2000-02-09' .* increasing time order"),
    "duplicate": (DAYS[:20] + DAYS[19:39], "'2000-01-20' appears twice, at lines 21 and 22"),
    "mixed forms": (DAYS[:20] + ["01/21/2000"], "'01/21/2000' is not a date of the form"),
    "words": ([f"apple{i}" for i in range(40)], "'apple0' is not a date"),
    "empty time": (DAYS[:5] + ["2000-01-05 12:00"], "is not a date of the form"),
}


@pytest.mark.parametrize("case", list(DATES))
def test_date_columns_must_be_increasing_dates_of_one_form(tmp_path, case):
    labels, pattern = DATES[case]
    with pytest.raises(ValueError, match=pattern):
        read_csv_series(_csv(tmp_path / "d.csv", labels), ["Close"], "Date")


@pytest.mark.parametrize("labels", [
    DAYS,
    [(dt.date(2012, 1, 3) + dt.timedelta(days=i)).strftime("%m/%d/%Y").lstrip("0")
     for i in range(40)],
    [f"{y}-{m:02d}" for y in (1949, 1950, 1951) for m in range(1, 13)],
    [f"2013-01-01 {h:02d}:00" for h in range(24)],
])
def test_common_date_forms_are_read(tmp_path, labels):
    series = read_csv_series(_csv(tmp_path / "d.csv", labels), ["Close"], "Date")
    assert list(series.times) == labels


def test_cli_names_the_bad_option(tmp_path):
    from typer.testing import CliRunner
    r = CliRunner().invoke(app, ["explain", "--input", ""])
    assert r.exit_code == 2 and "no steps given" in r.output
    r = CliRunner().invoke(app, ["explain", "--units", "100000"])
    assert r.exit_code == 2 and "--units" in r.output


FORECASTER = {
    "difference 'no'": (lambda: rk.tasks.Forecaster(difference="no"), TypeError,
                        "difference must be True or False, got 'no'"),
    "bidirectional 'no'": (lambda: rk.tasks.Forecaster(bidirectional="no"), TypeError,
                           "bidirectional must be True or False"),
    "complex series": (lambda: rk.tasks.Forecaster(units=4, window=6).fit(
        __import__("numpy").sin(__import__("numpy").arange(80) * 0.3) + 1j, epochs=1,
        verbose=0), TypeError, "series must hold real numbers, got complex128"),
}


@pytest.mark.parametrize("case", list(FORECASTER))
def test_forecaster_round3(case):
    call, kind, pattern = FORECASTER[case]
    with pytest.raises(kind, match=pattern):
        call()


def test_forecaster_steps_are_capped_and_numpy_ints_taken():
    import numpy as np
    f = rk.tasks.Forecaster(units=4, window=6)
    series = torch.sin(torch.arange(80.0) * 0.3).requires_grad_()   # a tensor needing grad
    f.fit(series, epochs=1, verbose=0)
    assert f.predict(steps=np.int64(3)).shape[0] == 3
    with pytest.raises(ValueError, match="steps must be at most 100,000"):
        f.predict(steps=10**9)
