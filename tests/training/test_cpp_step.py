"""The C++ training step against autograd: same weights, same state, clear refusals."""

import os

import numpy as np
import pytest
import torch

import rnnkit as rk
from rnnkit.engines._ext import status
from rnnkit.training import Trainer, TrainingDiverged, cpp_step

# The step is C++.  Only a user who switched the kernels off skips these; a broken build
# fails them (step="cpp" then raises, naming the build error).
pytestmark = pytest.mark.skipif(bool(os.environ.get("RNNKIT_NO_EXT")),
                                reason="RNNKIT_NO_EXT=1: the C++ kernels are switched off")


def test_the_kernels_built():
    assert cpp_step.kernels() is not None, status()

MODELS = {
    "simple": lambda: rk.Sequential([rk.SimpleRNN(3), rk.Dense(1, activation="tanh")]),
    "simple-sigmoid": lambda: rk.Sequential([rk.SimpleRNN(4, activation="sigmoid"),
                                             rk.Dense(2, use_bias=False)]),
    "lstm": lambda: rk.Sequential([rk.LSTM(5), rk.Dense(2)]),
    "lstm-nobias": lambda: rk.Sequential([rk.LSTM(3, use_bias=False), rk.Dense(1)]),
    "gru": lambda: rk.Sequential([rk.GRU(4), rk.Dense(3, activation="relu"),
                                  rk.Dense(1, activation="sigmoid")]),
    "stack": lambda: rk.Sequential([rk.LSTM(4, return_sequences=True),
                                    rk.GRU(3, return_sequences=True),
                                    rk.SimpleRNN(2, activation="relu")]),
}
RECIPES = [("mse", "adam", {}), ("mae", "sgd", {}), ("mse", "adam", {"clip_norm": 0.05}),
           ("mse", "sgd", {"clip_value": 0.01})]


def _data(n=20, T=7, D=3, out=1, dtype=torch.float64):
    g = torch.Generator().manual_seed(3)
    return (torch.randn(n, T, D, generator=g, dtype=dtype),
            torch.randn(n, out, generator=g, dtype=dtype))


def _fit(make, step, loss="mse", opt="adam", dtype=torch.float64, epochs=3, **kw):
    rk.set_seed(0)
    model = make()
    x, y = _data(out=_out_units(model), dtype=dtype)
    model(x[:1])                                       # built in x's dtype
    hist = model.fit(x, y, epochs=epochs, batch_size=4, loss=loss, optimizer=opt, seed=1,
                     verbose=0, step=step, **kw)
    return model, hist


def _out_units(model):
    last = model.layers[-1]
    return last.units if hasattr(last, "units") else last.cell.hidden_size


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("loss, opt, kw", RECIPES)
def test_cpp_step_equals_autograd_in_float64(name, loss, opt, kw):
    a, ha = _fit(MODELS[name], "autograd", loss, opt, **kw)
    b, hb = _fit(MODELS[name], "cpp", loss, opt, **kw)
    assert b._trainer.step_choice.kind == "cpp"
    assert a._trainer.step_choice.kind == "autograd"
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(q, p, atol=1e-12, rtol=0)
        torch.testing.assert_close(q.grad, p.grad, atol=1e-12, rtol=0)  # the last step's
    np.testing.assert_allclose(hb.history["loss"], ha.history["loss"], rtol=1e-12)


