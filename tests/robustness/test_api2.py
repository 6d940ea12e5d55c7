"""A second campaign of bad input: streaming steps, states, options, saving and resuming.

Each case asserts the error type and that the message names the argument; the resume
cases assert that a run with other settings or data is refused rather than continued.
"""

import pytest
import torch
from torch import nn

import rnnkit as rk

X = torch.randn(2, 5, 3)


def _lstm():
    return rk.LSTM(4, input_size=3)


def _nan(*shape):
    return torch.full(shape, float("nan"))


STEP = {
    "features": (lambda m: m.step(torch.randn(2, 7)), ValueError,
                 r"LSTM.step was built for 3 input features"),
    "rank": (lambda m: m.step(torch.randn(2, 5, 3)), ValueError,
             r"LSTM.step expects one step x_t of shape \(B, D\)"),
    "not a tensor": (lambda m: m.step("abc"), ValueError, "LSTM.step expects one step"),
    "float64": (lambda m: m.step(torch.randn(2, 3).double()), TypeError,
                "input dtype torch.float64 differs"),
    "ints": (lambda m: m.step(torch.ones(2, 3, dtype=torch.long)), TypeError,
             "floating-point input"),
    "NaN": (lambda m: m.step(_nan(2, 3)), ValueError, "LSTM.step input contains NaN"),
    "bare state": (lambda m: m.step(torch.randn(2, 3), torch.zeros(2, 4)), ValueError,
                   r"LSTM.step's state for LSTMCell must be LSTMState\(h=\(2, 4\)"),
    "state batch": (lambda m: m.step(torch.randn(2, 3), rk.LSTMState(torch.zeros(3, 4),
                                                                     torch.zeros(3, 4))),
                    ValueError, "LSTM.step's state"),
    "state NaN": (lambda m: m.step(torch.randn(2, 3), rk.LSTMState(_nan(2, 4),
                                                                   torch.zeros(2, 4))),
                  ValueError, "state contains NaN"),
    "state dtype": (lambda m: m.step(torch.randn(2, 3), rk.LSTMState(
        torch.zeros(2, 4, dtype=torch.float64), torch.zeros(2, 4, dtype=torch.float64))),
        TypeError, "state has dtype torch.float64"),
    "initial_state NaN": (lambda m: m(X, initial_state=rk.LSTMState(_nan(2, 4),
                                                                    torch.zeros(2, 4))),
                          ValueError, "initial_state contains NaN"),
    "initial_state inf": (lambda m: m(X, initial_state=rk.LSTMState(
        torch.zeros(2, 4), torch.full((2, 4), float("inf")))), ValueError,
        "initial_state contains inf"),
    "initial_state ints": (lambda m: m(X, initial_state=rk.LSTMState(
        torch.zeros(2, 4, dtype=torch.long), torch.zeros(2, 4, dtype=torch.long))), TypeError,
        "initial_state has dtype torch.int64"),
    "reset_states garbage": (lambda m: m.reset_states("garbage"), TypeError,
                             "reset_states takes None or a state of tensors"),
}


@pytest.mark.parametrize("case", list(STEP))
def test_streaming_steps_and_states_are_checked(case):
    call, kind, pattern = STEP[case]
    with pytest.raises(kind, match=pattern):
        call(_lstm())


def test_a_good_stream_still_runs():
    layer = _lstm()
    y, state = layer.step(torch.randn(2, 3))
    y, state = layer.step(torch.randn(2, 3), state)
    assert y.shape == (2, 4) and state.c.shape == (2, 4)


OPTIONS = {
    "units huge": (lambda: rk.GRU(10**9), ValueError, "units must be at most 65,536"),
    "input_size huge": (lambda: rk.LSTM(4, input_size=10**7), ValueError,
                        "input_size must be at most"),
    "embedding rows huge": (lambda: rk.Embedding(10**9, 4), ValueError,
                            "input_dim must be at most"),
    "go_backwards str": (lambda: rk.LSTM(4, go_backwards="no"), TypeError,
                         "go_backwards must be True or False, got 'no'"),
    "return_sequences int": (lambda: rk.GRU(4, return_sequences=1), TypeError,
                             "return_sequences must be True or False"),
    "stateful str": (lambda: rk.SimpleRNN(4, stateful="yes"), TypeError,
                     "stateful must be True or False"),
    "mask_zero str": (lambda: rk.Embedding(10, 4, mask_zero="true"), TypeError,
                      "mask_zero must be True or False"),
    "dense use_bias": (lambda: rk.Dense(2, use_bias="no"), TypeError,
                       "use_bias must be True or False"),
    "masking NaN": (lambda: rk.Masking(float("nan")), ValueError,
                    "mask_value must be a finite number"),
    "not a cell": (lambda: rk.RNN(nn.Linear(3, 4)), TypeError,
                   "Linear does not follow the cell contract: it has neither state_size"),
    "sequential empty": (lambda: rk.Sequential([]), ValueError,
                         "Sequential needs at least one layer"),
    "sequential not a list": (lambda: rk.Sequential(rk.GRU(4)), TypeError,
                              r"Sequential takes a list of layers, got GRU"),
    "embedding rank 3": (lambda: rk.Embedding(10, 4)(torch.tensor([[[1, 2]]])), ValueError,
                         r"Embedding expects token ids of shape \(B, T\)"),
    "dense float64": (lambda: rk.Dense(3, input_size=3)(torch.randn(2, 5, 3).double()),
                      TypeError, "Dense input dtype torch.float64 differs"),
    "dense rank 1": (lambda: rk.Dense(3, input_size=3)(torch.randn(3)), ValueError,
                     r"Dense expects input of shape \(B, D\) or \(B, T, D\)"),
}


