import math

import numpy as np
import pytest
import torch
from torch import nn

import rnnkit as rk
from rnnkit.training import Trainer, TrainingDiverged


def _sine(n=64, T=20, seed=0):
    rng = np.random.default_rng(seed)
    start = rng.uniform(0, 2 * np.pi, size=(n, 1))
    t = start + np.arange(T + 1) * 0.3
    wave = np.sin(t)
    return wave[:, :T, None].astype(np.float32), wave[:, T].astype(np.float32)


def _model(cell=rk.GRU):
    return rk.Sequential([cell(8), rk.Dense(1)])


def test_fit_learns_sine_and_history_records_metrics():
    x, y = _sine()
    model = _model()
    hist = model.fit(x, y, epochs=30, batch_size=16, optimizer="adam", lr=0.01,
                     metrics=["rmse", "mae"], validation_split=0.25, seed=0, verbose=0)
    assert hist.history["loss"][-1] < 0.1 * hist.history["loss"][0]
    assert set(hist.history) == {"loss", "rmse", "mae", "val_loss", "val_rmse", "val_mae"}
    result = model.evaluate(x, y)
    assert result["rmse"] == pytest.approx(math.sqrt(result["loss"]), rel=1e-5)
    assert model.predict(x).shape == (64, 1)


def test_seed_gives_identical_weights_run_to_run():
    x, y = _sine(32)
    finals = []
    for _ in range(2):
        model = rk.Sequential([rk.LSTM(4, dropout=0.2), rk.Dense(1)])
        model.fit(x, y, epochs=2, batch_size=8, seed=123, verbose=0)
        finals.append([p.detach().clone() for p in model.parameters()])
    for a, b in zip(*finals):
        assert torch.equal(a, b)


def test_clip_norm_caps_the_gradient_norm():
    x, y = _sine(16)
    model = _model()
    norms = []

    class Spy(rk.Callback):
        def on_batch_end(self, trainer, batch, loss, grad_norm):
            total = torch.sqrt(sum((p.grad ** 2).sum() for p in trainer.model.parameters()))
            norms.append((grad_norm, float(total)))

    model.fit(x, y * 100, epochs=1, batch_size=4, clip_norm=0.01, callbacks=[Spy()], verbose=0)
    assert all(after <= 0.01 + 1e-6 and before > 0.01 for before, after in norms)


def test_clip_value_bounds_every_gradient_element():
    x, y = _sine(16)
    seen = []

    class Spy(rk.Callback):
        def on_batch_end(self, trainer, batch, loss, grad_norm):
            seen.append(max(float(p.grad.abs().max()) for p in trainer.model.parameters()))

    _model().fit(x, y * 100, epochs=1, batch_size=4, clip_value=1e-3, callbacks=[Spy()],
                 verbose=0)
    assert max(seen) <= 1e-3 + 1e-9


def test_tbptt_per_step_targets_equals_manual_chunked_training():
    torch.manual_seed(0)
    x = torch.randn(4, 12, 2)
    y = torch.randn(4, 12, 1)
    make = lambda: rk.Sequential([rk.LSTM(3, input_size=2, return_sequences=True),  # noqa: E731
                                  rk.Dense(1, input_size=3)])
    torch.manual_seed(1)
    model = make()
    torch.manual_seed(1)
    manual = make()
    model.fit(x, y, epochs=1, batch_size=4, tbptt=5, optimizer="sgd", shuffle=False, verbose=0)
    opt = torch.optim.SGD(manual.parameters(), lr=1e-2)
    lstm = manual.layers[0]
    state = None
    for t in range(0, 12, 5):                                   # the textbook TBPTT loop
        out, *state_new = rk.RNN(lstm.cell, return_sequences=True, return_state=True)(
            x[:, t:t + 5], initial_state=state)
        state = rk.LSTMState(*(s.detach() for s in state_new))
        loss = nn.functional.mse_loss(manual.layers[1](out), y[:, t:t + 5])
        opt.zero_grad()
        loss.backward()
        opt.step()
    for p, q in zip(model.parameters(), manual.parameters()):
        torch.testing.assert_close(p, q)
    assert not model.layers[0].stateful and model.layers[0]._state is None


def test_tbptt_many_to_one_scores_only_the_last_chunk_and_rejects_bidirectional():
    x, y = _sine(16, T=20)
    hist = rk.Sequential([rk.GRU(6), rk.Dense(1)]).fit(x, y, epochs=3, batch_size=8, tbptt=7,
                                                       verbose=0)
    assert np.isfinite(hist.history["loss"]).all()
    with pytest.raises(ValueError, match="tbptt needs causal layers"):
        rk.Sequential([rk.Bidirectional(rk.GRU(3)), rk.Dense(1)]).fit(x, y, tbptt=5, verbose=0)


def test_early_stopping_restores_best_weights():
    x, y = _sine(32)
    model = _model()
    stopper = rk.EarlyStopping(monitor="val_loss", patience=1)
    best = {}

    class Track(rk.Callback):
        def on_epoch_end(self, trainer, epoch, logs):
            if not best or logs["val_loss"] < best["loss"]:
                best.update(loss=logs["val_loss"], state={k: v.clone() for k, v in
                                                          trainer.model.state_dict().items()})

    model.fit(x, y, epochs=60, validation_data=(x[:8], y[:8]), callbacks=[Track(), stopper],
              optimizer="sgd", verbose=0)
    assert stopper.stopped_epoch is not None or len(stopper.best_state) > 0
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, best["state"][k])
    with pytest.raises(ValueError, match="cannot monitor 'val_loss'"):
        _model().fit(x, y, epochs=1, callbacks=[rk.EarlyStopping()], verbose=0)