def test_float32_and_weight_decay_and_metrics():
    make = MODELS["gru"]
    rk.set_seed(0)
    opt_kw = {"lr": 0.01, "weight_decay": 0.1, "eps": 1e-7}
    runs = []
    for step in ("autograd", "cpp"):
        rk.set_seed(0)
        model = make()
        x, y = _data(dtype=torch.float32)
        model(x[:1])                                   # build, then hand Adam the weights
        opt = torch.optim.Adam(model.parameters(), **opt_kw)
        hist = model.fit(x, y, epochs=2, batch_size=5, optimizer=opt, metrics=["mae"],
                         seed=2, verbose=0, step=step)
        runs.append((model, hist))
    (a, ha), (b, hb) = runs
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(q, p, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(hb.history["mae"], ha.history["mae"], rtol=1e-5)


def test_adam_state_is_torchs_own_so_checkpoints_resume_either_way(tmp_path):
    """2 C++ step epochs, a checkpoint, 2 more with autograd == 4 autograd epochs."""
    x, y = _data()
    full, _ = _fit(MODELS["lstm"], "autograd", epochs=4)
    ckpt = tmp_path / "c.safetensors"

    class Interrupt(rk.Callback):
        def on_epoch_end(self, trainer, epoch, logs):
            if epoch == 1:
                raise KeyboardInterrupt

    rk.set_seed(0)
    first = MODELS["lstm"]()
    first(x[:1])
    with pytest.raises(KeyboardInterrupt):
        first.fit(x, _data(out=2)[1], epochs=4, batch_size=4, seed=1, verbose=0,
                  step="cpp", checkpoint=ckpt, callbacks=[Interrupt()])
    state = first._trainer.optimizer.state_dict()["state"]
    assert float(state[0]["step"]) == 10 and state[0]["exp_avg"].abs().sum() > 0
    rk.set_seed(0)
    resumed = MODELS["lstm"]()
    resumed(x[:1])
    resumed.fit(x, _data(out=2)[1], epochs=4, batch_size=4, seed=1, verbose=0,
                step="autograd", resume=ckpt)
    for p, q in zip(full.parameters(), resumed.parameters()):
        torch.testing.assert_close(q, p, atol=1e-12, rtol=0)


def test_auto_picks_cpp_for_small_models_and_says_why_not_otherwise():
    x, y = _data()
    m = rk.Sequential([rk.GRU(4), rk.Dense(1)])
    m.fit(x, y, epochs=1, verbose=0)
    assert m._trainer.step_choice.reason.startswith("forward, BPTT and Adam")
    big = rk.Sequential([rk.LSTM(64), rk.Dense(1)])
    big.fit(x, y, epochs=1, batch_size=20, verbose=0)
    assert "multiply-adds per batch and time step > 131,072" in str(big._trainer.step_choice)
    big.fit(x, y, epochs=1, batch_size=20, verbose=0, step="cpp")   # forced: runs
    assert big._trainer.step_choice.kind == "cpp"
    assert "training step: cpp" in m.summary(print_fn=None)


@pytest.mark.parametrize("layers, fit_kw, reason", [
    (lambda: [rk.LSTM(3), rk.Dropout(0.2), rk.Dense(1)], {}, "layer 1: Dropout"),
    (lambda: [rk.Bidirectional(rk.GRU(3)), rk.Dense(1)], {}, "no recurrent layer first"),
    (lambda: [rk.GRU(3, recurrent_dropout=0.1), rk.Dense(1)], {}, "recurrent_dropout=0.1"),
    (lambda: [rk.GRU(3, reset_after=False), rk.Dense(1)], {}, "GRU(reset_after=False)"),
    (lambda: [rk.LSTM(3, engine="loop"), rk.Dense(1)], {}, "engine='loop' requested"),
    (lambda: [rk.LSTM(3, return_sequences=True), rk.MeanOverTime(), rk.Dense(1)], {},
     "layer 0: return_sequences=True"),
    (lambda: [rk.GRU(3), rk.Dense(1)], {"loss": lambda a, b: ((a - b) ** 2).mean()},
     "loss '<lambda>'"),
    (lambda: [rk.GRU(3), rk.Dense(1)], {"optimizer": "rmsprop"}, "optimizer RMSprop"),
    (lambda: [rk.GRU(3), rk.Dense(1)], {"tbptt": 3}, "truncated BPTT"),
])
def test_ineligible_models_train_with_autograd_and_the_note_says_why(layers, fit_kw, reason):
    x, y = _data(dtype=torch.float32)
    y = (y > 0).float()
    model = rk.Sequential(layers())
    kw = {"loss": "mse", **fit_kw}
    model.fit(x, y, epochs=1, verbose=0, **kw)
    assert model._trainer.step_choice.reason.startswith("C++ step not eligible")
    assert reason in str(model._trainer.step_choice)
    with pytest.raises(ValueError, match="step='cpp' cannot train this model: .*"
                                         + reason.replace("(", r"\(").replace(")", r"\)")):
        rk.Sequential(layers()).fit(x, y, epochs=1, verbose=0, step="cpp", **kw)


def test_bad_targets_and_divergence_are_reported_as_in_autograd():
    x, y = _data(dtype=torch.float32)
    model = rk.Sequential([rk.SimpleRNN(3), rk.Dense(1)])
    with pytest.raises(ValueError, match=r"y: mse: predictions have shape \(20, 1\) but "
                                         r"targets have shape \(20, 2\)"):
        model.fit(x, torch.zeros(20, 2), epochs=1, batch_size=4, verbose=0, step="cpp")
    with pytest.raises(ValueError, match="step must be one of"):
        model.fit(x, y, epochs=1, verbose=0, step="fast")
    with pytest.raises(TrainingDiverged, match="loss became inf at epoch 1, batch 1"):
        model.fit(x, y * 1e30, epochs=1, verbose=0, step="cpp")


def test_without_the_kernels_auto_falls_back_and_cpp_explains(monkeypatch):
    monkeypatch.setattr(cpp_step, "kernels", lambda: None)
    x, y = _data(dtype=torch.float32)
    model = rk.Sequential([rk.SimpleRNN(3), rk.Dense(1)])
    model.fit(x, y, epochs=1, verbose=0)
    assert "the C++ kernels are unavailable" in str(model._trainer.step_choice)
    with pytest.raises(ValueError, match="C\\+\\+ kernels are unavailable"):
        model.fit(x, y, epochs=1, verbose=0, step="cpp")


def test_the_sunspots_recipe_runs_cpp_and_matches_autograd():
    from rnnkit.tutorials import sunspots
    _, tr_a, te_a, ma = sunspots.tutorial_recipe(0, epochs=2, step="autograd")
    _, tr_c, te_c, mc = sunspots.tutorial_recipe(0, epochs=2)
    assert mc._trainer.step_choice.kind == "cpp"
    assert te_c == pytest.approx(te_a, rel=1e-4) and tr_c == pytest.approx(tr_a, rel=1e-4)


def test_trainer_on_a_plain_module_uses_autograd():
    x, y = _data(dtype=torch.float32)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(21, 1))
    t = Trainer(net)
    t.fit(x, y, epochs=1, verbose=0)
    assert "model is a torch.nn.modules.container.Sequential, not an rnnkit Sequential" \
        in str(t.step_choice)


