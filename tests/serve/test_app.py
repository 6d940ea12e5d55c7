"""The app in-process (ASGI test client): every endpoint against the library call it wraps,
sessions against whole-sequence calls, and bad input answered 4xx naming the field."""

import json

import numpy as np
import pytest
import torch

import rnnkit as rk
from rnnkit.serve import Limits, create_app
from rnnkit.serve.models import SmoothedForecaster, detect_kind, load_served

from .conftest import asgi_client_class


def _fields(response) -> list[str]:
    """The body fields a 422 names."""
    detail = response.json()["detail"]
    return [str(d["loc"][1]) for d in detail if len(d["loc"]) > 1]


def _x(seed: int, B: int = 2, T: int = 7, D: int = 3) -> torch.Tensor:
    return torch.randn(B, T, D, generator=torch.Generator().manual_seed(seed))


# ---------------------------------------------------------------------- loading
def test_each_folder_is_recognised_by_its_files(model_dirs):
    expected = {"sequential": "sequential", "bidirectional": "sequential",
                "forecaster": "forecaster", "classifier": "classifier",
                "generator": "generator", "translator": "translator"}
    for name, kind in expected.items():
        assert detect_kind(model_dirs[name]) == kind


def _seasonal(n=120):
    t = np.arange(n, dtype=np.float64)
    return 100 + t + 10 * np.sin(2 * np.pi * t / 12)


@pytest.mark.parametrize("kind", ["hybrid", "auto hybrid", "auto mean", "auto combined"])
def test_the_hybrid_and_its_mean_with_the_rnn_serve_forecasts(tmp_path, kind, monkeypatch):
    """What `rnnkit forecast`'s default may save: the ES-RNN hybrid, the mean of it and
    the RNN, or the hybrid averaged with a statistical model (combined).  The smoothing and
    the statistical model run outside the network, so /forecast is all it serves."""
    from rnnkit.datasets.series import Series
    from rnnkit.tasks import AutoForecaster, ForecastConfig, HybridForecaster
    from rnnkit.tasks.forecast_auto import CombinedForecaster
    from rnnkit.tasks.hybrid import HybridConfig, HybridPreset
    from rnnkit.types import Choice
    y = _seasonal()
    if kind == "hybrid":
        model = HybridForecaster(window=12, season=12, units=4)
        model.fit(y, epochs=1, verbose=0)
        model.save(tmp_path / "m")
        want = lambda steps, series=None: model.predict(steps, series)[:, 0]   # noqa: E731
    else:
        auto = AutoForecaster(ForecastConfig(cell="gru", units=4, window=12, season=12),
                              HybridPreset(HybridConfig(units=4, window=12, season=12),
                                           epochs=1))
        named = Series("s", np.arange(len(y)), y, ("passengers",))   # a named column
        auto.fit(named, epochs=1, verbose=0)
        pick = kind.split()[1]
        chosen = auto.candidates[pick] if pick != "combined" else CombinedForecaster(
            auto.candidates["hybrid"], "hybrid", "AutoETS", 12, y, "passengers", (90,))
        auto.chosen, auto.choice = chosen, Choice(pick, "set by the test")
        auto.save(tmp_path / "m")
        want = lambda steps, series=None: auto.predict(steps, series)[:, 0]   # noqa: E731
    assert detect_kind(tmp_path / "m") == "forecaster"
    client = asgi_client_class()(create_app(tmp_path / "m"))
    meta = client.get("/metadata").json()
    assert meta["endpoints"] == ["/healthz", "/metadata", "/forecast"]
    if kind == "auto combined":
        assert "AutoETS" in meta["model"] and meta["config"]["stats_model"] == "AutoETS"
    assert meta["sessions"]["available"] is False and "outside" in meta["sessions"]["reason"]
    out = client.post("/forecast", json={"steps": 5}).json()
    np.testing.assert_allclose(out["forecast"][out["targets"][0]], want(5), atol=1e-9)
    longer = _seasonal(130)                                 # the same series, newer rows
    out = client.post("/forecast", json={"steps": 3, "history": longer.tolist()}).json()
    np.testing.assert_allclose(out["forecast"][out["targets"][0]], want(3, longer), atol=1e-9)
    r = client.post("/forecast", json={"history": longer[5:].tolist()})
    assert r.status_code == 422 and "must begin with the fitted series" in r.text
    r = client.post("/predict", json={"x": [[[1.0]] * 12]})
    assert r.status_code == 409 and "/forecast" in r.json()["detail"]
    # quantiles: the chosen model's own bands, from its errors (tasks/intervals.py)
    r = client.post("/forecast", json={"steps": 1, "quantiles": [0.9, 0.1, 0.5]})
    if kind == "auto combined":               # built by the test without its errors
        assert r.status_code == 422 and _fields(r) == ["quantiles"]
        assert "no prediction intervals" in r.text
    else:
        own = (model if kind == "hybrid" else auto).predict(1, quantiles=[0.1, 0.5, 0.9])
        bands = r.json()["quantiles"][r.json()["targets"][0]]
        assert list(bands) == ["0.1", "0.5", "0.9"]            # increasing, as levels are
        np.testing.assert_allclose([bands[k][0] for k in bands], own[0, 0], atol=1e-9)
        r = client.post("/forecast", json={"steps": 2, "quantiles": [0.1, 0.9]})
        assert r.status_code == 422 and "quantiles reach horizon=1" in r.text
        # the point forecast is made once (a combined fits its statistical model once)
        calls = []
        point = SmoothedForecaster._point
        monkeypatch.setattr(SmoothedForecaster, "_point",
                            lambda self, *a: calls.append(a) or point(self, *a))
        assert client.post("/forecast", json={"quantiles": [0.1, 0.9]}).status_code == 200
        assert len(calls) == 1
    r = client.post("/forecast", json={"quantiles": [0.1, 1.5]})
    assert r.status_code == 422 and _fields(r) == ["quantiles"]
    r = client.post("/forecast", json={"quantiles": [0.1, 0.9], "history": [1.0, 2.0]})
    assert r.status_code == 422 and _fields(r) == ["history"]      # named as without them
    if kind == "hybrid":                      # its network runs in float64: no bf16 products
        with pytest.raises(ValueError, match="bf16 mixed precision needs float32"):
            load_served(tmp_path / "m", "bf16")


