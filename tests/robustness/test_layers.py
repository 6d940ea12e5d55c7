"""Bad input to the layers, on every engine that can run the layer.

Each case asserts the error type and that the message names the argument (or the layer)
and what was wrong; none may come from deep inside torch.
"""

import pytest
import torch

import rnnkit as rk

LAYERS = {
    "simple-tanh": lambda **kw: rk.SimpleRNN(4, **kw),
    "simple-sigmoid": lambda **kw: rk.SimpleRNN(4, activation="sigmoid", **kw),
    "lstm": lambda **kw: rk.LSTM(4, **kw),
    "gru": lambda **kw: rk.GRU(4, **kw),
    "gru-v1": lambda **kw: rk.GRU(4, reset_after=False, **kw),
    "lnlstm": lambda **kw: rk.LayerNormLSTM(4, **kw),
}
ENGINES = ("loop", "torch", "rnnkit")


def _eligible():
    """(layer, engine) pairs that run a clean input: forcing any other engine is refused
    by design (tested in tests/layers), so the bad-input cases cover these."""
    out = []
    for name, make in LAYERS.items():
        for engine in ENGINES:
            try:
                make(engine=engine, input_size=3)(torch.randn(2, 5, 3))
            except ValueError as err:
                assert "cannot run this layer" in str(err)
                continue
            out.append(pytest.param(name, engine, id=f"{name}-{engine}"))
    return out


PAIRS = _eligible()


def test_every_layer_has_a_fast_engine_besides_the_loop():
    kinds = {p.values[0] for p in PAIRS if p.values[1] != "loop"}
    assert kinds == set(LAYERS)


X = torch.randn(3, 5, 3)

# case -> (call on a built layer, expected error type, pattern in the message)
CALLS = {
    "rank 2": (lambda m: m(torch.randn(3, 5)), ValueError, r"expects input of shape \(B, T, D\)"),
    "rank 4": (lambda m: m(torch.randn(3, 5, 3, 1)), ValueError,
               r"expects input of shape \(B, T, D\), got shape \(3, 5, 3, 1\)"),
    "more features": (lambda m: m(torch.randn(3, 5, 7)), ValueError,
                      r"built for 3 input features, got input of shape \(3, 5, 7\)"),
    "fewer features": (lambda m: m(torch.randn(3, 5, 1)), ValueError,
                       r"built for 3 input features"),
    "NaN": (lambda m: m(X.clone().index_fill_(1, torch.tensor([2]), float("nan"))), ValueError,
            "input contains NaN"),
    "inf": (lambda m: m(X.clone().index_fill_(1, torch.tensor([4]), float("inf"))), ValueError,
            "input contains inf"),
    "empty batch": (lambda m: m(torch.randn(0, 5, 3)), ValueError, r"empty batch \(B = 0\)"),
    "no steps": (lambda m: m(torch.randn(3, 0, 3)), ValueError, r"no time steps \(T = 0\)"),
    "token ids": (lambda m: m(torch.ones(3, 5, 3, dtype=torch.long)), TypeError,
                  "floating-point input.*Embedding"),
    "float64 input": (lambda m: m(X.double()), TypeError, "input dtype torch.float64 differs"),
    "not a tensor": (lambda m: m("abc"), TypeError, "expects a tensor"),
    "lengths ragged": (lambda m: m(X, lengths=[[1, 2], [3]]), ValueError,
                       "lengths must be a sequence of 3 ints"),
    "lengths floats": (lambda m: m(X, lengths=[1.5, 2.0, 3.0]), TypeError,
                       "lengths must be integers"),
    "lengths strings": (lambda m: m(X, lengths=["a", "b", "c"]), ValueError,
                        "lengths must be a sequence"),
    "lengths count": (lambda m: m(X, lengths=[1, 2]), ValueError,
                      r"lengths must have shape \(B,\) = \(3,\)"),
    "lengths zero": (lambda m: m(X, lengths=[0, 2, 5]), ValueError,
                     r"lengths must lie in \[1, T=5\]"),
    "lengths too long": (lambda m: m(X, lengths=[6, 2, 5]), ValueError,
                         r"lengths must lie in \[1, T=5\], got values from 2 to 6"),
    "mask ragged": (lambda m: m(X, mask=[[1, 1], [1], [1, 0, 1]]), ValueError,
                    r"mask must be booleans \(or 0/1\) of shape \(B, T\) = \(3, 5\)"),
    "mask shape": (lambda m: m(X, mask=torch.ones(3, 4, dtype=torch.bool)), ValueError,
                   r"mask must have shape \(B, T\) = \(3, 5\)"),
    "mask values": (lambda m: m(X, mask=torch.full((3, 5), 2)), ValueError,
                    "mask must be boolean"),
    "mask and lengths": (lambda m: m(X, mask=torch.ones(3, 5), lengths=[5, 5, 5]), ValueError,
                         "mask= or lengths=, not both"),
    "initial state batch": (lambda m: m(X, initial_state=_state_like(m, 2)), ValueError,
                            "initial_state"),
    "initial state units": (lambda m: m(X, initial_state=_state_like(m, 3, units=5)),
                            ValueError, "initial_state"),
    "initial state type": (lambda m: m(X, initial_state="zeros"), (ValueError, TypeError),
                           "initial_state"),
}