def test_hooks_keep_autograd_so_they_still_run():
    x, y = _data(dtype=torch.float32)
    model = rk.Sequential([rk.GRU(3), rk.Dense(1)])
    model(x[:1])
    seen = []
    handle = model.layers[0].register_forward_hook(lambda m, a, out: seen.append(1))
    model.fit(x, y, epochs=1, batch_size=10, verbose=0)
    assert "hooks on layers.0 (they would not run)" in str(model._trainer.step_choice)
    assert len(seen) == 3      # the boundary's probe (training/boundary.py), then 2 batches
    handle.remove()
    model.layers[1].weight.register_hook(lambda g: g * 0)
    model.fit(x, y, epochs=1, batch_size=10, verbose=0)
    assert "gradient hooks on parameters" in str(model._trainer.step_choice)


def test_a_learning_rate_changed_between_epochs_is_used():
    class Halve(rk.Callback):
        def on_epoch_end(self, trainer, epoch, logs):
            for g in trainer.optimizer.param_groups:
                g["lr"] *= 0.5
    runs = []
    for step in ("autograd", "cpp"):
        rk.set_seed(0)
        model = MODELS["lstm"]()
        x, y = _data(out=2)
        model(x[:1])
        model.fit(x, y, epochs=3, batch_size=4, lr=0.05, seed=1, verbose=0, step=step,
                  callbacks=[Halve()])
        runs.append(model)
    for p, q in zip(*(m.parameters() for m in runs)):
        torch.testing.assert_close(q, p, atol=1e-12, rtol=0)


