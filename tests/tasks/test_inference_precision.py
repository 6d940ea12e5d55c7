"""precision= at inference: generate, classify, translate, forecast and RNN.step in bf16
against fp32, the state kept fp32, and a bad value refused by name before any work.

The tolerance, as in tests/engines/test_bf16.py.  bfloat16 keeps 8 significant bits: unit
roundoff u = 2^-9.  Under bf16 only the products change; each rounds its two operands and
its result once: at most 3u relative error per pre-activation.  A recurrent layer adds
that at every step it has read (the state carries the errors on, the gates do not amplify
them) and each Dense after it once more, so an output that depends on n products in a
chain is within n * 3u of fp32, as a relative Frobenius error:

    a step's output after t steps        t * 3u
    a network's logits / forecasts       (steps read + Dense layers) * 3u
    probabilities (softmax or sigmoid)   |dp| <= 1/2 max|dz|: the derivatives of p_i with
                                         respect to all logits sum to 2 p_i (1 - p_i) <= 1/2

``RNN.step`` is the exception.  Under autocast (and so at precision="bf16") it runs torch's
single-step kernels (``torch.gru_cell`` and friends) or the cell's forward, whose gate math
autocast also leaves in bf16: the gate sums, the activations and the gate products round
too.  The longest chain in one step is a GRU with the reset gate before: r (3u + sum + sigmoid),
r * h, its product with W_hn (operands and result), the n sum, tanh, (1 - z) * n: 12
roundings, so a step's output after t steps is within t * 12u.  Measured: 2-3.6u over 6
steps, and 6u after 20 (rnnkit's whole-sequence bf16 engine, whose gate math is fp32, stays
below 3u there).

Each test also checks that bf16 changed the result, so the products did run in bf16.
"""

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import rnnkit as rk
import rnnkit.tasks.generate as generate_module
from rnnkit.cli.main import app
from rnnkit.precision import (
    BF16_STEP_MIN_H,
    bf16_blocker,
    fit_precision,
    inference,
    to_fp32,
    using_precision,
)
from rnnkit.tasks import Forecaster, SequenceClassifier, TextGenerator, Translator

U = 2.0 ** -9                 # bf16 unit roundoff
TEXT = "the quick brown fox jumps over the lazy dog. " * 12
PAIRS = [("one", "un"), ("two", "deux"), ("three", "trois"), ("one two", "un deux"),
         ("two three", "deux trois"), ("three one", "trois un")] * 4

needs_bf16 = pytest.mark.skipif(bf16_blocker(torch.device("cpu"), torch.float32) is not None,
                                reason="this CPU has no bfloat16")   # CI CPUs all have it


def bound(products: int) -> float:
    """The relative error after a chain of ``products`` bf16 products (module docstring)."""
    return products * 3 * U


def step_bound(t: int) -> float:
    """The relative error of ``RNN.step``'s output after ``t`` bf16 steps (module docstring)."""
    return t * 12 * U


def rel(a, b) -> float:
    a, b = torch.as_tensor(np.asarray(a, dtype=np.float64)), \
        torch.as_tensor(np.asarray(b, dtype=np.float64))
    return float((a - b).norm() / b.norm())


# ---------------------------------------------------------------------- bad values
@pytest.mark.parametrize("call", [
    lambda: TextGenerator().generate("the", 5, precision="fp16"),
    lambda: SequenceClassifier().predict_proba(["a"], precision="fp16"),
    lambda: SequenceClassifier().predict(["a"], precision="fp16"),
    lambda: Translator().translate("one", precision="fp16"),
    lambda: Forecaster().predict(precision="fp16"),
    lambda: Forecaster().predict_windows(np.zeros((1, 12, 1)), precision="fp16"),
    lambda: rk.GRU(4).step("not a tensor", precision="fp16"),
    lambda: inference(rk.GRU(4, input_size=2), "fp16").__enter__(),
], ids=["generate", "predict_proba", "predict", "translate", "forecast", "forecast_windows",
        "step", "inference"])
def test_a_bad_precision_is_refused_by_name_before_any_work(call):
    # untrained tasks and a bad input: the precision is what is named, so it came first
    with pytest.raises(ValueError, match=r"precision must be one of \('fp32', 'bf16', "
                                         r"'auto'\), got 'fp16' \(float16 is not supported"):
        call()


