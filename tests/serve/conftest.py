"""Tiny models of every kind, trained once per test run (a few seconds in all) and saved to
a temporary folder, and the in-process clients that serve them."""

import warnings

import numpy as np
import pytest
import torch

import rnnkit as rk
from rnnkit.layers import GRU, LSTM, Bidirectional, Dense
from rnnkit.model import Sequential

TEXT = ("the quick brown fox jumps over the lazy dog. " * 12)
PAIRS = [("one", "un"), ("two", "deux"), ("three", "trois"), ("one two", "un deux"),
         ("two three", "deux trois"), ("three one", "trois un")] * 4


def _sequential(folder):
    torch.manual_seed(0)
    x, y = torch.randn(32, 10, 3), torch.randn(32, 2)
    model = Sequential([LSTM(8, return_sequences=True), GRU(6), Dense(2)])
    model.fit(x, y, epochs=2, batch_size=8, verbose=0, seed=0)
    model.save(folder)
    return folder


def _bidirectional(folder):
    model = Sequential([Bidirectional(GRU(4)), Dense(1)])
    model(torch.zeros(1, 5, 2))
    model.save(folder)
    return folder


def _forecaster(folder):
    f = rk.tasks.Forecaster(cell="gru", units=8, window=10, horizon=3)
    f.fit(rk.datasets.load("sine", length=120), epochs=2, verbose=0)
    f.save(folder)
    return folder


def _hybrid(folder):
    """The ES-RNN hybrid, three steps ahead: its quantiles come from its validation errors."""
    t = np.arange(120, dtype=np.float64)
    h = rk.tasks.HybridForecaster(window=12, season=12, units=4, horizon=3)
    h.fit(100 + t + 10 * np.sin(2 * np.pi * t / 12), epochs=1, verbose=0)
    h.save(folder)
    return folder


def _classifier(folder):
    clf = rk.tasks.SequenceClassifier(cell="gru", units=8, mode="char", embedding=4)
    clf.fit(["ab", "ba", "aab", "bba"] * 8, ["left", "right", "left", "right"] * 8, epochs=2,
            verbose=0)
    clf.save(folder)
    return folder


def _generator(folder):
    gen = rk.tasks.TextGenerator(cell="gru", units=16, embedding=8, seq_len=20, batch_size=4)
    gen.fit(TEXT, epochs=1, verbose=0)
    gen.save(folder)
    return folder


def _translator(folder):
    tr = rk.tasks.Translator(cell="gru", units=16, embedding=8)
    tr.fit(PAIRS, epochs=2, batch_size=8, verbose=0, val=0)
    tr.save(folder)
    return folder


def asgi_client_class():
    """starlette's TestClient.  Starlette 1.x warns, once, at its import that it would rather
    run on httpx2; httpx (a dependency of FastAPI's test client for years) still works, and
    that one warning is not about rnnkit."""
    from starlette.exceptions import StarletteDeprecationWarning
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StarletteDeprecationWarning)
        from starlette.testclient import TestClient
    return TestClient


MAKERS = {"sequential": _sequential, "bidirectional": _bidirectional,
          "forecaster": _forecaster, "hybrid": _hybrid, "classifier": _classifier,
          "generator": _generator,
          "translator": _translator}


class _OnDemand(dict):
    """A dict whose values are made on first use (a test file that needs one model does
    not train six)."""

    def __init__(self, make):
        super().__init__()
        self.make = make

    def __missing__(self, key):
        value = self[key] = self.make(key)
        return value


@pytest.fixture(scope="session")
def model_dirs(tmp_path_factory):
    """kind -> the folder of a tiny saved model of that kind, trained on first use."""
    root = tmp_path_factory.mktemp("served")
    return _OnDemand(lambda name: MAKERS[name](root / name))


@pytest.fixture(scope="session")
def clients(model_dirs):
    """kind -> a TestClient over create_app(that folder), small limits."""
    from rnnkit.serve import Limits, create_app
    TestClient = asgi_client_class()
    limits = Limits(max_batch=8, max_steps=64, max_generate=40, max_forecast=50,
                    max_history=500, max_text=200, max_body=200_000, max_sessions=4,
                    session_ttl=60)
    out = _OnDemand(lambda name: TestClient(create_app(model_dirs[name], limits=limits)))
    yield out
    for client in out.values():
        client.close()


@pytest.fixture(scope="session")
def live(model_dirs):
    """kind -> the URL of a real ``rnnkit serve`` process for it (127.0.0.1, a free port),
    started on first use under a hard deadline and stopped, its whole process group, when
    the test session ends (``rnnkit.serve.bench.serving``)."""
    from contextlib import ExitStack

    from rnnkit.serve.bench import serving
    urls = {}
    with ExitStack() as stack:
        def url(kind):
            if kind not in urls:
                urls[kind] = stack.enter_context(serving(model_dirs[kind], "--threads", "1"))
            return urls[kind]
        yield url
