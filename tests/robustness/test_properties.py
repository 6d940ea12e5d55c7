"""Property tests (hypothesis): padding invariance and chunked = full for every engine of
every built-in cell, save/load identity of random models, windows and splits that never
leak the future (the Forecaster's too), and the TextVectorizer's round trips.

Sizes are small so the file runs in seconds; ``database=None`` keeps hypothesis from
writing a ``.hypothesis/`` folder into the checkout.
"""

import math
import string
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rnnkit as rk
from rnnkit.data import PAD, UNK, TextVectorizer, make_windows, shifted_windows, split_series

from ..helpers import randomize

TOL = 1e-10
FAST = settings(max_examples=12, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])

# ---------------------------------------------------------------- cells and engines
# Eligibility (rnnkit/engines/select.py): "loop" runs any cell; "rnnkit" any built-in
# cell; "torch" only LSTM, GRU(reset_after=True) and SimpleRNN tanh/relu, and only
# for right padding.  Ineligible pairs are left out here and checked to raise below.
CELLS = {
    "simple-tanh": lambda H, **kw: rk.SimpleRNN(H, activation="tanh", **kw),
    "simple-relu": lambda H, **kw: rk.SimpleRNN(H, activation="relu", **kw),
    "simple-sigmoid": lambda H, **kw: rk.SimpleRNN(H, activation="sigmoid", **kw),
    "simple-linear": lambda H, **kw: rk.SimpleRNN(H, activation="linear", **kw),
    "lstm": lambda H, **kw: rk.LSTM(H, **kw),
    "gru-after": lambda H, **kw: rk.GRU(H, reset_after=True, **kw),
    "gru-before": lambda H, **kw: rk.GRU(H, reset_after=False, **kw),
    "lnlstm": lambda H, **kw: rk.LayerNormLSTM(H, **kw),
}
NATIVE = {"simple-tanh", "simple-relu", "lstm", "gru-after"}
ELIGIBLE = [(c, e) for c in CELLS for e in ("loop", "torch", "rnnkit")
            if e != "torch" or c in NATIVE]
INELIGIBLE = [(c, "torch") for c in CELLS if c not in NATIVE]
WRAPS = ("forward", "go_backwards", "bidirectional", "bidirectional-of-backwards")


def _layer(cell, engine, D, H, seed, wrap="forward", **kw):
    """A float64 layer with random non-trivial weights (biases and LN gains included)."""
    layer = CELLS[cell](H, input_size=D, engine=engine, return_state=True,
                        go_backwards=wrap in ("go_backwards", "bidirectional-of-backwards"), **kw)
    if wrap.startswith("bidirectional"):
        layer = rk.Bidirectional(layer)
    torch.manual_seed(seed)
    return randomize(layer).to(torch.float64).eval()


def _split(result):
    """(output, [state tensors]) of a return_state call."""
    return result[0], list(result[1:])


def _close(a, b, what):
    assert a.shape == b.shape, f"{what}: shapes {tuple(a.shape)} != {tuple(b.shape)}"
    err = (a - b).abs().max().item() if a.numel() else 0.0
    assert err <= TOL, f"{what}: max abs difference {err:.3g} > {TOL}"


@st.composite
def padded_batches(draw, max_b=4, max_t=6):
    B = draw(st.integers(1, max_b))
    T = draw(st.integers(1, max_t))
    lengths = draw(st.lists(st.integers(1, T), min_size=B, max_size=B))
    return B, T, lengths


@pytest.mark.parametrize("cell,engine", ELIGIBLE)
@FAST
@given(batch=padded_batches(), D=st.integers(1, 3), H=st.integers(1, 4),
       wrap=st.sampled_from(WRAPS), return_sequences=st.booleans(), use_mask=st.booleans(),
       seed=st.integers(0, 2**16))
