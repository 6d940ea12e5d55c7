"""Bad data and options given to ``fit``, ``evaluate`` and ``predict``, on both training steps.

The C++ step never touches a layer, so these cases prove the boundary
(``training/boundary.py``) runs before it: each must be refused with the same message
whichever step would have run, and no weight may change.
"""

import copy

import pytest
import torch

import rnnkit as rk

STEPS = ("autograd", "cpp")
CELLS = {"simple": rk.SimpleRNN, "lstm": rk.LSTM, "gru": rk.GRU}


def _model(cell="gru", out=1, activation=None, sequences=False):
    """A built model (3 features in), so no lazy build can catch a mistake first."""
    model = rk.Sequential([CELLS[cell](4, return_sequences=sequences),
                           rk.Dense(out, activation=activation)])
    model(torch.zeros(1, 5, 3))
    return model


X = torch.randn(8, 5, 3)
Y = torch.randn(8, 1)
NAN_X = X.clone()
NAN_X[3, 2, 1] = float("nan")

# case -> (fit keyword arguments, model options, error type, pattern)
FIT = {
    "more features": (dict(x=torch.randn(8, 5, 7)), {}, ValueError,
                      r"x \(8, 5, 7\) does not fit the model: .*built for 3 input features"),
    "fewer features": (dict(x=torch.randn(8, 5, 1)), {}, ValueError,
                       r"x \(8, 5, 1\) does not fit the model: .*built for 3 input features"),
    "x rank 2": (dict(x=torch.randn(8, 5)), {}, ValueError, r"expects input of shape \(B, T, D\)"),
    "x NaN": (dict(x=NAN_X), {}, ValueError, "x contains NaN"),
    "y inf": (dict(y=torch.full((8, 1), float("inf"))), {}, ValueError, "y contains inf"),
    "x strings": (dict(x=[["a"]] * 8), {}, TypeError, "x must be numeric"),
    "x empty": (dict(x=torch.randn(0, 5, 3), y=torch.randn(0, 1)), {}, ValueError,
                r"x is empty"),
    "count mismatch": (dict(y=torch.randn(7, 1)), {}, ValueError, "x has 8 samples but y has 7"),
    "y too wide": (dict(y=torch.randn(8, 2)), {}, ValueError,
                   r"y: mse: predictions have shape \(8, 1\) but targets have shape \(8, 2\)"),
    "y per step for a last-step model": (dict(y=torch.randn(8, 5)), {}, ValueError,
                                         r"targets have shape \(8, 5\)"),
    "per-step targets transposed": (dict(y=torch.randn(8, 2, 5)), dict(out=2, sequences=True),
                                    ValueError, r"predictions have shape \(8, 5, 2\) but "
                                                r"targets have shape \(8, 2, 5\)"),
    "bce labels 0/5": (dict(y=torch.tensor([0.0, 5.0] * 4)[:, None],
                            loss="binary_crossentropy"), dict(activation="sigmoid"), ValueError,
                       r"binary_crossentropy: targets must be in \[0, 1\].*from 0 to 5"),
    "bce labels -1/1": (dict(y=torch.tensor([-1.0, 1.0] * 4)[:, None],
                             loss="binary_crossentropy"), dict(activation="sigmoid"),
                        ValueError, r"targets must be in \[0, 1\].*from -1 to 1"),
    "sparse class too high": (dict(y=torch.tensor([0, 1, 2, 3] * 2),
                                   loss="sparse_categorical_crossentropy"),
                              dict(out=3, activation="softmax"), ValueError,
                              r"class 3 outside \[0, 2\]"),
    "sparse class negative": (dict(y=torch.tensor([0, 1, -1, 2] * 2),
                                   loss="sparse_categorical_crossentropy"),
                              dict(out=3, activation="softmax"), ValueError,
                              r"class -1 outside \[0, 2\]"),
    "sparse fractions": (dict(y=torch.tensor([0.5, 1.0] * 4),
                              loss="sparse_categorical_crossentropy"),
                         dict(out=3, activation="softmax"), ValueError, "got fractions"),
    "sparse one-hot": (dict(y=torch.eye(3)[[0, 1, 2, 0, 1, 2, 0, 1]],
                            loss="sparse_categorical_crossentropy"),
                       dict(out=3, activation="softmax"), ValueError,
                       r"need class targets of shape \(8,\), got \(8, 3\)"),
    "validation features": (dict(validation_data=(torch.randn(4, 5, 2), torch.randn(4, 1))), {},
                            ValueError, r"validation x \(4, 5, 2\) does not fit the model"),
    "validation targets": (dict(validation_data=(torch.randn(4, 5, 3), torch.randn(4, 3))), {},
                           ValueError, r"validation y: mse: .*targets have shape \(4, 3\)"),
    "validation NaN": (dict(validation_data=(NAN_X, Y)), {}, ValueError,
                       "validation x contains NaN"),
    "validation not a pair": (dict(validation_data=(X,)), {}, ValueError,
                              r"validation_data must be a pair"),
    "validation split": (dict(validation_split=1.5), {}, ValueError,
                         r"validation_split must be in \(0, 1\), got 1.5"),
    "validation split empty": (dict(validation_split=0.01), {}, ValueError,
                               "leaves no training or no validation samples"),
    "epochs": (dict(epochs=0), {}, ValueError, "epochs must be a positive int, got 0"),
    "batch size": (dict(batch_size=-2), {}, ValueError, "batch_size must be a positive int"),
    "batch size float": (dict(batch_size=2.5), {}, ValueError, "batch_size must be a positive"),
    "clip norm": (dict(clip_norm=-1.0), {}, ValueError, "clip_norm must be a positive number"),
    "clip value": (dict(clip_value=0), {}, ValueError, "clip_value must be a positive number"),
    "tbptt": (dict(tbptt=0), {}, ValueError, "tbptt must be a positive int, got 0"),
    "loss name": (dict(loss="hinge"), {}, ValueError, "loss must be one of"),
    "metric name": (dict(metrics=["f2"]), {}, ValueError, "metric must be one of"),
    "optimizer name": (dict(optimizer="adamx"), {}, ValueError, "optimizer must be one of"),
    "seed": (dict(seed="a"), {}, TypeError, "seed must be a non-negative int, got 'a'"),
    "seed negative": (dict(seed=-1), {}, TypeError, "seed must be a non-negative int"),
    "custom loss not scalar": (dict(loss=lambda a, b: (a - b) ** 2), {}, TypeError,
                               r"must return a scalar tensor, got Tensor\(2, 1\)"),
}


