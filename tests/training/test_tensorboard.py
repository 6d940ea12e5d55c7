"""fit(log_dir=...) writes TensorBoard events equal to the History fit returns, on both
training steps; the events are read back with TensorBoard's own reader."""

import sys

import pytest
import torch

import rnnkit as rk

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import (  # noqa: E402
    EventAccumulator,
)


def _events(log_dir) -> EventAccumulator:
    acc = EventAccumulator(str(log_dir), size_guidance={"scalars": 0, "histograms": 0})
    acc.Reload()
    return acc


def _data(n=24):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 6, 3, generator=g)
    return x, (x.sum((1, 2)) > 0).float().reshape(-1, 1)


@pytest.mark.parametrize("step", ["autograd", "cpp"])
def test_scalars_equal_the_history(tmp_path, step):
    x, y = _data()
    model = rk.Sequential([rk.GRU(5), rk.Dense(1, activation="sigmoid")])
    history = model.fit(x[:18], y[:18], epochs=3, batch_size=8, seed=0, verbose=0, step=step,
                        loss=rk.training.get_loss("binary_crossentropy"), lr=0.01,
                        metrics=["accuracy"], validation_data=(x[18:], y[18:]),
                        log_dir=tmp_path)
    assert model._trainer.step_choice.kind == step
    acc = _events(tmp_path)
    scalars = set(acc.Tags()["scalars"])
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert scalars == set(history.history) | {"lr", "grad_norm"}
    for key, values in history.history.items():
        events = acc.Scalars(key)
        assert [e.step for e in events] == history.epoch == [0, 1, 2]
        assert [e.value for e in events] == pytest.approx(values, rel=1e-6, abs=1e-6)
    lr = model._trainer.optimizer.param_groups[0]["lr"]
    assert lr == 0.01
    assert [e.value for e in acc.Scalars("lr")] == pytest.approx([lr] * 3, rel=1e-6)
    norms = [e.value for e in acc.Scalars("grad_norm")]
    assert [e.step for e in acc.Scalars("grad_norm")] == [0, 1, 2]
    assert all(v > 0 for v in norms)
    assert acc.Tags()["histograms"] == []


def test_grad_norm_is_the_mean_per_batch_norm(tmp_path):
    """Without clip_norm the callback computes the norm from p.grad; with it, the trainer's
    (pre-clipping) norm is used; both are the same number, on both steps."""
    x, y = _data()
    got = {}
    for step in ("autograd", "cpp"):
        for clip in (None, 1e6):
            d = tmp_path / f"{step}-{clip}"
            model = rk.Sequential([rk.SimpleRNN(4), rk.Dense(1)])
            norms = []

            class Spy(rk.Callback):
                def on_batch_end(self, trainer, batch, loss, grad_norm):
                    g = torch.cat([p.grad.reshape(-1) for p in trainer.model.parameters()])
                    norms.append(float(g.norm()))

            model.fit(x, y, epochs=1, batch_size=10, seed=0, verbose=0, step=step,
                      clip_norm=clip, callbacks=[Spy()], log_dir=d)
            (event,) = _events(d).Scalars("grad_norm")
            assert event.value == pytest.approx(sum(norms) / len(norms), rel=1e-5)
            got[step, clip] = event.value
    assert len({round(v, 4) for v in got.values()}) == 1, got


def test_histograms(tmp_path):
    x, y = _data()
    model = rk.Sequential([rk.LSTM(3), rk.Dense(1)])
    trainer = rk.Trainer(model, loss="mse")
    trainer.fit(x, y, epochs=2, batch_size=12, seed=0, verbose=0,
                callbacks=[rk.TensorBoard(tmp_path, histograms=True)])
    acc = _events(tmp_path)
    names = {f"weights/{n}" for n, _ in model.named_parameters()}
    assert set(acc.Tags()["histograms"]) == names
    for name in names:
        assert [e.step for e in acc.Histograms(name)] == [0, 1]
    assert rk.training.TensorBoard is rk.TensorBoard


def test_several_param_groups_log_each_lr(tmp_path):
    x, y = _data()
    model = rk.Sequential([rk.GRU(3), rk.Dense(1)])
    model(x[:1])
    rnn, dense = model.layers
    opt = torch.optim.SGD([{"params": rnn.parameters(), "lr": 0.1},
                           {"params": dense.parameters(), "lr": 0.02}])
    rk.Trainer(model, optimizer=opt).fit(x, y, epochs=1, verbose=0, log_dir=tmp_path)
    acc = _events(tmp_path)
    assert acc.Scalars("lr/group0")[0].value == pytest.approx(0.1)
    assert acc.Scalars("lr/group1")[0].value == pytest.approx(0.02)


def test_missing_extra_names_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)   # import fails
    x, y = _data()
    model = rk.Sequential([rk.GRU(3), rk.Dense(1)])
    with pytest.raises(ImportError) as err:
        model.fit(x, y, epochs=1, verbose=0, log_dir=tmp_path / "tb")
    assert str(err.value) == ("TensorBoard logging needs the tensorboard package, an optional "
                              "extra: pip install 'rnnkit[tensorboard]'")
    assert not (tmp_path / "tb").exists()
    assert not model._trainer.history.history          # failed before any training
    with pytest.raises(ImportError, match=r"pip install 'rnnkit\[tensorboard\]'"):
        rk.TensorBoard(tmp_path)