def test_resume_after_interruption_reaches_the_same_weights(tmp_path):
    x, y = _sine(32)
    ckpt = tmp_path / "run" / "ckpt.safetensors"

    def fresh():
        return rk.Sequential([rk.LSTM(4, dropout=0.1), rk.Dense(1)])

    full = fresh()
    full.fit(x, y, epochs=4, batch_size=8, seed=7, verbose=0)

    class Interrupt(rk.Callback):
        def on_epoch_end(self, trainer, epoch, logs):
            if epoch == 1:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fresh().fit(x, y, epochs=4, batch_size=8, seed=7, verbose=0, checkpoint=ckpt,
                    callbacks=[Interrupt()])
    resumed = fresh()
    hist = resumed.fit(x, y, epochs=4, batch_size=8, seed=7, verbose=0, resume=ckpt)
    assert len(hist.history["loss"]) == 4
    for p, q in zip(full.parameters(), resumed.parameters()):
        torch.testing.assert_close(p, q, atol=0, rtol=0)
    assert [f.name for f in ckpt.parent.iterdir()] == ["ckpt.safetensors"]   # no temp files
    loaded = rk.load(ckpt).eval()
    torch.testing.assert_close(loaded(torch.from_numpy(x)), resumed(torch.from_numpy(x)))


def test_nan_loss_stops_with_a_clear_message_and_keeps_the_good_checkpoint(tmp_path):
    x, y = _sine(16)
    ckpt = tmp_path / "c.safetensors"
    model = _model()
    model.fit(x, y, epochs=1, verbose=0, checkpoint=ckpt)
    good = ckpt.read_bytes()

    class Poison(rk.Callback):
        def on_epoch_begin(self, trainer, epoch):
            with torch.no_grad():
                trainer.model.layers[1].weight.fill_(float("nan"))

    with pytest.raises(TrainingDiverged, match=r"loss became nan at epoch 1, batch 1.*"
                                               r"last good checkpoint"):
        model.fit(x, y, epochs=2, verbose=0, checkpoint=ckpt, callbacks=[Poison()])
    assert ckpt.read_bytes() == good


@pytest.mark.parametrize("kwargs, match", [
    ({"epochs": 0}, "epochs must be a positive int, got 0"),
    ({"batch_size": 2.5}, "batch_size must be a positive int"),
    ({"tbptt": 0}, "tbptt must be a positive int"),
    ({"clip_norm": -1}, "clip_norm must be a positive number"),
    ({"validation_split": 1.5}, r"validation_split must be in \(0, 1\)"),
])
def test_bad_fit_options(kwargs, match):
    x, y = _sine(8)
    with pytest.raises(ValueError, match=match):
        _model().fit(x, y, verbose=0, **kwargs)


def test_bad_data_gets_a_clear_error():
    x, y = _sine(8)
    with pytest.raises(ValueError, match="x has 8 samples but y has 7"):
        _model().fit(x, y[:7], verbose=0)
    bad = y.copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match="y contains NaN"):
        _model().fit(x, bad, verbose=0)
    with pytest.raises(ValueError, match="x is empty"):
        _model().fit(x[:0], y[:0], verbose=0)
    with pytest.raises(TypeError, match="x must be numeric"):
        _model().fit(np.array([["a"]]), y[:1], verbose=0)
    with pytest.raises(ValueError, match=r"mse: predictions have shape \(8, 1\) but targets"):
        _model().fit(x, np.zeros((8, 3), np.float32), verbose=0)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        Trainer(_model(), optimizer="adamax")
    with pytest.raises(ValueError, match="loss must be one of"):
        Trainer(_model(), loss="hinge")


def test_trainer_works_on_a_plain_module_and_classification_losses():
    torch.manual_seed(0)
    x = torch.randn(64, 6, 2)
    y = (x[:, :, 0].sum(1) > 0).long()

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn, self.out = rk.GRU(8, input_size=2), nn.Linear(8, 2)

        def forward(self, x):
            return self.out(self.rnn(x))

    trainer = Trainer(Net(), loss=rk.training.losses.SparseCategoricalCrossentropy(
        from_logits=True), optimizer="rmsprop", metrics=["accuracy"], lr=0.01)
    trainer.fit(x, y, epochs=30, batch_size=16, verbose=0)
    assert trainer.evaluate(x, y)["accuracy"] > 0.9
    binary = Trainer(rk.Sequential([rk.LSTM(4), rk.Dense(1, activation="sigmoid")]),
                     loss="binary_crossentropy", metrics=["accuracy"], lr=0.01)
    binary.fit(x, y.float(), epochs=30, batch_size=16, verbose=0)
    assert binary.evaluate(x, y.float())["accuracy"] > 0.85


def test_model_checkpoint_saves_only_improvements_and_loads(tmp_path):
    x, y = _sine(32)
    path = tmp_path / "best.safetensors"
    saves = []

    class Watch(rk.Callback):
        def on_epoch_end(self, trainer, epoch, logs):
            saves.append(path.stat().st_mtime_ns if path.exists() else None)

    cb = rk.ModelCheckpoint(path, monitor="val_loss", save_best_only=True)
    model = _model()
    hist = model.fit(x, y, epochs=6, validation_data=(x, y), callbacks=[cb, Watch()],
                     lr=0.05, verbose=0)
    losses = hist.history["val_loss"]
    improved = [k == 0 or losses[k] < min(losses[:k]) for k in range(len(losses))]
    changed = [k == 0 or saves[k] != saves[k - 1] for k in range(len(saves))]
    assert improved == changed
    assert cb.best == min(losses)
    assert isinstance(rk.load(path), rk.Sequential)