def _fit(model, step, **kw):
    x, y = kw.pop("x", X), kw.pop("y", Y)
    compile_kw = {k: kw.pop(k) for k in ("loss", "metrics", "optimizer") if k in kw}
    kw = {"epochs": 1, "batch_size": 4, "verbose": 0, "step": step, **kw}
    return model.fit(x, y, **compile_kw, **kw)


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("case", list(FIT))
def test_bad_fit_is_refused_before_any_step(case, step):
    kw, model_kw, kind, pattern = FIT[case]
    model = _model(**model_kw)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(kind, match=pattern):
        _fit(model, step, **dict(kw))
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before), "weights changed"


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("features", [1, 2, 4, 9])
def test_the_cpp_step_never_trains_on_the_wrong_feature_count(cell, features):
    """The review's case: a model for 3 features trained silently on 7 (and read past
    the end of its input on fewer)."""
    model = _model(cell)
    with pytest.raises(ValueError, match="built for 3 input features"):
        _fit(model, "cpp", x=torch.randn(8, 5, features))


# Inputs the autograd path accepts: the C++ step must train on them to the same weights
# (fit's tensors were converted once, at the boundary, for both).
ACCEPTED = {
    "targets (B,) for one output": (dict(y=Y[:, 0]), {}),
    "integer targets for mse": (dict(y=torch.randint(0, 3, (8, 1))), {}),
    "bool labels for bce": (dict(y=torch.tensor([[True], [False]] * 4),
                                 loss="binary_crossentropy"), dict(activation="sigmoid")),
    "bool class labels": (dict(y=torch.tensor([True, False] * 4),
                               loss="sparse_categorical_crossentropy"),
                          dict(out=3, activation="softmax")),
    "int32 class labels": (dict(y=torch.tensor([0, 1, 2, 0] * 2, dtype=torch.int32),
                                loss="sparse_categorical_crossentropy"),
                           dict(out=3, activation="softmax")),
    "class labels (B, 1)": (dict(y=torch.tensor([[0], [2]] * 4),
                                 loss="sparse_categorical_crossentropy"),
                            dict(out=3, activation="softmax")),
    "x not contiguous": (dict(x=torch.randn(8, 3, 5).transpose(1, 2)), {}),
    "float64 data for a float32 model": (dict(x=X.double(), y=Y.double()), {}),
    "numpy data": (dict(x=X.numpy(), y=Y.numpy()), {}),
    "batch larger than the data": (dict(batch_size=100), {}),
}


@pytest.mark.parametrize("case", list(ACCEPTED))
def test_what_autograd_accepts_the_cpp_step_trains_on_alike(case):
    kw, model_kw = ACCEPTED[case]
    models = []
    for step in STEPS:
        torch.manual_seed(0)
        model = _model(**model_kw)
        _fit(model, step, **dict(kw))
        assert model._trainer.step_choice.kind == step
        models.append(model)
    for p, q in zip(*(m.parameters() for m in models)):
        torch.testing.assert_close(q, p, atol=1e-6, rtol=1e-5)


EVAL = {
    "evaluate features": (lambda m: m.evaluate(torch.randn(4, 5, 2), torch.randn(4, 1)),
                          ValueError, r"x \(4, 5, 2\) does not fit the model"),
    "evaluate targets": (lambda m: m.evaluate(X, torch.randn(8, 3)), ValueError,
                         r"targets have shape \(8, 3\)"),
    "evaluate counts": (lambda m: m.evaluate(X, torch.randn(5, 1)), ValueError,
                        "x has 8 samples but y has 5"),
    "evaluate NaN": (lambda m: m.evaluate(NAN_X, Y), ValueError, "x contains NaN"),
    "predict features": (lambda m: m.predict(torch.randn(4, 5, 6)), ValueError,
                         "built for 3 input features"),
    "predict NaN": (lambda m: m.predict(NAN_X), ValueError, "x contains NaN"),
    "predict empty": (lambda m: m.predict(torch.randn(0, 5, 3)), ValueError, "x is empty"),
    "predict rank": (lambda m: m.predict(torch.randn(5, 3)), ValueError,
                     r"expects input of shape \(B, T, D\)"),
}


@pytest.mark.parametrize("case", list(EVAL))
def test_bad_evaluate_and_predict(case):
    call, kind, pattern = EVAL[case]
    with pytest.raises(kind, match=pattern):
        call(_model())


def test_stateful_layers_keep_their_state_through_the_boundary_probe():
    model = rk.Sequential([rk.GRU(4, stateful=True), rk.Dense(1)])
    model(torch.randn(8, 5, 3))
    reference = copy.deepcopy(model)
    model.evaluate(X, Y, batch_size=8)
    reference.eval()(X)        # what evaluate's one batch does; the probe must add nothing
    assert torch.equal(model.layers[0].get_states(), reference.layers[0].get_states())