def test_inference_yields_the_choice_and_outputs_leave_in_fp32():
    model = rk.Sequential([rk.GRU(8, input_size=3), rk.Dense(2, input_size=8)])
    x = torch.randn(4, 5, 3)
    with inference(model, "fp32") as choice:
        want = model(x)
        assert not torch.is_grad_enabled()
    assert choice.kind == "fp32" and torch.is_grad_enabled()
    with inference(model, "auto") as choice:                 # H = 8: bf16 does not pay
        assert torch.equal(model(x), want)
    assert choice.kind == "fp32" and "H < 256" in choice.reason
    if bf16_blocker(torch.device("cpu"), torch.float32) is None:
        with inference(model, "bf16") as choice:
            got = to_fp32(model(x))
        assert choice.kind == "bf16" and got.dtype == torch.float32
        assert 0 < rel(got, want) < bound(5 + 1)
    with pytest.raises(ValueError, match="precision='bf16' cannot run: .*float64"):
        with inference(model.double(), "bf16"):
            pass


# ---------------------------------------------------------------------- RNN.step
@needs_bf16
@pytest.mark.parametrize("make", [rk.LSTM, rk.GRU, rk.SimpleRNN,
                                  lambda h, **kw: rk.GRU(h, reset_after=False, **kw)],
                         ids=["lstm", "gru", "simple", "gru-reset-before"])
def test_step_in_bf16_keeps_the_state_fp32_and_stays_close(make):
    torch.manual_seed(0)
    layer = make(40, input_size=3)
    xs = torch.randn(6, 2, 3)
    s32 = s16 = s_cast = None
    for t, x in enumerate(xs, start=1):
        y32, s32 = layer.step(x, s32)
        y16, s16 = layer.step(x, s16, precision="bf16")
        assert layer.precision_choice.kind == "bf16"
        assert layer.precision_choice.reason == "precision='bf16'"
        with torch.autocast("cpu", dtype=torch.bfloat16):       # "exactly as under autocast"
            y_cast, s_cast = layer.step(x, s_cast)
        leaves = list(s16) if isinstance(s16, tuple) else [s16]
        assert {a.dtype for a in [y16, *leaves]} == {torch.float32}
        assert torch.equal(y16, y_cast)
        assert 0 < rel(y16, y32) < step_bound(t)
    y, _ = layer.step(xs[0])
    assert layer.precision_choice.kind == "fp32"                 # the default again


def test_step_auto_is_fp32_below_the_crossover_even_under_autocast():
    layer, x = rk.LSTM(16, input_size=3), torch.randn(2, 3)
    want, _ = layer.step(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got, state = layer.step(x, precision="auto")
    assert torch.equal(got, want) and state.c.dtype == torch.float32
    assert layer.precision_choice.kind == "fp32" and "H=16 < 1024" in layer.precision_choice.reason


def test_step_auto_keeps_a_lone_step_fp32_and_takes_bf16_in_a_stream_from_the_crossover():
    # a lone step casts its weights every call (measured slower in bf16 at any H); inside a
    # block, where autocast casts them once, a step at H >= BF16_STEP_MIN_H takes bf16
    layer = rk.GRU(BF16_STEP_MIN_H, input_size=2)
    x = torch.randn(1, 2)
    want, _ = layer.step(x)
    got, _ = layer.step(x, precision="auto")
    assert torch.equal(got, want)
    assert layer.precision_choice.kind == "fp32" and "lone" in layer.precision_choice.reason
    with using_precision("auto"), torch.autocast("cpu", dtype=torch.bfloat16):
        streamed, state = layer.step(x)
    assert layer.precision_choice.kind == "bf16" and state.dtype == torch.float32
    assert f">= {BF16_STEP_MIN_H}" in layer.precision_choice.reason
    assert not torch.equal(streamed, want)


# ---------------------------------------------------------------------- generate
@pytest.fixture(scope="module")
def generator():
    gen = TextGenerator(cell="gru", units=16, embedding=8, seq_len=20, batch_size=4)
    gen.fit(TEXT, epochs=1, verbose=0)
    return gen


def _generation_logits(gen, monkeypatch, precision, prompt, forced):
    """Every logits vector generate() samples from, the tokens forced to ``forced``."""
    seen, ids = [], iter(forced)

    def record(logits, *args):
        seen.append(logits.detach().double()[2:].clone())        # 0, 1: [PAD], [UNK]
        assert logits.dtype == torch.float32
        return next(ids)
    monkeypatch.setattr(generate_module, "sample_next", record)
    gen.generate(prompt, len(forced), precision=precision)
    return seen


@needs_bf16
def test_generate_in_bf16_samples_from_logits_close_to_fp32(generator, monkeypatch):
    prompt = "the"
    forced = [int(i) for i in generator.vectorizer.encode(" quick", unknown="error")[0]]
    want = _generation_logits(generator, monkeypatch, "fp32", prompt, forced)
    got = _generation_logits(generator, monkeypatch, "bf16", prompt, forced)
    assert len(got) == len(want) == len(forced)
    for k, (g, w) in enumerate(zip(got, want)):
        # after len(prompt) + k tokens read, and the Dense over the vocabulary
        assert 0 < rel(g, w) < bound(len(prompt) + k + 1), k


def test_generate_auto_on_a_small_model_is_fp32(generator):
    a = generator.generate("the", 20, temperature=0.8, seed=1)
    assert generator.generate("the", 20, temperature=0.8, seed=1, precision="auto") == a


# ---------------------------------------------------------------------- classify
@pytest.fixture(scope="module")
def classifier_and_data():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(48, 8, 6)).astype(np.float32), rng.integers(0, 3, 48)
    clf = SequenceClassifier(cell="gru", units=16)
    clf.fit(x, y, epochs=2, verbose=0, seed=0)
    return clf, x


