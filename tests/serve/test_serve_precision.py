"""``rnnkit serve --precision``: every request runs at that precision, bf16 answers stay close
to fp32, sessions keep their state fp32, and /metadata reports the choice and its reason.

The tolerance is that of tests/tasks/test_inference_precision.py: a bf16 product rounds
its operands and its result once (3u, u = 2^-9), a recurrent layer adds that at every step
(whole sequences, /predict) or 12u (one ``step`` at a time, sessions: torch's single-step
kernels round their gate math too), so the hidden state h that the served network,
LSTM(8) -> GRU(6) -> Dense(2), hands its Dense after t steps is within e = 2t * 3u (or
2t * 12u) of fp32, relative.  The Dense rounds once more (3u), and its outputs are sums that
nearly cancel (near zero), so their error is bounded relative to the size of their terms:

    |dy_j| <= (e + 3u) * (||W_j|| ||h|| + |b_j|)          (Cauchy-Schwarz)
"""

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import rnnkit as rk
from rnnkit.cli.main import app
from rnnkit.precision import bf16_blocker
from rnnkit.serve import Limits, create_app
from rnnkit.serve.models import load_served

from .conftest import _OnDemand, asgi_client_class

U = 2.0 ** -9                 # bf16 unit roundoff
needs_bf16 = pytest.mark.skipif(bf16_blocker(torch.device("cpu"), torch.float32) is not None,
                                reason="this CPU has no bfloat16")   # CI CPUs all have it


def _close(got, want, x: torch.Tensor, folder, e: float) -> None:
    """bf16 outputs ``got`` against fp32 ``want`` on x (B, t, 3), h within ``e``."""
    lstm, gru, dense = rk.load(folder).layers
    with torch.no_grad():
        h = gru(lstm(x)).double()                                       # (B, 6)
        terms = dense.weight.double().norm(dim=1) * h.norm(dim=1, keepdim=True) \
            + dense.bias.double().abs()                                 # (B, 2)
    error = np.abs(np.asarray(got) - np.asarray(want))
    assert (error > 0).any()                                    # bf16 did run
    assert (error <= (e + 3 * U) * terms.numpy()).all(), (error, terms)


@pytest.fixture(scope="module")
def bf16_clients(model_dirs):
    """kind -> a TestClient over create_app(that folder, precision="bf16")."""
    TestClient = asgi_client_class()
    limits = Limits(max_batch=8, max_steps=64, max_generate=40, max_sessions=4)
    out = _OnDemand(lambda name: TestClient(create_app(model_dirs[name], limits=limits,
                                                       precision="bf16")))
    yield out
    for client in out.values():
        client.close()


def _x(seed: int, T: int) -> torch.Tensor:
    return torch.randn(2, T, 3, generator=torch.Generator().manual_seed(seed))


def test_metadata_reports_the_precision_and_why(clients, model_dirs):
    assert clients["sequential"].get("/metadata").json()["precision"] == {
        "requested": "fp32", "kind": "fp32", "reason": "precision='fp32' (the default)"}
    TestClient = asgi_client_class()
    with TestClient(create_app(model_dirs["sequential"], precision="auto")) as client:
        auto = client.get("/metadata").json()["precision"]
    assert auto["requested"] == "auto" and auto["kind"] == "fp32"
    assert "every recurrent layer has H < 256 (H = 6, 8)" in auto["reason"]