def test_a_folder_without_a_model_is_refused_by_name(tmp_path):
    with pytest.raises(ValueError, match="no saved rnnkit model"):
        load_served(tmp_path)
    with pytest.raises(ValueError, match="no such folder"):
        load_served(tmp_path / "missing")


def test_metadata_tells_kind_config_parameters_engines_and_metrics(clients, model_dirs):
    meta = clients["sequential"].get("/metadata").json()
    model = rk.load(model_dirs["sequential"])
    assert meta["kind"] == "sequential"
    assert meta["parameters"] == sum(p.numel() for p in model.parameters())
    assert [e["type"] for e in meta["engines"]] == ["LSTM", "GRU"]
    assert all(e["ran"] in ("torch", "rnnkit", "loop") for e in meta["engines"])
    assert meta["reads"] == {"type": "floats", "shape": "(B, T, D)", "features": 3}
    assert meta["config"]["model"] == "Sequential"
    assert "/sessions" in meta["endpoints"] and meta["sessions"]["available"]
    fmeta = clients["forecaster"].get("/metadata").json()
    assert fmeta["task"]["window"] == 10 and fmeta["task"]["horizon"] == 3
    assert fmeta["config"]["cell"] == "gru"
    saved = rk.tasks.Forecaster.load(model_dirs["forecaster"]).history
    assert fmeta["training"]["final"]["loss"] == pytest.approx(saved["loss"][-1])
    assert clients["translator"].get("/healthz").json() == {"status": "ok",
                                                            "kind": "translator"}