@needs_bf16
def test_classifier_probabilities_in_bf16_close_to_fp32(classifier_and_data):
    clf, x = classifier_and_data
    z32 = clf.model.predict(torch.from_numpy(x))
    z16 = clf.model.predict(torch.from_numpy(x), precision="bf16")
    assert 0 < rel(z16, z32) < bound(8 + 1)                      # T = 8 steps + Dense
    p32, p16 = clf.predict_proba(x), clf.predict_proba(x, precision="bf16")
    assert p16.dtype == np.float64 and p16.shape == p32.shape == (48, 3)
    assert not np.array_equal(p16, p32)
    # |dp| <= 1/2 max|dz| <= 1/2 ||dz|| <= 1/2 bound ||z||
    assert np.abs(p16 - p32).max() < 0.5 * bound(8 + 1) * float(z32.double().norm())
    np.testing.assert_array_equal(clf.predict(x, precision="bf16"), p16.argmax(1))


# ---------------------------------------------------------------------- translate
@pytest.fixture(scope="module")
def translator():
    tr = Translator(cell="gru", units=16, embedding=8, lr=1e-2)
    tr.fit(PAIRS, epochs=15, batch_size=8, verbose=0, val=0)      # a few words, not just EOS
    return tr


def _decoder_logits(tr, precision, text):
    """(input token, logits) of every decoder step of a greedy translation."""
    steps, decode = [], tr.model.decode

    def record(tgt_in, *args):
        logits, state = decode(tgt_in, *args)
        steps.append((int(tgt_in[0, -1]), to_fp32(logits).double()[0, -1]))
        return logits, state
    tr.model.decode = record
    try:
        text_out = tr.translate(text, precision=precision)
    finally:
        del tr.model.decode
    return text_out, steps


@needs_bf16
def test_translation_in_bf16_decodes_from_logits_close_to_fp32(translator):
    source = "one two"
    want_text, want = _decoder_logits(translator, "fp32", source)
    got_text, got = _decoder_logits(translator, "bf16", source)
    assert isinstance(got_text, str)
    assert translator.model.decoder.precision_choice.kind == "bf16"
    assert len(want) >= 3 and want_text                  # GO and at least two words
    compared = 0
    for t, ((tok_g, g), (tok_w, w)) in enumerate(zip(got, want), start=1):
        if tok_g != tok_w:          # greedy paths parted at a near tie: nothing to compare
            break
        # the encoder's 2 source steps, t decoder steps, the output Dense
        assert 0 < rel(g, w) < bound(2 + t + 1), t
        compared += 1
    assert compared >= 1
    if [t for t, _ in got] == [t for t, _ in want]:
        assert got_text == want_text