@pytest.mark.parametrize("case", list(OPTIONS))
def test_bad_options_are_named(case):
    make, kind, pattern = OPTIONS[case]
    with pytest.raises(kind, match=pattern):
        make()


def test_summary_input_shape_is_checked():
    model = rk.Sequential([rk.GRU(4), rk.Dense(1)])
    for bad in [(-1, 3), "abc", (0,), (2, 3, 4)]:
        with pytest.raises(ValueError, match="input_shape must be"):
            model.summary(input_shape=bad, print_fn=None)


def test_a_keras_style_cell_with_only_state_size_runs_and_trains():
    class MinimalCell(nn.Module):        # what Keras asks of a cell: state_size and a step
        def __init__(self):
            super().__init__()
            self.state_size = 4
            self.kernel = nn.Parameter(torch.randn(3, 4) * 0.1)
            self.recurrent = nn.Parameter(torch.randn(4, 4) * 0.1)

        def forward(self, x, h):
            h = torch.tanh(x @ self.kernel + h @ self.recurrent)
            return h, h

    layer = rk.RNN(MinimalCell(), return_sequences=True, return_state=True)
    out, h = layer(X, lengths=[5, 2])
    assert out.shape == (2, 5, 4) and torch.equal(out[1, 2:], torch.zeros(3, 4))
    model = rk.Sequential([rk.RNN(MinimalCell()), rk.Dense(1)])
    before = model.layers[0].cell.kernel.detach().clone()
    model.fit(torch.randn(8, 5, 3), torch.randn(8, 1), epochs=1, verbose=0)
    assert not torch.equal(before, model.layers[0].cell.kernel)


def _model():
    m = rk.Sequential([rk.GRU(4), rk.Dense(1)])
    m(torch.zeros(1, 5, 3))
    return m


XS = torch.randn(8, 5, 3, generator=torch.Generator().manual_seed(3))
YS = torch.randn(8, 1, generator=torch.Generator().manual_seed(4))

FIT = {
    "lr zero": (dict(lr=0), ValueError, "lr must be a positive finite number"),
    "lr negative": (dict(lr=-0.1), ValueError, "lr must be a positive finite number"),
    "lr NaN": (dict(lr=float("nan")), ValueError, "lr must be a positive"),
    "lr string": (dict(lr="fast"), ValueError, "lr must be a positive"),
    "metrics str": (dict(metrics="accuracy"), TypeError, "metrics must be a list"),
    "metric object": (dict(metrics=[3]), TypeError, "a metric must be a name or a Metric"),
    "callbacks one": (dict(callbacks=rk.EarlyStopping()), TypeError,
                      "callbacks must be a list of Callback objects"),
    "callbacks name": (dict(callbacks=["early"]), TypeError,
                       r"callbacks\[0\] must be a Callback"),
    "verbose 7": (dict(verbose=7), ValueError, "verbose must be 0"),
    "shuffle str": (dict(shuffle="no"), TypeError, "shuffle must be True or False"),
    "clip_value inf": (dict(clip_value=float("inf")), ValueError,
                       "clip_value must be a positive number"),
    "clip_norm bool": (dict(clip_norm=True), ValueError, "clip_norm must be a positive number"),
    "checkpoint empty": (dict(checkpoint=""), ValueError, "checkpoint must be a file path"),
    "checkpoint folder": (dict(checkpoint="."), ValueError, "checkpoint='.' is a folder"),
    "both validations": (dict(validation_data=(XS, YS), validation_split=0.2), ValueError,
                         "validation_data or validation_split, not both"),
    "validation split str": (dict(validation_split="0.2"), ValueError,
                             r"validation_split must be in \(0, 1\)"),
    "optimizer object": (dict(optimizer=object()), TypeError,
                         "optimizer must be a name or a torch.optim.Optimizer"),
    "optimizer of another model": (dict(optimizer=torch.optim.SGD(nn.Linear(2, 2).parameters(),
                                                                  lr=0.1)),
                                   ValueError, "holds none of this model's parameters"),
    "accuracy on regression": (dict(metrics=["accuracy"], y=torch.randn(8, 1) * 3),
                               ValueError, "accuracy needs class labels"),
}