def test_half_precision_stays_on_autograd():
    x, y = _data(dtype=torch.bfloat16)
    model = rk.Sequential([rk.GRU(3), rk.Dense(1)])
    model(x[:1])
    model.fit(x, y, epochs=1, batch_size=10, verbose=0)
    assert "float32 or float64" in str(model._trainer.step_choice)


def test_batches_split_over_threads_give_the_same_step():
    """Above a few hundred thousand multiply-adds a step splits the batch over threads."""
    make = lambda: rk.Sequential([rk.LSTM(24, return_sequences=True),  # noqa: E731
                                  rk.GRU(16), rk.Dense(2)])
    g = torch.Generator().manual_seed(5)
    x = torch.randn(18, 20, 3, generator=g, dtype=torch.float64)   # 18 rows: uneven halves
    y = torch.randn(18, 2, generator=g, dtype=torch.float64)
    threads = torch.get_num_threads()
    finals = {}
    try:
        for n, step in ((1, "autograd"), (1, "cpp"), (2, "cpp"), (3, "cpp")):
            torch.set_num_threads(threads)   # the same init every time (it uses BLAS)
            rk.set_seed(0)
            model = make()
            model(x[:1])
            model.fit(x, y, epochs=2, batch_size=9, seed=1, verbose=0, step=step,
                      clip_norm=0.5, threads=n)       # fit would choose 1 for this size
            finals[(n, step)] = [p.detach().clone() for p in model.parameters()]
    finally:
        torch.set_num_threads(threads)
    ref = finals[(1, "autograd")]
    for key, params in finals.items():
        for p, q in zip(ref, params):
            torch.testing.assert_close(q, p, atol=1e-12, rtol=0, msg=str(key))


@pytest.mark.parametrize("trial", range(12))
def test_random_stacks_match_autograd(trial):
    """Seeded random models: 1-3 recurrent layers of mixed kinds, widths, activations and
    biases, 0-2 Dense layers, batch 1-16, T 1-13 (some large enough to use threads)."""
    import random
    rng = random.Random(trial)
    n_rnn, n_dense = rng.randint(1, 3), rng.randint(0, 2)
    B, T, D = rng.choice([1, 3, 7, 16]), rng.choice([1, 2, 5, 13]), rng.choice([1, 2, 6])

    def make():
        r = random.Random(trial + 1000)
        layers = []
        for k in range(n_rnn):
            kind, H = r.choice(["simple", "lstm", "gru"]), r.choice([1, 2, 5, 9, 33])
            kw = {"use_bias": r.random() < 0.8, "return_sequences": k < n_rnn - 1}
            if kind == "simple":
                layers.append(rk.SimpleRNN(H, activation=r.choice(list(cpp_step.ACTS)), **kw))
            else:
                layers.append((rk.LSTM if kind == "lstm" else rk.GRU)(H, **kw))
        for _ in range(n_dense):
            layers.append(rk.Dense(r.choice([1, 3]), use_bias=r.random() < 0.7,
                                   activation=r.choice([None, "tanh", "relu", "sigmoid"])))
        return rk.Sequential(layers)

    g = torch.Generator().manual_seed(trial)
    x = torch.randn(3 * B, T, D, generator=g, dtype=torch.float64)
    loss, opt = rng.choice(["mse", "mae"]), rng.choice(["adam", "sgd"])
    clip = rng.choice([{}, {"clip_norm": 0.1}, {"clip_value": 0.05}])
    models = []
    for step in ("autograd", "cpp"):
        rk.set_seed(trial)
        model = make()
        y = torch.randn(3 * B, model(x[:1]).shape[-1], generator=torch.Generator().manual_seed(9),
                        dtype=torch.float64)
        model.fit(x, y, epochs=2, batch_size=B, loss=loss, optimizer=opt, seed=1, verbose=0,
                  step=step, threads=torch.get_num_threads(), **clip)
        models.append(model)
    for p, q in zip(models[0].parameters(), models[1].parameters()):
        torch.testing.assert_close(q, p, atol=1e-12, rtol=0)