# ---------------------------------------------------------------------- forecast
@pytest.fixture(scope="module")
def forecaster():
    t = np.arange(160, dtype=np.float64)
    f = Forecaster(cell="gru", units=16, window=8, horizon=3, scaler=None)
    f.fit(np.sin(t / 5), epochs=2, verbose=0)
    return f


@needs_bf16
def test_forecasts_in_bf16_close_to_fp32(forecaster):
    f = forecaster
    # no scaler: the forecasts are the network's outputs, 8 steps read + the Dense
    want, got = f.predict(), f.predict(precision="bf16")
    assert got.dtype == np.float64 and got.shape == want.shape == (3, 1)
    assert 0 < rel(got, want) < bound(8 + 1)
    t = np.arange(40, dtype=np.float64)
    windows = np.stack([np.sin((t[k:k + 8] + 3) / 5) for k in range(0, 32, 4)])[..., None]
    want, got = f.predict_windows(windows), f.predict_windows(windows, precision="bf16")
    assert got.shape == want.shape == (8, 3, 1)
    assert 0 < rel(got, want) < bound(8 + 1)
    assert f.model.layers[0].precision_choice.kind == "bf16"
    np.testing.assert_array_equal(f.predict_windows(windows, precision="auto"), want)


# ---------------------------------------------------------------------- the CLI
@needs_bf16
def test_generate_cli_samples_a_saved_model_at_the_precision_asked(generator, tmp_path,
                                                                   monkeypatch):
    generator.save(tmp_path / "m")
    plan = CliRunner().invoke(app, ["generate", "--model", str(tmp_path / "m"), "--prompt",
                                    "the", "--precision", "bf16", "--dry-run"])
    assert plan.exit_code == 0, plan.output
    assert "precision" in plan.output and "bf16 (precision='bf16'" in plan.output
    asked, generate = [], TextGenerator.generate

    def spy(self, *args, **kwargs):
        asked.append(kwargs.get("precision"))
        return generate(self, *args, **kwargs)
    monkeypatch.setattr(TextGenerator, "generate", spy)
    args = ["generate", "--model", str(tmp_path / "m"), "--prompt", "the", "--length", "30",
            "--temperature", "1.5", "--seed", "2"]
    for p in ("fp32", "bf16"):
        result = CliRunner().invoke(app, [*args, "--precision", p])
        assert result.exit_code == 0, result.output
        assert asked[-1] == p
        want = generate(generator, "the", 30, temperature=1.5, seed=2, precision=p)
        assert result.output.strip() == want.strip()
    bad = CliRunner().invoke(app, [*args, "--precision", "fp16"])
    assert bad.exit_code == 2 and "must be one of fp32, bf16, auto, got 'fp16'" in bad.output


def test_a_precision_block_without_autocast_is_no_stream_and_bad_values_are_named():
    # only an open bf16 autocast shares the weight casts between steps: inside a plain
    # using_precision("fp32") block, a step asked for "auto" is still a lone step
    layer = rk.GRU(BF16_STEP_MIN_H, input_size=2)
    with using_precision("fp32"):
        layer.step(torch.randn(1, 2), precision="auto")
    assert layer.precision_choice.kind == "fp32" and "lone" in layer.precision_choice.reason
    with pytest.raises(ValueError, match="precision must be one of .* got 'bf17'"):
        fit_precision(layer, "bf17")


def test_a_call_of_one_time_step_takes_the_streaming_crossover():
    # generation feeds one token at a time: T = 1 is a streaming step (bf16 from
    # BF16_STEP_MIN_H), while a longer call at the same H takes bf16 from BF16_MIN_H
    layer = rk.GRU(512, input_size=3, return_sequences=True)
    model = rk.Sequential([layer])
    with inference(model, "auto") as choice:
        model(torch.randn(1, 1, 3))
        one = layer.precision_choice
        model(torch.randn(1, 5, 3))
        five = layer.precision_choice
    assert choice.kind == "bf16"
    assert one.kind == "fp32" and f"< {BF16_STEP_MIN_H}" in one.reason
    assert five.kind == "bf16"