def test_padding_never_changes_a_result(cell, engine, batch, D, H, wrap, return_sequences,
                                        use_mask, seed):
    """Each row alone (its real steps only) = the same row right-padded in a batch of
    random sequences with random garbage in the padding; padded outputs are zeros."""
    B, T, lengths = batch
    layer = _layer(cell, engine, D, H, seed, wrap, return_sequences=return_sequences)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, T, D, generator=g, dtype=torch.float64)
    lens = torch.tensor(lengths)
    real = torch.arange(T) < lens[:, None]
    x = torch.where(real[..., None], x, 50 * torch.randn(B, T, D, generator=g,
                                                         dtype=torch.float64))
    padded = layer(x, mask=real) if use_mask else layer(x, lengths=lens)
    out, states = _split(padded)
    assert layer.engine_choice.kind == engine
    for b, L in enumerate(lengths):
        out_b, states_b = _split(layer(x[b:b + 1, :L]))
        if return_sequences:
            _close(out[b, :L], out_b[0], f"row {b} outputs (L={L})")
            assert bool((out[b, L:] == 0).all()), f"row {b}: padded steps must output zeros"
        else:
            _close(out[b], out_b[0], f"row {b} last output (L={L})")
        assert len(states) == len(states_b)
        for k, (s, s_b) in enumerate(zip(states, states_b)):
            _close(s[b], s_b[0], f"row {b} state {k} (L={L})")


def _interior_mask(draw, B, T):
    rows = []
    for _ in range(B):
        row = draw(st.lists(st.booleans(), min_size=T, max_size=T))
        if not any(row):
            row[draw(st.integers(0, T - 1))] = True
        rows.append(row)
    return torch.tensor(rows)


@pytest.mark.parametrize("cell,engine", [ce for ce in ELIGIBLE if ce[1] != "torch"])
@FAST
@given(data=st.data(), D=st.integers(1, 3), H=st.integers(1, 4),
       wrap=st.sampled_from(WRAPS), seed=st.integers(0, 2**16))
def test_interior_masks_skip_steps(cell, engine, data, D, H, wrap, seed):
    """Any mask (holes, left padding): a row = its real steps alone; masked steps output
    zeros.  go_backwards outputs come in processing order (reversed within the span)."""
    B, T = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 6))
    mask = _interior_mask(data.draw, B, T)
    layer = _layer(cell, engine, D, H, seed, wrap, return_sequences=True)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, T, D, generator=g, dtype=torch.float64) * 2
    out, states = _split(layer(x, mask=mask))
    assert layer.engine_choice.kind == engine
    for b in range(B):
        m = mask[b]
        out_b, states_b = _split(layer(x[b:b + 1, m]))
        if wrap in ("go_backwards", "bidirectional-of-backwards"):
            span = int(torch.nonzero(m).max()) + 1
            m = torch.cat([m[:span].flip(0), m[span:]])      # processing order
        _close(out[b, m], out_b[0], f"row {b} outputs, mask {mask[b].tolist()}")
        assert bool((out[b, ~m] == 0).all()), f"row {b}: masked steps must output zeros"
        for k, (s, s_b) in enumerate(zip(states, states_b)):
            _close(s[b], s_b[0], f"row {b} state {k}, mask {mask[b].tolist()}")


@pytest.mark.parametrize("cell,engine", INELIGIBLE)
def test_forcing_an_ineligible_engine_names_the_setting(cell, engine):
    layer = _layer(cell, engine, 2, 3, 0)
    with pytest.raises(ValueError, match="engine='torch'"):
        layer(torch.zeros(1, 3, 2, dtype=torch.float64))


@pytest.mark.parametrize("cell", ["simple-tanh", "lstm", "gru-after"])
def test_native_refuses_an_interior_mask(cell):
    layer = _layer(cell, "torch", 2, 3, 0, return_sequences=True)
    with pytest.raises(ValueError, match="engine='torch'"):
        layer(torch.zeros(1, 3, 2, dtype=torch.float64), mask=torch.tensor([[True, False, True]]))