@pytest.mark.parametrize("head, loss", [
    (lambda: rk.Dense(1), rk.training.losses.BinaryCrossentropy(from_logits=True)),
    (lambda: rk.Dense(1, activation="sigmoid"), "binary_crossentropy"),
    (lambda: rk.Dense(4), rk.training.losses.SparseCategoricalCrossentropy(from_logits=True)),
    (lambda: rk.Dense(4, activation="softmax"), "sparse_categorical_crossentropy"),
])
def test_classification_losses_match_autograd(head, loss):
    g = torch.Generator().manual_seed(4)
    x = torch.randn(24, 6, 3, generator=g, dtype=torch.float64)
    binary = isinstance(loss, rk.training.losses.BinaryCrossentropy) or \
        loss == "binary_crossentropy"
    classes = torch.randint(0, 2 if binary else 4, (24,), generator=g)
    y = classes.double() if binary else classes
    runs = []
    for step in ("autograd", "cpp"):
        rk.set_seed(0)
        model = rk.Sequential([rk.GRU(5), rk.Dense(6, activation="tanh"), head()])
        model(x[:1])
        hist = model.fit(x, y, epochs=3, batch_size=8, loss=loss, lr=0.05, seed=1, verbose=0,
                         metrics=["accuracy"], step=step)
        runs.append((model, hist))
    (a, ha), (b, hb) = runs
    assert b._trainer.step_choice.kind == "cpp"
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(q, p, atol=1e-12, rtol=0)
    np.testing.assert_allclose(hb.history["loss"], ha.history["loss"], rtol=1e-12)
    assert hb.history["accuracy"] == ha.history["accuracy"]


def test_class_targets_are_checked_as_the_loss_checks_them():
    x = torch.randn(8, 5, 2)
    model = rk.Sequential([rk.GRU(3), rk.Dense(3)])
    loss = rk.training.losses.SparseCategoricalCrossentropy(from_logits=True)
    with pytest.raises(ValueError, match=r"class 3 outside \[0, 2\]"):
        model.fit(x, torch.tensor([0, 1, 2, 3, 0, 1, 2, 0]), loss=loss, verbose=0,
                  step="cpp")
    with pytest.raises(ValueError, match="targets must be class indices, got fractions"):
        model.fit(x, torch.full((8,), 0.5), loss=loss, verbose=0, step="cpp")


def test_the_step_is_described_by_named_records():
    """plan() turns the model into LayerSpec records and the optimizer's group into a
    StepConfig, field by field (engines/codes.py: the C++ reads them in the same order)."""
    from rnnkit.engines import codes
    from rnnkit.engines.codes import LayerSpec, StepConfig
    from rnnkit.training.losses import SparseCategoricalCrossentropy
    model = rk.Sequential([rk.GRU(3), rk.Dense(2, activation="softmax")])
    model(torch.zeros(1, 4, 5))
    opt = torch.optim.Adam(model.parameters(), lr=0.02, betas=(0.8, 0.9), eps=1e-6,
                           weight_decay=0.1)
    step, choice = cpp_step.plan(model, SparseCategoricalCrossentropy(), opt,
                                 torch.zeros(4, 4, 5), batch_size=4, tbptt=None, mode="cpp")
    assert choice.kind == "cpp"
    assert step.layers == [
        LayerSpec(kind=codes.LAYER_KINDS["gru"], inputs=5, units=3,
                  activation=codes.ACTIVATIONS["tanh"], bias=True),
        LayerSpec(kind=codes.LAYER_KINDS["dense"], inputs=3, units=2,
                  activation=codes.SOFTMAX, bias=True)]
    assert step.config(0.5, None) == StepConfig(
        lr=0.02, beta1=0.8, beta2=0.9, eps=1e-6, weight_decay=0.1, clip_value=0.5,
        clip_norm=0.0, adam=True, loss=codes.LOSSES[("sparse_categorical_crossentropy", False)],
        grads_only=False)
    opt.param_groups[0]["lr"] = 0.001                      # read at every step
    assert step.config(None, 2.0, grads_only=True)[:1] == (0.001,)
    assert step.config(None, 2.0, grads_only=True).clip_norm == 2.0