def test_the_page_and_the_openapi_docs_are_served(clients):
    client = clients["forecaster"]
    page = client.get("/")
    assert page.status_code == 200 and "<canvas" in page.text
    assert "http" not in page.text.replace("http-equiv", "")     # no CDN, nothing remote
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert {"/predict", "/forecast", "/generate", "/sessions/{session_id}/steps"} <= \
        set(spec["paths"])


# ---------------------------------------------------------------------- predict
def test_predict_equals_the_loaded_network(clients, model_dirs):
    x = _x(1)
    out = clients["sequential"].post("/predict", json={"x": x.tolist()}).json()
    model = rk.load(model_dirs["sequential"]).eval()
    with torch.no_grad():
        want = model(x)
    assert out["shape"] == [2, 2]
    np.testing.assert_allclose(out["y"], want.numpy(), atol=1e-6)


def test_predict_with_lengths_ignores_the_padding(clients):
    x = _x(2)
    padded = x.clone()
    padded[1, 4:] = 0.0
    client = clients["sequential"]
    both = client.post("/predict", json={"x": padded.tolist(), "lengths": [7, 4]}).json()
    alone = client.post("/predict", json={"x": x[1:, :4].tolist()}).json()
    np.testing.assert_allclose(both["y"][1], alone["y"][0], atol=1e-5)


def test_predict_reads_token_ids_for_a_network_with_an_embedding(clients):
    out = clients["generator"].post("/predict", json={"x": [[3, 4, 5]]})
    assert out.status_code == 200 and out.json()["shape"][:2] == [1, 3]
    floats = clients["generator"].post("/predict", json={"x": [[[0.5], [0.1]]]})
    assert floats.status_code == 422 and _fields(floats) == ["x"]
    assert "token ids" in floats.text


# ---------------------------------------------------------------------- sessions
def _open(client) -> str:
    r = client.post("/sessions")
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_n_posts_of_one_step_equal_one_whole_sequence_call(clients):
    client = clients["sequential"]
    x = _x(3, B=1, T=9)
    sid = _open(client)
    try:
        outputs = []
        for t in range(9):
            r = client.post(f"/sessions/{sid}/steps", json={"steps": x[0, t:t + 1].tolist()})
            assert r.status_code == 200, r.text
            outputs.append(r.json()["y"][0])
            assert r.json()["steps"] == t + 1
        for t in (0, 4, 8):                                  # every prefix, the whole last
            whole = client.post("/predict", json={"x": x[:, :t + 1].tolist()}).json()["y"]
            np.testing.assert_allclose(outputs[t], whole[0], atol=1e-5)
    finally:
        client.delete(f"/sessions/{sid}")


def test_chunks_of_steps_carry_the_state_like_single_steps(clients):
    client = clients["sequential"]
    x = _x(4, B=1, T=10)
    sid = _open(client)
    try:
        ys = []
        for a, b in ((0, 3), (3, 7), (7, 10)):
            ys += client.post(f"/sessions/{sid}/steps",
                              json={"steps": x[0, a:b].tolist()}).json()["y"]
        whole = client.post("/predict", json={"x": x.tolist()}).json()["y"]
        assert len(ys) == 10
        np.testing.assert_allclose(ys[-1], whole[0], atol=1e-5)
    finally:
        client.delete(f"/sessions/{sid}")