def test_binary_crossentropy_on_a_linear_output_is_refused():
    model = _model()
    with torch.no_grad():
        model.layers[1].bias.fill_(-3.0)       # outputs well below 0: not probabilities
    with pytest.raises(ValueError, match="binary_crossentropy: the model outputs values from "
                                         ".* activation='sigmoid'"):
        model.fit(XS, torch.randint(0, 2, (8, 1)).float(), loss="binary_crossentropy",
                  verbose=0)


@pytest.mark.parametrize("case", list(FIT))
def test_bad_fit_settings_are_named(case):
    kw, kind, pattern = FIT[case]
    kw = dict(kw)
    x, y = kw.pop("x", XS), kw.pop("y", YS)
    with pytest.raises(kind, match=pattern):
        _model().fit(x, y, epochs=1, **{"verbose": 0, **kw})


def test_batch_size_of_numpy_int_is_accepted_and_bad_ones_refused():
    import numpy as np
    model = _model()
    model.fit(XS, YS, epochs=1, batch_size=np.int64(4), verbose=0)
    for call in (lambda: model.predict(XS, batch_size=0),
                 lambda: model.evaluate(XS, YS, batch_size=-1)):
        with pytest.raises(ValueError, match="batch_size must be a positive int"):
            call()


def test_sparse_crossentropy_on_one_softmax_unit_is_refused():
    model = rk.Sequential([rk.GRU(4), rk.Dense(1, activation="softmax")])
    with pytest.raises(ValueError, match="classes need a last axis of 2 or more"):
        model.fit(XS, torch.zeros(8), loss="sparse_categorical_crossentropy", verbose=0)


RESUME = {
    "another batch size": (dict(batch_size=2), "batch_size=4; this run has batch_size=2"),
    "another learning rate": (dict(lr=0.5), r"lr=\[0.001\]; this run has lr=\[0.5\]"),
    "other data": (dict(x=torch.randn(8, 5, 3)), "the training data; this run has other data"),
    "fewer epochs": (dict(epochs=1), "already holds 2 epochs, more than epochs=1"),
    "another loss": (dict(loss="mae"), "loss='mse'; this run has loss='mae'"),
}


@pytest.mark.parametrize("case", list(RESUME))
def test_resume_continues_only_the_same_run(tmp_path, case):
    ck = tmp_path / "ck.safetensors"
    x = torch.randn(8, 5, 3, generator=torch.Generator().manual_seed(1))
    _model().fit(x, YS, epochs=2, batch_size=4, seed=0, checkpoint=ck, verbose=0)
    kw = {"x": x, "epochs": 3, "batch_size": 4, **RESUME[case][0]}
    with pytest.raises(ValueError, match=RESUME[case][1]):
        _model().fit(kw.pop("x"), YS, seed=0, resume=ck, verbose=0, **kw)


SAVE = {
    "path None": (lambda m, d: rk.save(m, None), TypeError, "save takes a folder path"),
    "load int": (lambda m, d: rk.load(123), TypeError, "load takes a folder path"),
    "overwrite str": (lambda m, d: rk.saving.save(m, d / "a", overwrite="no"), TypeError,
                      "overwrite must be True or False"),
    "extra object": (lambda m, d: rk.saving.save(m, d / "b", extra={"a": object()}),
                     ValueError, r"extra\['a'\] cannot be written as JSON"),
    "config.json given": (lambda m, d: (m.save(d / "c"), rk.load(d / "c" / "config.json")),
                          ValueError, "pass the model folder"),
}


@pytest.mark.parametrize("case", list(SAVE))
def test_save_and_load_arguments_are_named(tmp_path, case):
    call, kind, pattern = SAVE[case]
    with pytest.raises(kind, match=pattern):
        call(_model(), tmp_path)


@pytest.mark.parametrize("dtype", [torch.int64, torch.bool])
def test_weights_stored_as_integers_are_refused(tmp_path, dtype):
    from rnnkit.io import write_tensors
    model = _model()
    model.save(tmp_path / "m")
    write_tensors(tmp_path / "m" / "weights.safetensors",
                  {k: v.to(dtype) for k, v in model.state_dict().items()})
    with pytest.raises(ValueError, match=f"is stored as {dtype}"):
        rk.load(tmp_path / "m")
