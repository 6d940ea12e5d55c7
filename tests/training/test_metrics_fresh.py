"""A Metric instance given to fit() is copied fresh for every epoch and split."""

import torch

import rnnkit as rk
from rnnkit.training.metrics import Accuracy


def test_metric_instances_restart_every_epoch_and_for_validation():
    torch.manual_seed(0)
    x, y = torch.randn(40, 5, 2), torch.randint(0, 3, (40,))
    model = rk.Sequential([rk.GRU(4, input_size=2),
                           rk.Dense(3, activation="softmax", input_size=4)])
    metric = Accuracy("sparse")
    hist = model.fit(x, y, epochs=3, batch_size=8, loss="sparse_categorical_crossentropy",
                     metrics=[metric], validation_data=(x[:10], y[:10]), verbose=0)
    for key, n in (("accuracy", 40), ("val_accuracy", 10)):
        for value in hist.history[key]:
            assert abs(value * n - round(value * n)) < 1e-9, (key, value)   # k / n exactly
    assert metric.count == 0                     # the instance given is left untouched


def test_tbptt_reports_progress_per_time_chunk():
    class Chunks(rk.Callback):
        def __init__(self):
            self.calls = []

        def on_chunk_end(self, trainer, chunk, chunks, loss):
            self.calls.append((chunk, chunks, loss == loss))

    seen = Chunks()
    model = rk.Sequential([rk.GRU(3, input_size=2, return_sequences=True),
                           rk.Dense(1, input_size=3)])
    model.fit(torch.randn(4, 10, 2), torch.randn(4, 10, 1), epochs=1, batch_size=4, tbptt=3,
              shuffle=False, callbacks=[seen], verbose=0)
    assert seen.calls == [(0, 4, True), (1, 4, True), (2, 4, True), (3, 4, True)]