def test_sessions_are_isolated_from_each_other(clients):
    client = clients["sequential"]
    xa, xb = _x(5, B=1, T=5), _x(6, B=1, T=5)
    a, b = _open(client), _open(client)
    try:
        assert a != b and len(a) >= 32
        for t in range(5):                                   # interleaved
            ya = client.post(f"/sessions/{a}/steps", json={"steps": xa[0, t:t + 1].tolist()})
            yb = client.post(f"/sessions/{b}/steps", json={"steps": xb[0, t:t + 1].tolist()})
        for x, y in ((xa, ya), (xb, yb)):
            whole = client.post("/predict", json={"x": x.tolist()}).json()["y"]
            np.testing.assert_allclose(y.json()["y"][0], whole[0], atol=1e-5)
    finally:
        client.delete(f"/sessions/{a}")
        client.delete(f"/sessions/{b}")


def test_a_bad_step_leaves_the_session_state_as_it_was(clients):
    client = clients["sequential"]
    x = _x(7, B=1, T=3)
    sid = _open(client)
    try:
        client.post(f"/sessions/{sid}/steps", json={"steps": x[0, :2].tolist()})
        bad = client.post(f"/sessions/{sid}/steps", json={"steps": [[1.0, 2.0]]})
        assert bad.status_code == 422 and _fields(bad) == ["steps"]
        last = client.post(f"/sessions/{sid}/steps", json={"steps": x[0, 2:].tolist()}).json()
        assert last["steps"] == 3
        whole = client.post("/predict", json={"x": x.tolist()}).json()["y"]
        np.testing.assert_allclose(last["y"][0], whole[0], atol=1e-5)
    finally:
        client.delete(f"/sessions/{sid}")


def test_unknown_and_closed_sessions_are_404(clients):
    client = clients["sequential"]
    assert client.post("/sessions/nope/steps", json={"steps": [[0.0, 0.0, 0.0]]}
                       ).status_code == 404
    sid = _open(client)
    assert client.delete(f"/sessions/{sid}").status_code == 204
    assert client.post(f"/sessions/{sid}/steps", json={"steps": [[0.0, 0.0, 0.0]]}
                       ).status_code == 404
    assert client.delete(f"/sessions/{sid}").status_code == 404


def test_the_session_cap_answers_429_until_one_closes(model_dirs):
    with asgi_client_class()(create_app(model_dirs["sequential"],
                                        limits=Limits(max_sessions=2))) as client:
        first, _ = _open(client), _open(client)
        full = client.post("/sessions")
        assert full.status_code == 429 and "limit" in full.json()["detail"]
        client.delete(f"/sessions/{first}")
        assert client.post("/sessions").status_code == 201


def test_sessions_of_a_network_that_cannot_step_are_409(clients):
    r = clients["bidirectional"].post("/sessions")
    assert r.status_code == 409 and "Bidirectional" in r.json()["detail"]
    assert clients["translator"].post("/sessions").status_code == 409


def test_generator_sessions_step_token_ids(clients):
    client = clients["generator"]
    sid = _open(client)
    try:
        ys = client.post(f"/sessions/{sid}/steps", json={"steps": [3, 4, 5]}).json()["y"]
        whole = client.post("/predict", json={"x": [[3, 4, 5]]}).json()["y"]
        np.testing.assert_allclose(ys, whole[0], atol=1e-5)
    finally:
        client.delete(f"/sessions/{sid}")


# ---------------------------------------------------------------------- tasks
def test_forecast_equals_the_forecaster(clients, model_dirs):
    f = rk.tasks.Forecaster.load(model_dirs["forecaster"])
    client = clients["forecaster"]
    default = client.post("/forecast").json()
    name = default["targets"][0]
    assert default["targets"] == [f.columns[0]]
    np.testing.assert_allclose(default["forecast"][name], f.predict()[:, 0], atol=1e-9)
    assert default["steps"] == 3 and len(default["history"][name]) == 10
    history = np.sin(np.arange(30) / 3.0).tolist()
    out = client.post("/forecast", json={"steps": 7, "history": history}).json()
    np.testing.assert_allclose(out["forecast"][name], f.predict(7, history)[:, 0], atol=1e-9)
    assert out["history"][name] == pytest.approx(history)


