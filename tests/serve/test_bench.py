"""The serve benchmark, at smoke size against a running server: every phase is measured,
nothing fails, and the report prints it."""

import math

import pytest

from rnnkit.serve.bench import bench_serve, format_serve_bench


def test_a_tiny_load_reports_latencies_and_the_session_saving(live):
    result = bench_serve(url=live("sequential"), clients=2, requests=6, sessions=2, steps=4,
                         history=8)
    assert result["predict"]["requests"] == 6 and result["predict"]["errors"] == 0
    assert result["sessions"]["steps"] == 8 and result["sessions"]["errors"] == 0
    assert result["resend"]["requests"] == 8 and result["resend"]["errors"] == 0
    for phase in ("predict", "sessions", "resend"):
        p = result[phase]
        assert 0 < p["p50_ms"] <= p["p99_ms"] and math.isfinite(p["per_second"])
    step = result["per_step_ms"]
    assert step["ratio"] == pytest.approx(step["resend"] / step["session"])
    text = format_serve_bench(result)
    assert "per new timestep" in text and "0 errors" in text


def test_bad_sizes_are_refused_before_any_server_starts():
    with pytest.raises(ValueError, match="clients"):
        bench_serve(clients=0)
