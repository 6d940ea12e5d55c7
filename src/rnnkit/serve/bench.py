"""A bounded load on loopback against ``rnnkit serve``: latency percentiles, throughput,
errors, and what a streaming session saves over re-sending the whole history.

    from rnnkit.serve.bench import bench_serve, format_serve_bench
    result = bench_serve(clients=32, requests=2000, sessions=200, steps=50)
    print(format_serve_bench(result))

Three phases, each spread over ``clients`` threads with one keep-alive HTTP client each:

    predict   ``requests`` POST /predict of one (1, history, D) sequence
    sessions  ``sessions`` streams of ``steps`` timesteps, one POST per step
    resend    the same streams without a session: at step k the client re-sends steps
              1..k to /predict, as a stateless server forces it to

The server runs in its own process (``rnnkit serve``), so the clients' threads do not share
its interpreter; or give ``url`` to measure a server that is already running.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ..training.distributed import free_port  # one helper for every loopback launch

__all__ = ["bench_serve", "format_serve_bench", "serving", "free_port"]

START_SECONDS = 90         # importing torch on a busy machine


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM the server's process group, SIGKILL it if it lingers."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    except (subprocess.TimeoutExpired, ProcessLookupError):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=10)


@contextmanager
def serving(folder: str | Path, *options: str, start_seconds: float = START_SECONDS
            ) -> Iterator[str]:
    """Run ``rnnkit serve folder`` on 127.0.0.1 and a free port in its own process group;
    yield its base URL once /healthz answers; always stop it."""
    import httpx
    port = free_port()
    log = tempfile.TemporaryFile()          # a file, not a pipe: a full pipe would block it
    process = subprocess.Popen(
        [sys.executable, "-m", "rnnkit.cli.main", "serve", str(folder), "--port", str(port),
         *options], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_seconds
        while True:
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"rnnkit serve exited with {process.returncode}: "
                                   f"{log.read().decode(errors='replace')}")
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"rnnkit serve did not answer within {start_seconds:g} s")
            time.sleep(0.2)
        yield url
    finally:
        _stop(process)
        log.close()


def _default_model(folder: Path, features: int = 4, units: int = 32) -> Path:
    """A small LSTM regressor, as a sensor stream would use: LSTM(32) -> Dense(1)."""
    import torch

    from ..layers import LSTM, Dense
    from ..model import Sequential
    torch.manual_seed(0)
    model = Sequential([LSTM(units, input_size=features), Dense(1, input_size=units)])
    model(torch.zeros(1, 8, features))
    model.save(folder)
    return folder


def _stats(latencies: list[float], errors: int, seconds: float, what: str) -> dict:
    ms = np.asarray(latencies) * 1000
    return {what: len(latencies) + errors, "errors": errors, "seconds": seconds,
            "per_second": len(latencies) / seconds if seconds > 0 else math.nan,
            "p50_ms": float(np.percentile(ms, 50)) if len(ms) else math.nan,
            "p99_ms": float(np.percentile(ms, 99)) if len(ms) else math.nan,
            "mean_ms": float(ms.mean()) if len(ms) else math.nan}


def _spread(jobs: int, clients: int, url: str, work: Callable[[Any, int], list[float]]
            ) -> tuple[list[float], int, float]:
    """Run ``work(client, job)`` for every job over ``clients`` threads, each with its own
    keep-alive client; (latencies, errors, wall seconds)."""
    import httpx

    def run(worker: int) -> tuple[list[float], int]:
        times, errors = [], 0
        with httpx.Client(base_url=url, timeout=30) as client:
            for job in range(worker, jobs, clients):
                try:
                    times += work(client, job)
                except (httpx.HTTPError, _Failed):
                    errors += 1
        return times, errors

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        parts = list(pool.map(run, range(clients)))
    wall = time.perf_counter() - t0
    return [t for p, _ in parts for t in p], sum(e for _, e in parts), wall


class _Failed(Exception):
    """A response other than the one expected."""


def _timed(client: Any, method: str, path: str, expect: int, **kw: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    r = client.request(method, path, **kw)
    dt = time.perf_counter() - t0
    if r.status_code != expect:
        raise _Failed(f"{method} {path}: {r.status_code} {r.text[:200]}")
    return dt, r


def bench_serve(model: str | Path | None = None, *, url: str | None = None, clients: int = 32,
                requests: int = 2000, sessions: int = 200, steps: int = 50,
                history: int = 50, threads: int = 1, seed: int = 0) -> dict[str, Any]:
    """Load a server on loopback and measure it (see the module docstring).

    Args:
        model: a saved model folder to serve (None: a small LSTM(32) regressor on 4
            features, made in a temporary folder); ignored when ``url`` is given.
        url: a running server to measure instead of starting one.
        clients: concurrent client threads.
        requests: /predict calls in the first phase, each of ``history`` timesteps.
        sessions: streams in the session and resend phases, ``steps`` timesteps each.
        threads: ``--threads`` of the server started here.

    Returns: {"config", "predict", "sessions", "resend", "per_step_ms": {"session",
    "resend", "ratio"}}; each phase has its count, errors, seconds, per_second, p50_ms,
    p99_ms and mean_ms.
    """
    for name, value in (("clients", clients), ("requests", requests), ("sessions", sessions),
                        ("steps", steps), ("history", history), ("threads", threads)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if url is None:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(model) if model is not None else _default_model(Path(tmp) / "m")
            with serving(folder, "--threads", str(threads),
                         "--max-sessions", str(max(sessions, 1))) as started:
                return bench_serve(url=started, clients=clients, requests=requests,
                                   sessions=sessions, steps=steps, history=history,
                                   threads=threads, seed=seed)
    import httpx
    meta = httpx.get(f"{url}/metadata", timeout=30).json()
    reads = meta["reads"]
    rng = np.random.default_rng(seed)
    if reads["type"] == "floats":
        def sequence(T: int) -> list:
            return rng.normal(size=(T, reads["features"])).round(4).tolist()
    elif reads["type"] == "token ids":
        top = (meta.get("task") or {}).get("vocabulary", 2)
        def sequence(T: int) -> list:
            return rng.integers(1, max(top, 2), size=T).tolist()
    else:
        raise ValueError(f"{meta['model']} takes texts; the serve benchmark needs a network "
                         "that reads tensors (/predict and /sessions)")
    predict_x = [sequence(history) for _ in range(min(requests, 64))]
    streams = [sequence(steps) for _ in range(sessions)]

    def predict(client: Any, job: int) -> list[float]:
        dt, _ = _timed(client, "POST", "/predict", 200,
                       json={"x": [predict_x[job % len(predict_x)]]})
        return [dt]

    def session(client: Any, job: int) -> list[float]:
        sid = _timed(client, "POST", "/sessions", 201)[1].json()["id"]
        try:
            return [_timed(client, "POST", f"/sessions/{sid}/steps", 200,
                           json={"steps": [step]})[0] for step in streams[job]]
        finally:
            client.delete(f"/sessions/{sid}")

    def resend(client: Any, job: int) -> list[float]:
        x = streams[job]
        return [_timed(client, "POST", "/predict", 200, json={"x": [x[:k]]})[0]
                for k in range(1, len(x) + 1)]

    clients_used = min(clients, max(requests, sessions))
    out: dict[str, Any] = {"config": {"url": url, "model": meta["model"], "clients": clients,
                                      "requests": requests, "sessions": sessions,
                                      "steps": steps, "history": history,
                                      "server_threads": meta.get("torch_threads"),
                                      "parameters": meta["parameters"]}}
    out["predict"] = _stats(*_spread(requests, clients_used, url, predict), "requests")
    if "/sessions" in meta["endpoints"]:
        out["sessions"] = _stats(*_spread(sessions, min(clients, sessions), url, session),
                                 "steps")
        out["resend"] = _stats(*_spread(sessions, min(clients, sessions), url, resend),
                               "requests")
        s, r = out["sessions"]["mean_ms"], out["resend"]["mean_ms"]
        out["per_step_ms"] = {"session": s, "resend": r, "ratio": r / s if s else math.nan}
    return out


def format_serve_bench(result: dict[str, Any]) -> str:
    """The result of ``bench_serve`` as a few aligned lines."""
    c = result["config"]
    lines = [f"rnnkit serve on loopback: {c['model']} ({c['parameters']:,} parameters), "
             f"{c['clients']} clients, server threads {c['server_threads']}"]
    for phase, what in (("predict", f"/predict, {c['history']} steps each"),
                        ("sessions", f"session steps ({c['sessions']} streams x "
                                     f"{c['steps']})"),
                        ("resend", "re-sent histories (the same streams, no session)")):
        p = result.get(phase)
        if p is None:
            continue
        count = p.get("requests", p.get("steps"))
        lines.append(f"  {what:<52} {count:>6} calls  {p['errors']} errors  "
                     f"p50 {p['p50_ms']:.2f} ms  p99 {p['p99_ms']:.2f} ms  "
                     f"{p['per_second']:.0f}/s")
    step = result.get("per_step_ms")
    if step:
        lines.append(f"  per new timestep: session {step['session']:.2f} ms, re-sending the "
                     f"history {step['resend']:.2f} ms ({step['ratio']:.2f}x)")
    return "\n".join(lines)