@needs_bf16
def test_bf16_predict_and_sessions_are_close_to_fp32(clients, bf16_clients, model_dirs):
    meta = bf16_clients["sequential"].get("/metadata").json()
    assert meta["precision"]["requested"] == "bf16" and meta["precision"]["kind"] == "bf16"
    assert meta["precision"]["reason"].startswith("precision='bf16': GEMMs in bfloat16")
    assert {e["ran"] for e in meta["engines"]} == {"rnnkit"}      # bf16: rnnkit's kernels
    x = _x(0, T=7)
    want = clients["sequential"].post("/predict", json={"x": x.tolist()}).json()["y"]
    got = bf16_clients["sequential"].post("/predict", json={"x": x.tolist()}).json()["y"]
    _close(got, want, x, model_dirs["sequential"], 2 * 7 * 3 * U)
    client = bf16_clients["sequential"]
    sid = client.post("/sessions").json()["id"]
    try:
        for t in range(7):
            r = client.post(f"/sessions/{sid}/steps", json={"steps": x[0, t:t + 1].tolist()})
            assert r.status_code == 200, r.text
            whole = clients["sequential"].post("/predict",
                                               json={"x": x[:1, :t + 1].tolist()}).json()["y"]
            _close(r.json()["y"], whole, x[:1, :t + 1], model_dirs["sequential"],
                   2 * (t + 1) * 12 * U)
        state = client.app.state.server.sessions.get(sid).state
        leaves = [a for s in state.values() for a in (s if isinstance(s, tuple) else (s,))]
        assert len(leaves) == 3 and {a.dtype for a in leaves} == {torch.float32}   # h, c; h
    finally:
        client.delete(f"/sessions/{sid}")


@needs_bf16
def test_every_task_endpoint_runs_at_the_served_precision(clients, bf16_clients, model_dirs):
    texts = ["ab", "bba", "aab"]
    clf = rk.tasks.SequenceClassifier.load(model_dirs["classifier"])
    served = [[r["probabilities"][c] for c in clf.classes] for r in
              bf16_clients["classifier"].post("/classify", json={"texts": texts})
              .json()["results"]]
    np.testing.assert_allclose(served, clf.predict_proba(texts, precision="bf16"), rtol=1e-9)
    fp32 = [[r["probabilities"][c] for c in clf.classes] for r in
            clients["classifier"].post("/classify", json={"texts": texts}).json()["results"]]
    assert not np.array_equal(served, fp32)

    f = rk.tasks.Forecaster.load(model_dirs["forecaster"])
    served = bf16_clients["forecaster"].post("/forecast", json={"steps": 3}).json()
    got = np.asarray(served["forecast"][served["targets"][0]])
    np.testing.assert_allclose(got, f.predict(steps=3, precision="bf16")[:, 0], rtol=1e-9)
    fp32 = clients["forecaster"].post("/forecast", json={"steps": 3}).json()
    assert not np.array_equal(got, fp32["forecast"][fp32["targets"][0]])

    tr = rk.tasks.Translator.load(model_dirs["translator"])
    served = bf16_clients["translator"].post("/translate", json={"texts": ["one two"]}).json()
    assert served["translations"] == tr.translate(["one two"], precision="bf16")

    gen = rk.tasks.TextGenerator.load(model_dirs["generator"])
    body = {"prompt": "the ", "length": 25, "temperature": 1.5, "seed": 4, "stream": False}
    served = bf16_clients["generator"].post("/generate", json=body).json()["text"]
    assert served == gen.generate("the ", 25, temperature=1.5, seed=4, precision="bf16")


def test_a_bad_precision_is_refused_by_name(model_dirs):
    with pytest.raises(ValueError, match=r"precision must be one of .*got 'half' \(float16"):
        load_served(model_dirs["sequential"], "half")
    with pytest.raises(ValueError, match="precision must be one of"):
        create_app(model_dirs["sequential"], precision="fp16")
    served = load_served(model_dirs["sequential"])
    with pytest.raises(ValueError, match="precision='auto' differs from the 'fp32'"):
        create_app(served, precision="auto")
    out = CliRunner().invoke(app, ["serve", str(model_dirs["sequential"]), "--precision",
                                   "fp16", "--dry-run"])
    assert out.exit_code == 2 and "must be one of fp32, bf16, auto, got 'fp16'" in out.output


@needs_bf16
def test_the_dry_run_names_the_precision_chosen(model_dirs):
    out = CliRunner().invoke(app, ["serve", str(model_dirs["classifier"]), "--precision",
                                   "bf16", "--dry-run"])
    assert out.exit_code == 0, out.output
    assert "precision" in out.output and "bf16 (precision='bf16': GEMMs" in out.output