def test_forecast_quantiles_of_a_quantile_forecaster_and_of_a_point_one(clients, tmp_path):
    f = rk.tasks.Forecaster(cell="gru", units=4, window=8, horizon=2,
                            quantiles=[0.1, 0.5, 0.9])
    f.fit(rk.datasets.load("sine", length=120), epochs=1, verbose=0)
    f.save(tmp_path / "q")
    client = asgi_client_class()(create_app(tmp_path / "q"))
    out = client.post("/forecast", json={"quantiles": [0.9, 0.1]}).json()
    bands = out["quantiles"][out["targets"][0]]
    assert list(bands) == ["0.1", "0.9"] and len(bands["0.1"]) == 2
    np.testing.assert_allclose(np.array([bands["0.1"], bands["0.9"]]).T,
                               f.predict(quantiles=[0.1, 0.9])[:, 0], atol=1e-9)
    assert all(lo <= hi for lo, hi in zip(bands["0.1"], bands["0.9"]))
    for body, text in (({"quantiles": [0.25]}, "were not trained"),
                       ({"steps": 3, "quantiles": [0.1]}, "quantiles reach horizon=2")):
        r = client.post("/forecast", json=body)
        assert r.status_code == 422 and _fields(r) == ["quantiles"] and text in r.text
    r = clients["forecaster"].post("/forecast", json={"quantiles": [0.1, 0.9]})
    assert r.status_code == 422 and "trained for point forecasts" in r.text
    # /metadata names the band each can give (what the page shades)
    band = client.get("/metadata").json()["task"]["interval"]
    assert band == {"levels": [0.1, 0.9], "coverage": 80,
                    "how": "calibrated on the validation part (split conformal)"}
    assert clients["forecaster"].get("/metadata").json()["task"]["interval"] is None
    band = clients["hybrid"].get("/metadata").json()["task"]["interval"]
    assert band["levels"] == [0.1, 0.9] and band["how"].startswith("from the relative")


def test_forecast_with_too_little_history_names_the_field(clients):
    r = clients["forecaster"].post("/forecast", json={"history": [1.0, 2.0]})
    assert r.status_code == 422 and _fields(r) == ["history"]
    assert "at least 10 rows" in r.text


def test_classify_equals_the_classifier(clients, model_dirs):
    clf = rk.tasks.SequenceClassifier.load(model_dirs["classifier"])
    out = clients["classifier"].post("/classify", json={"texts": ["aab", "bba"]}).json()
    assert out["classes"] == ["left", "right"]
    want = clf.predict_proba(["aab", "bba"])
    for result, p in zip(out["results"], want):
        assert list(result["probabilities"].values()) == pytest.approx(p.tolist())
        assert result["label"] == out["classes"][int(p.argmax())]


def _events(text: str) -> list[tuple[str, dict]]:
    out = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        out.append((lines["event"], json.loads(lines["data"])))
    return out


def test_generate_streams_each_token_then_the_whole_text(clients, model_dirs):
    gen = rk.tasks.TextGenerator.load(model_dirs["generator"])
    body = {"prompt": "the ", "length": 25, "temperature": 0.8, "top_k": 5, "seed": 3}
    with clients["generator"].stream("POST", "/generate", json=body) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = _events(r.read().decode())
    tokens = [d["token"] for e, d in events if e == "token"]
    assert len(tokens) == 25 and events[-1][0] == "done"
    want = gen.generate("the ", 25, temperature=0.8, top_k=5, seed=3)
    assert events[-1][1]["text"] == "the " + "".join(tokens) == want
    plain = clients["generator"].post("/generate", json={**body, "stream": False}).json()
    assert plain["text"] == want


def test_generate_refuses_a_prompt_the_model_cannot_read(clients):
    r = clients["generator"].post("/generate", json={"prompt": "ZZZ€", "length": 5})
    assert r.status_code == 422 and _fields(r) == ["prompt"]
    long = clients["generator"].post("/generate", json={"prompt": "the", "length": 41})
    assert long.status_code == 422 and _fields(long) == ["length"]


