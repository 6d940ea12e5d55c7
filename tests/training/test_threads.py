"""fit's thread count: chosen by the work per step, or requested; held during fit only."""

import dataclasses

import pytest
import torch

import rnnkit as rk
from rnnkit.training.threads import (
    ONE_THREAD_MAX_MACS,
    ThreadChoice,
    choose_threads,
    using_threads,
    work_per_step,
)


@pytest.fixture
def two_threads():
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(old)


def test_using_threads_sets_and_restores(two_threads):
    with using_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2
    with pytest.raises(RuntimeError), using_threads(3):
        assert torch.get_num_threads() == 3
        raise RuntimeError
    assert torch.get_num_threads() == 2
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="threads must be a positive int"), \
                using_threads(bad):
            pass


def test_thread_choice_is_a_frozen_pair():
    c = ThreadChoice(1, "why")
    assert (c.n, c.reason) == (1, "why")
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.n = 2


def test_work_per_step_counts_gates_times_h_times_d_plus_h():
    model = rk.Sequential([rk.LSTM(6, return_sequences=True), rk.GRU(5), rk.Dense(2)])
    model(torch.zeros(1, 4, 3))
    assert work_per_step(model) == 4 * 6 * (3 + 6) + 3 * 5 * (6 + 5)
    bi = rk.Sequential([rk.Bidirectional(rk.SimpleRNN(4)), rk.Dense(1)])
    bi(torch.zeros(1, 4, 3))
    assert work_per_step(bi) == 2 * 4 * (3 + 4)
    emb = rk.Sequential([rk.Embedding(1000, 8), rk.GRU(4), rk.Dense(1)])
    emb(torch.ones(1, 4, dtype=torch.long))
    assert work_per_step(emb) == 3 * 4 * (8 + 4)          # the lookup table is no work
    assert work_per_step(torch.nn.LSTM(3, 7)) == 4 * 7 * (3 + 7)
    assert work_per_step(torch.nn.Linear(5, 4)) == 20    # no recurrent cell: all weights


def test_work_equals_the_cpp_steps_macs():
    """The same count the C++ step reports (training/cpp_step.py), for each cell."""
    x, y = torch.randn(12, 5, 3), torch.randn(12, 2)
    model = rk.Sequential([rk.SimpleRNN(4, return_sequences=True),
                           rk.LSTM(5, return_sequences=True), rk.GRU(3), rk.Dense(2)])
    model.fit(x, y, epochs=1, batch_size=8, verbose=0, step="cpp")
    assert model._trainer._cpp_step.macs == 8 * work_per_step(model)


def test_small_models_get_one_thread_big_ones_all(two_threads):
    small = rk.Sequential([rk.GRU(64), rk.Dense(10)])        # the digits classifier
    small(torch.zeros(1, 8, 8))
    c = choose_threads(small, 32, torch.zeros(500, 8, 8))
    assert c.n == 1 and "442,368 multiply-adds" in c.reason
    assert choose_threads(small, 32, torch.zeros(500, 8, 8)) == c
    big = rk.Sequential([rk.GRU(256), rk.Dense(10)])
    big(torch.zeros(1, 8, 8))
    c = choose_threads(big, 64, torch.zeros(500, 8, 8))
    assert c.n == 2 and "12,976,128" in c.reason and "> " in c.reason
    # the batch is capped by the data: 3 samples of the big model are a small step
    assert choose_threads(big, 64, torch.zeros(3, 8, 8)).n == (
        1 if 3 * work_per_step(big) <= ONE_THREAD_MAX_MACS else 2)


@pytest.mark.parametrize("step", ["autograd", "cpp"])
def test_fit_runs_on_the_choice_and_restores(two_threads, step):
    seen = []

    class Spy(rk.Callback):
        def on_batch_end(self, trainer, batch, loss, grad_norm):
            seen.append(torch.get_num_threads())

    x, y = torch.randn(16, 4, 2), torch.randn(16, 1)
    model = rk.Sequential([rk.GRU(3), rk.Dense(1)])
    model.fit(x, y, epochs=1, batch_size=8, verbose=0, step=step, callbacks=[Spy()])
    assert seen == [1, 1] and torch.get_num_threads() == 2
    assert model._trainer.thread_choice.n == 1
    assert "threads: 1 (" in model.summary(print_fn=None)
    seen.clear()
    model.fit(x, y, epochs=1, batch_size=8, verbose=0, step=step, callbacks=[Spy()],
              threads=3)
    assert seen == [3, 3] and torch.get_num_threads() == 2
    assert model._trainer.thread_choice == ThreadChoice(3, "threads=3 requested")
    assert "threads: 3 (threads=3 requested)" in model.summary(print_fn=None)


def test_threads_restored_when_fit_fails(two_threads):
    class Boom(rk.Callback):
        def on_batch_end(self, trainer, batch, loss, grad_norm):
            raise KeyboardInterrupt

    model = rk.Sequential([rk.GRU(3), rk.Dense(1)])
    with pytest.raises(KeyboardInterrupt):
        model.fit(torch.randn(8, 4, 2), torch.randn(8, 1), verbose=0, callbacks=[Boom()])
    assert torch.get_num_threads() == 2


def test_bad_threads_named_before_training():
    model = rk.Sequential([rk.GRU(3), rk.Dense(1)])
    for bad in (0, 2.0, True):
        with pytest.raises(ValueError, match="threads must be a positive int"):
            model.fit(torch.randn(8, 4, 2), torch.randn(8, 1), verbose=0, threads=bad)


def test_summary_without_fit_has_no_threads_line():
    model = rk.Sequential([rk.GRU(3), rk.Dense(1)])
    model(torch.zeros(1, 4, 2))
    assert "threads:" not in model.summary(print_fn=None)


def test_classifier_passes_threads_and_log_dir(tmp_path, capsys, monkeypatch):
    """SequenceClassifier.fit forwards threads and log_dir; verbose=1 prints a line per
    epoch, each whole on one line whatever the console width."""
    pytest.importorskip("tensorboard")
    from rnnkit.tasks import SequenceClassifier
    g = torch.Generator().manual_seed(0)
    x = torch.randn(40, 5, 3, generator=g).numpy()
    y = (x.sum((1, 2)) > 0).astype(int)
    monkeypatch.setenv("COLUMNS", "40")           # narrower than one epoch's line
    clf = SequenceClassifier(cell="gru", units=4)
    clf.fit(x, y, epochs=2, patience=None, verbose=1, threads=1, log_dir=tmp_path)
    assert clf.model._trainer.thread_choice == ThreadChoice(1, "threads=1 requested")
    assert any(p.name.startswith("events.out.tfevents") for p in tmp_path.iterdir())
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split("  ")[0] for ln in lines] == ["epoch 1/2", "epoch 2/2"]
    assert all("val_accuracy" in ln and ln.endswith("s)") for ln in lines)