def _state_like(layer, B, units=4):
    if isinstance(layer.cell, rk.cells.LSTMCell):
        return rk.LSTMState(torch.zeros(B, units), torch.zeros(B, units))
    return torch.zeros(B, units)


@pytest.mark.parametrize("case", list(CALLS))
@pytest.mark.parametrize("name, engine", PAIRS)
def test_bad_call_is_refused_by_name(name, engine, case):
    layer = LAYERS[name](engine=engine, input_size=3)
    call, kind, pattern = CALLS[case]
    with pytest.raises(kind, match=pattern):
        call(layer)


@pytest.mark.parametrize("name, engine", PAIRS)
def test_stateful_batch_change_is_refused(name, engine):
    layer = LAYERS[name](engine=engine, input_size=3, stateful=True)
    layer(X)
    with pytest.raises(ValueError, match="stateful"):
        layer(torch.randn(2, 5, 3))


OPTIONS = {
    "units zero": (lambda: rk.LSTM(0), "units must be a positive int, got 0"),
    "units negative": (lambda: rk.GRU(-3), "units must be a positive int, got -3"),
    "units string": (lambda: rk.SimpleRNN("8"), "units must be a positive int, got '8'"),
    "units bool": (lambda: rk.LSTM(True), "units must be a positive int, got True"),
    "dropout one": (lambda: rk.LSTM(4, dropout=1.0), r"dropout must be a number in \[0, 1\)"),
    "dropout negative": (lambda: rk.GRU(4, dropout=-0.1), r"dropout must be a number"),
    "recurrent dropout": (lambda: rk.GRU(4, recurrent_dropout=2),
                          r"recurrent_dropout must be a number"),
    "engine": (lambda: rk.LSTM(4, engine="fast"), "engine must be one of"),
    "activation": (lambda: rk.SimpleRNN(4, activation="swishy"), "activation"),
    "merge mode": (lambda: rk.Bidirectional(rk.LSTM(4), merge_mode="max"),
                   "merge_mode must be one of"),
    "bidirectional of dense": (lambda: rk.Bidirectional(rk.Dense(3)), "Bidirectional"),
    "cell not a module": (lambda: rk.RNN("lstm"), "cell must be an nn.Module"),
    "dense units": (lambda: rk.Dense(0), "units must be a positive int, got 0"),
    "dense activation": (lambda: rk.Dense(2, activation="swishy"), "activation"),
    "embedding size": (lambda: rk.Embedding(0, 4), "must be a positive int"),
}


@pytest.mark.parametrize("case", list(OPTIONS))
def test_bad_option_is_refused_by_name(case):
    make, pattern = OPTIONS[case]
    with pytest.raises((ValueError, TypeError), match=pattern):
        make()


def test_embedding_ids_out_of_range_are_named():
    emb = rk.Embedding(10, 4)
    with pytest.raises(ValueError, match="10"):
        emb(torch.tensor([[1, 2, 10]]))
    with pytest.raises(ValueError, match="-1"):
        emb(torch.tensor([[1, -1, 3]]))
    with pytest.raises(TypeError, match="integer"):
        emb(torch.tensor([[1.0, 2.0]]))


def test_dense_input_features_are_named():
    d = rk.Dense(2)
    d(torch.randn(4, 3))
    with pytest.raises(ValueError, match="Dense"):
        d(torch.randn(4, 5))
    with pytest.raises(ValueError, match="NaN"):
        d(torch.full((4, 3), float("nan")))