@pytest.mark.parametrize("cell,engine", ELIGIBLE)
@FAST
@given(data=st.data(), D=st.integers(1, 3), H=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_chunked_stateful_equals_full(cell, engine, data, D, H, seed):
    B, T = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 8))
    cuts = sorted(data.draw(st.sets(st.integers(1, T - 1), max_size=3))) if T > 1 else []
    layer = _layer(cell, engine, D, H, seed, stateful=True, return_sequences=True)
    x = torch.randn(B, T, D, generator=torch.Generator().manual_seed(seed),
                    dtype=torch.float64)
    layer.reset_states()
    full_out, full_states = _split(layer(x))
    layer.reset_states()
    outs, states = [], None
    for a, b in zip([0, *cuts], [*cuts, T]):
        out, states = _split(layer(x[:, a:b]))
        assert layer.engine_choice.kind == engine
        outs.append(out)
    _close(torch.cat(outs, 1), full_out, f"outputs, cuts {cuts}")
    for k, (s, s_full) in enumerate(zip(states, full_states)):
        _close(s, s_full, f"final state {k}, cuts {cuts}")


# ---------------------------------------------------------------- save / load
RNN_KINDS = {
    "simple": lambda H, rs: rk.SimpleRNN(H, return_sequences=rs),
    "lstm": lambda H, rs: rk.LSTM(H, return_sequences=rs),
    "gru": lambda H, rs: rk.GRU(H, return_sequences=rs),
    "gru-cho": lambda H, rs: rk.GRU(H, reset_after=False, return_sequences=rs),
    "lnlstm": lambda H, rs: rk.LayerNormLSTM(H, return_sequences=rs),
}


@st.composite
def models(draw):
    """(layers, x): an optional Embedding (int ids, maybe mask_zero), 1-2 recurrent layers
    (some Bidirectional), optional Dense layers, and an input that builds them."""
    B, T = draw(st.integers(1, 3)), draw(st.integers(1, 5))
    layers = []
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    if draw(st.booleans()):
        V, E = draw(st.integers(2, 9)), draw(st.integers(1, 4))
        mask_zero = draw(st.booleans())
        layers.append(rk.Embedding(V, E, mask_zero=mask_zero))
        x = torch.randint(1, V, (B, T), generator=g)
        if mask_zero:             # right padding with id 0, at least one real step per row
            lens = torch.randint(1, T + 1, (B,), generator=g)
            x = torch.where(torch.arange(T) < lens[:, None], x, 0)
    else:
        x = torch.randn(B, T, draw(st.integers(1, 3)), generator=g)
    n_rnn = draw(st.integers(1, 2))
    last_seq = draw(st.booleans())
    for k in range(n_rnn):
        kind = draw(st.sampled_from(sorted(RNN_KINDS)))
        rnn = RNN_KINDS[kind](draw(st.integers(1, 4)), k < n_rnn - 1 or last_seq)
        if draw(st.booleans()):
            rnn = rk.Bidirectional(rnn, merge_mode=draw(st.sampled_from(
                ["concat", "sum", "mul", "ave"])))
        layers.append(rnn)
    for _ in range(draw(st.integers(0, 2))):
        layers.append(rk.Dense(draw(st.integers(1, 4)),
                               activation=draw(st.sampled_from([None, "tanh", "relu"]))))
    return layers, x


def _save_load(model, x):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model"
        model.save(str(path))
        loaded = rk.load(path)
    return loaded


def _assert_identical(model, loaded, x):
    sd, sd2 = model.state_dict(), loaded.state_dict()
    assert list(sd) == list(sd2)
    for k in sd:
        assert sd[k].dtype == sd2[k].dtype, f"{k}: dtype {sd[k].dtype} -> {sd2[k].dtype}"
        assert torch.equal(sd[k], sd2[k]), f"{k} changed in save/load"
    assert type(loaded) is type(model)
    assert loaded.get_config() == model.get_config()
    model.eval()
    loaded.eval()
    with torch.no_grad():
        a, b = model(x), loaded(x)
    assert torch.equal(a, b), "outputs differ after save/load"