def test_translate_equals_the_translator(clients, model_dirs):
    tr = rk.tasks.Translator.load(model_dirs["translator"])
    out = clients["translator"].post("/translate", json={"texts": ["one two"], "beam": 2})
    assert out.status_code == 200
    assert out.json()["translations"] == tr.translate(["one two"], beam=2)
    unknown = clients["translator"].post("/translate", json={"texts": ["seven"]})
    assert unknown.status_code == 422 and _fields(unknown) == ["texts"]


# ---------------------------------------------------------------------- wrong kind, bad input
@pytest.mark.parametrize("kind, path, body", [
    ("generator", "/forecast", {}),
    ("sequential", "/classify", {"texts": ["ab"]}),
    ("sequential", "/generate", {"prompt": "a"}),
    ("forecaster", "/translate", {"texts": ["one"]}),
    ("translator", "/predict", {"x": [[1, 2]]}),
])
def test_an_endpoint_of_another_kind_is_409_with_a_message(clients, kind, path, body):
    r = clients[kind].post(path, json=body)
    assert r.status_code == 409, r.text
    assert "this server holds" in r.json()["detail"] or "texts" in r.json()["detail"]


@pytest.mark.parametrize("body, field", [
    ({"x": [[[1.0, 2.0]]]}, "x"),                                  # D = 2, not 3
    ({"x": [[[1.0, 2.0, 3.0]], [[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]]}, "x"),   # ragged
    ({"x": [[[0.0, 0.0, 0.0]]] * 9}, "x"),                         # batch over 8
    ({"x": [[[0.0, 0.0, 0.0]] * 65]}, "x"),                        # T over 64
    ({"x": []}, "x"),
    ({"x": [[[1e300, 0.0, 0.0]]]}, "x"),                           # overflows float32
    ({"x": [[[0.0, 0.0, 0.0]]], "lengths": [2]}, "lengths"),
    ({"x": [[[0.0, 0.0, 0.0]]], "extra": 1}, "extra"),
    ({"x": "text"}, "x"),
])
def test_bad_predict_input_is_422_naming_the_field(clients, body, field):
    r = clients["sequential"].post("/predict", json=body)
    assert r.status_code == 422, r.text
    assert field in _fields(r)


def test_nan_and_infinity_are_422(clients):
    for literal in ("NaN", "Infinity"):
        r = clients["sequential"].post("/predict", content=f'{{"x": [[[{literal}, 0, 0]]]}}',
                                       headers={"content-type": "application/json"})
        assert r.status_code == 422 and set(_fields(r)) == {"x"}, r.text


def test_a_body_over_the_limit_is_413_and_bad_json_is_4xx(clients):
    big = json.dumps({"x": [[[0.0, 0.0, 0.0]] * 20000]})
    assert clients["sequential"].post("/predict", content=big,
                                      headers={"content-type": "application/json"}
                                      ).status_code == 413
    r = clients["sequential"].post("/predict", content="{not json",
                                   headers={"content-type": "application/json"})
    assert 400 <= r.status_code < 500


def test_a_chunked_body_over_the_limit_is_413(clients):
    def chunks():
        yield b'{"x": [[[0.0, 0.0, 0.0]'
        for _ in range(30000):
            yield b', [0.0, 0.0, 0.0]'
        yield b"]]}"
    r = clients["sequential"].post("/predict", content=chunks(),
                                   headers={"content-type": "application/json"})
    assert r.status_code == 413 and "limit" in r.json()["detail"], r.text


def test_a_prompt_longer_than_any_trained_stream_is_422_before_streaming(clients):
    r = clients["generator"].post("/generate", json={"prompt": "the " * 40, "length": 3})
    assert r.status_code == 422 and _fields(r) == ["prompt"]
    assert "longer than any stream" in r.text
