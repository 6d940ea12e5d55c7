"""``rnnkit serve`` as a real uvicorn process on 127.0.0.1, started and stopped here:
requests over TCP, concurrent clients, sessions, and generation streamed as SSE."""

import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest


@pytest.fixture
def sequential_url(live):
    return live("sequential")


def test_concurrent_clients_get_the_same_answers(sequential_url):
    x = np.random.default_rng(0).normal(size=(2, 6, 3)).tolist()
    with httpx.Client(base_url=sequential_url, timeout=30) as client:
        want = client.post("/predict", json={"x": x}).json()["y"]

    def one(_):
        with httpx.Client(base_url=sequential_url, timeout=30) as client:
            return [client.post("/predict", json={"x": x}) for _ in range(5)]

    with ThreadPoolExecutor(8) as pool:
        responses = [r for batch in pool.map(one, range(8)) for r in batch]
    assert all(r.status_code == 200 for r in responses)
    for r in responses:
        np.testing.assert_allclose(r.json()["y"], want, atol=1e-6)


def test_sessions_over_tcp_match_the_whole_sequence(sequential_url):
    x = np.random.default_rng(1).normal(size=(1, 5, 3))
    with httpx.Client(base_url=sequential_url, timeout=30) as client:
        sid = client.post("/sessions").json()["id"]
        ys = [client.post(f"/sessions/{sid}/steps", json={"steps": x[0, t:t + 1].tolist()}
                          ).json()["y"][0] for t in range(5)]
        whole = client.post("/predict", json={"x": x.tolist()}).json()["y"][0]
        assert client.delete(f"/sessions/{sid}").status_code == 204
        meta = client.get("/metadata").json()
    np.testing.assert_allclose(ys[-1], whole, atol=1e-5)
    assert meta["torch_threads"] == 1 and meta["sessions"]["open"] == 0


def test_generation_streams_server_sent_events(live):
    with httpx.Client(base_url=live("generator"), timeout=30) as c:
        body = {"prompt": "the", "length": 30, "temperature": 0.5, "seed": 1}
        with c.stream("POST", "/generate", json=body) as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            lines = list(r.iter_lines())
        plain = c.post("/generate", json={**body, "stream": False}).json()["text"]
    events = [line for line in lines if line.startswith("event:")]
    data = [json.loads(line[6:]) for line in lines if line.startswith("data:")]
    assert events.count("event: token") == 30 and events[-1] == "event: done"
    assert data[-1]["text"] == "the" + "".join(d["token"] for d in data[:-1]) == plain