@settings(max_examples=25, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(spec=models(), seed=st.integers(0, 2**16))
def test_save_load_is_identity(spec, seed):
    layers, x = spec
    model = rk.Sequential(layers)
    model(x)                                   # build every layer
    torch.manual_seed(seed)
    randomize(model)
    _assert_identical(model, _save_load(model, x), x)


@settings(max_examples=8, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(spec=models(), seed=st.integers(0, 2**16))
def test_save_load_keeps_float64(spec, seed):
    """A float64 model comes back float64 and bit-equal (not silently cast to float32)."""
    layers, x = spec
    model = rk.Sequential(layers).to(torch.float64)
    x = x if not x.dtype.is_floating_point else x.to(torch.float64)
    model(x)
    torch.manual_seed(seed)
    randomize(model)
    _assert_identical(model, _save_load(model, x), x)


# ---------------------------------------------------------------- windows and splits
def _index_series(n, F):
    """Column j holds row index + 1000 j, so every value names its row."""
    return np.arange(n, dtype=np.float64)[:, None] + 1000.0 * np.arange(F)[None, :]


def _rows(values, cols):
    """Row indices back from values of the given columns (last axis)."""
    rows = values - 1000.0 * np.asarray(cols, dtype=np.float64)
    assert np.all(rows == rows[..., :1]), "columns of one row disagree"
    return rows[..., 0].astype(int)


@settings(max_examples=60, deadline=None, database=None)
@given(n=st.integers(2, 60), F=st.integers(1, 3), window=st.integers(1, 12),
       horizon=st.integers(1, 6), stride=st.integers(1, 5), data=st.data())
def test_make_windows_targets_follow_inputs(n, F, window, horizon, stride, data):
    targets = data.draw(st.lists(st.integers(0, F - 1), min_size=1, max_size=F, unique=True))
    series = _index_series(n, F)
    if n < window + horizon:
        with pytest.raises(ValueError, match="too short"):
            make_windows(series, window, horizon, stride, targets)
        return
    x, y = make_windows(series, window, horizon, stride, targets)
    M = (n - window - horizon) // stride + 1
    assert x.shape == (M, window, F) and y.shape == (M, horizon, len(targets))
    xi, yi = _rows(x, list(range(F))), _rows(y, targets)
    assert np.all(yi.min(1) > xi.max(1)), "a target is not after its inputs"
    assert np.all(yi[:, 0] == xi[:, -1] + 1), "a gap between inputs and targets"
    assert np.all(np.diff(xi, axis=1) == 1) and np.all(np.diff(yi, axis=1) == 1)
    assert np.all(xi[:, 0] == stride * np.arange(M))
    assert yi.max() < n


@settings(max_examples=60, deadline=None, database=None)
@given(n=st.integers(2, 60), F=st.integers(1, 3), window=st.integers(1, 12),
       stride=st.integers(1, 5), data=st.data())
def test_shifted_windows_each_step_predicts_its_next_value(n, F, window, stride, data):
    targets = data.draw(st.lists(st.integers(0, F - 1), min_size=1, max_size=F, unique=True))
    series = _index_series(n, F)
    if n < window + 1:
        with pytest.raises(ValueError):
            shifted_windows(series, window, stride, targets)
        return
    x, y = shifted_windows(series, window, stride, targets)
    assert x.shape[:2] == y.shape[:2] and y.shape[2] == len(targets)
    xi, yi = _rows(x, list(range(F))), _rows(y, targets)
    assert np.all(yi == xi + 1), "step t's target is not row t + 1"
    running_max = np.maximum.accumulate(xi, axis=1)
    assert np.all(yi > running_max), "a target precedes an input it may see"
    assert yi.max() < n
    assert len(x) == len(make_windows(series, window, 1, stride)[0])


@st.composite
def splits(draw):
    window = draw(st.integers(1, 10))
    n = draw(st.integers(window + 2, 150))
    val = draw(st.sampled_from([0.0, 0.05, 0.1, 0.15, 0.2, 0.3]))
    test = draw(st.sampled_from([0.0, 0.05, 0.1, 0.15, 0.2, 0.3]))
    return n, window, val, test


@settings(max_examples=80, deadline=None, database=None)
@given(split=splits(), horizon=st.integers(1, 4), stride=st.integers(1, 3))
def test_split_series_never_leaks_the_future(split, horizon, stride):
    n, window, val, test = split
    try:
        parts = split_series(n, window, val, test)
    except ValueError as err:          # too short for the window, or a part of no rows
        assert any(word in str(err) for word in ("window", "val", "test")), str(err)
        return
    names = list(parts)
    assert names == [p for p in ("train", "val", "test") if p in names] and names[0] == "train"
    assert ("val" in parts) == (round(n * val) > 0) and ("test" in parts) == (round(n * test) > 0)
    assert parts["train"][0] == 0 and parts[names[-1]][1] == n
    series = _index_series(n, 1)
    # the rows each part may show as targets: from the end of the previous part
    target_start = {"train": window}
    for prev, name in zip(names, names[1:]):
        target_start[name] = parts[prev][1]
        assert parts[name][0] == parts[prev][1] - window, f"{name} context is not one window"
    covered = []                    # targets with horizon 1, stride 1
    seen = {}                       # every row a part reads: inputs and targets
    targets = {}
    for name in names:
        s, e = parts[name]
        assert 0 <= s < e <= n
        _, y1 = make_windows(series[s:e], window, 1, 1)
        covered += _rows(y1, [0]).ravel().tolist()        # values are global row numbers
        if e - s < window + horizon:
            continue
        x, y = make_windows(series[s:e], window, horizon, stride)
        xi, yi = _rows(x, [0]), _rows(y, [0])
        assert yi.min() >= target_start[name] and yi.max() < e
        targets[name], seen[name] = set(yi.ravel()), set(xi.ravel()) | set(yi.ravel())
    # with horizon 1 and stride 1, every row after the first window is a target exactly once
    assert sorted(covered) == list(range(window, n)), "a row is a target twice or never"
    order = [nm for nm in names if nm in targets]
    for i, early in enumerate(order):
        for late in order[i + 1:]:
            assert not targets[early] & targets[late], f"{early} and {late} share targets"
            assert max(seen[early]) < min(targets[late]), \
                f"{early} reads a row that {late} predicts"


@settings(max_examples=5, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(window=st.integers(2, 6), horizon=st.integers(1, 3), n=st.integers(40, 70),
       val=st.sampled_from([0.15, 0.2, 0.25]), test=st.sampled_from([0.15, 0.2, 0.25]),
       difference=st.booleans())
def test_forecaster_parts_follow_split_series(window, horizon, n, val, test, difference):
    """The Forecaster has no public attribute for its parts, so they are read back through
    ``evaluate(part)``: its window count and its last-value baseline on a series whose values
    name their rows (i squared) fix each part's [start, stop); they must be split_series's
    ranges, whose targets never overlap (test above)."""
    values = np.arange(n, dtype=np.float64) ** 2
    f = rk.tasks.Forecaster(cell="gru", units=2, window=window, horizon=horizon,
                            difference=difference)
    f.fit(values, epochs=1, batch_size=64, val=val, test=test, patience=None, verbose=0)
    d = int(difference)
    parts = split_series(n - d, window, val, test)
    previous_stop = None
    for name, (s, e) in parts.items():
        result = f.evaluate(name)
        M = e - s - window - horizon + 1
        assert result["windows"] == M, f"{name}: {result['windows']} windows, expected {M}"
        origin = s + window - 1 + d + np.arange(M)            # last known row of each window
        k = np.arange(1, horizon + 1)
        expected = np.mean(np.abs(values[origin[:, None] + k] - values[origin][:, None]))
        got = result["baseline_last_value"]["mae"]
        assert math.isclose(got, expected, rel_tol=1e-12), f"{name}: targets are elsewhere"
        first_target = origin[0] + 1 - d
        if previous_stop is not None:
            assert first_target >= previous_stop, f"{name} overlaps the part before it"
        previous_stop = e


# ---------------------------------------------------------------- TextVectorizer
PRINTABLE = st.text(alphabet=string.printable, min_size=0, max_size=30)
ANY_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20)
WORD = st.text(alphabet=string.ascii_letters + string.digits + "'-_", min_size=1, max_size=6)
SPACE = st.sampled_from([" ", "  ", "\t", "\n", " \r\n "])


@st.composite
def word_texts(draw):
    words = draw(st.lists(WORD, max_size=8))
    out = draw(st.sampled_from(["", " "]))
    for w in words:
        out += w + draw(SPACE)
    return out


def _roundtrip_json(v):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "vocab.json"
        v.save(path)
        return TextVectorizer.load(path)


@settings(max_examples=60, deadline=None, database=None)
@given(texts=st.lists(st.one_of(PRINTABLE, ANY_TEXT), min_size=1, max_size=5),
       others=st.lists(st.one_of(PRINTABLE, ANY_TEXT), max_size=3))
def test_char_vectorizer_round_trip(texts, others):
    if not any(texts):
        with pytest.raises(ValueError, match="no tokens"):
            TextVectorizer(mode="char").adapt(texts)
        return
    v = TextVectorizer(mode="char").adapt(texts)
    assert v.vocabulary[:2] == [PAD, UNK] and v.id(PAD) == 0 and v.id(UNK) == 1
    assert set(v.vocabulary[2:]) == set("".join(texts))
    ids = v.encode(texts)
    assert ids.shape == (len(texts), max(len(t) for t in texts))
    for row, text in zip(ids, texts):
        assert v.decode(row) == text
        assert int((row != 0).sum()) == len(text), "[PAD] is not (only) the padding"
        assert bool((row[len(text):] == 0).all())
    known = set("".join(texts))
    for text in others:
        row = v.encode([text])[0] if text else np.zeros(0, dtype=np.int64)
        n_unknown = sum(ch not in known for ch in text)
        assert int((row == 1).sum()) == n_unknown
        assert v.decode(row) == "".join(ch if ch in known else UNK for ch in text)
    loaded = _roundtrip_json(v)
    assert loaded.get_config() == v.get_config()
    for text in [*texts, *others]:
        assert loaded.encode([text]).tolist() == v.encode([text]).tolist()


@settings(max_examples=60, deadline=None, database=None)
@given(texts=st.lists(word_texts(), min_size=1, max_size=5),
       others=st.lists(word_texts(), max_size=3),
       standardize=st.sampled_from([None, "lower", "lower_and_strip_punctuation"]),
       split=st.sampled_from(["whitespace", "words_and_punct"]))
def test_word_vectorizer_round_trip(texts, others, standardize, split):
    v = TextVectorizer(mode="word", standardize=standardize, split=split)
    tokens = [v.tokens(t) for t in texts]
    if not any(tokens):
        with pytest.raises(ValueError, match="no tokens"):
            v.adapt(texts)
        return
    v.adapt(texts)
    assert v.vocabulary[:2] == [PAD, UNK] and v.id(PAD) == 0
    known = {t for ts in tokens for t in ts}
    assert set(v.vocabulary[2:]) == known
    ids = v.encode(texts)
    for row, text, toks in zip(ids, texts, tokens):
        assert [v.vocabulary[i] for i in row if i != 0] == toks
        assert v.tokens(v.decode(row)) == toks, "decode then split loses tokens"
        if standardize is None and split == "whitespace":
            assert v.decode(row) == " ".join(text.split())
    for text in others:
        toks = v.tokens(text)
        row = v.encode([text])[0]
        assert int((row == 1).sum()) == sum(t not in known for t in toks)
        assert [v.vocabulary[i] for i in row if i != 0] == [t if t in known else UNK
                                                            for t in toks]
    loaded = _roundtrip_json(v)
    assert loaded.get_config() == v.get_config()
    for text in [*texts, *others]:
        assert loaded.encode([text]).tolist() == v.encode([text]).tolist()


@settings(max_examples=40, deadline=None, database=None)
@given(texts=st.lists(PRINTABLE, min_size=1, max_size=6), cap=st.integers(3, 12))
def test_max_tokens_keeps_the_most_frequent(texts, cap):
    if not any(texts):
        return
    v = TextVectorizer(mode="char", max_tokens=cap).adapt(texts)
    assert len(v.vocabulary) <= cap
    counts = {}
    for ch in "".join(texts):
        counts[ch] = counts.get(ch, 0) + 1
    kept, dropped = set(v.vocabulary[2:]), set(counts) - set(v.vocabulary[2:])
    assert len(kept) == min(cap - 2, len(counts))
    if kept and dropped:
        assert min(counts[c] for c in kept) >= max(counts[c] for c in dropped)
    for text in texts:
        row = v.encode([text])[0] if text else np.zeros(0, dtype=np.int64)
        assert int((row == 1).sum()) == sum(ch in dropped for ch in text)
