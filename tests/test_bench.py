import json

import pytest
import torch
from typer.testing import CliRunner

import rnnkit as rk
from rnnkit.cli.main import app


def test_bench_quick_prints_every_system_and_writes_json(tmp_path):
    result = CliRunner().invoke(app, ["bench", "--quick", "--cells", "gru,lstm-rd",
                                      "--json", str(tmp_path / "b.json")])
    assert result.exit_code == 0, result.output
    for system in ("torch.nn", "naive loop", "rnnkit engine=auto", "rnnkit engine=torch",
                   "rnnkit engine=rnnkit", "rnnkit engine=loop"):
        assert system in result.output
    data = json.loads((tmp_path / "b.json").read_text())
    assert {r["system"] for r in data["results"]} >= {"torch.nn", "rnnkit engine=rnnkit"}
    rd = {r["system"] for r in data["results"] if r["cell"] == "lstm-rd"}
    assert "rnnkit engine=torch" not in rd and "naive loop" in rd   # torch has no such option
    assert data["facts"]["gemm_gflops"] > 0 and data["step_latency_us"]
    tutorials = {(r["workload"].split(",")[0], r["system"]) for r in data["tutorials"]}
    assert ("sunspots", "plain PyTorch loop (nn.RNN)") in tutorials
    assert all(r["fit_s"] > 0 for r in data["tutorials"])
    assert "sunspots, Keras recipe" in result.output
    assert ("sunspots", "rnnkit (auto: C++ training step)") in tutorials
    assert "rnnkit step=cpp" in {r["system"] for r in data["results"] if r["cell"] == "gru"}
    assert "rnnkit step=cpp" not in rd                    # recurrent dropout: not eligible
    (row,) = data["cpp_step"]
    assert row["autograd_ms"] > 0 and row["cpp_ms"] > 0 and row["auto_picks"] == "cpp"
    assert "training step of fit()" in result.output
    bad = CliRunner().invoke(app, ["bench", "--cells", "transformer"])
    assert bad.exit_code != 0 and "unknown cells" in bad.output


def test_streaming_step_equals_the_layer():
    for layer in (rk.LSTM(5, input_size=3), rk.GRU(5, input_size=3), rk.SimpleRNN(5, input_size=3),
                  rk.GRU(5, input_size=3, reset_after=False)):
        x = torch.randn(2, 6, 3)
        full = layer.__class__.from_config({**layer.get_config(), "return_sequences": True})
        full.load_state_dict(layer.state_dict())
        expected = full(x)
        state = None
        for t in range(6):
            y, state = layer.step(x[:, t], state)
            torch.testing.assert_close(y, expected[:, t], atol=1e-6, rtol=0)


def test_bench_distributed_refuses_bad_process_counts():
    for counts, message in (("0", "must be at least 1, got 0"), ("1,two", "'two' is not an int")):
        bad = CliRunner().invoke(app, ["bench", "--distributed", counts])
        assert bad.exit_code == 2 and message in bad.output, bad.output


def test_bench_distributed_dry_run_names_the_workloads():
    out = CliRunner().invoke(app, ["bench", "--distributed", "2", "--dry-run"])
    assert out.exit_code == 0, out.output
    assert "GRU(1024)" in out.output and "(and 1, the baseline)" in out.output


@pytest.mark.distributed
def test_bench_distributed_quick_measures_one_and_two_processes(tmp_path):
    result = CliRunner().invoke(app, ["bench", "--distributed", "1,2", "--quick",
                                      "--json", str(tmp_path / "d.json")])
    assert result.exit_code == 0, result.output
    rows = json.loads((tmp_path / "d.json").read_text())["distributed"]
    assert [(r["workload"], r["processes"]) for r in rows] == [("gru-medium", 1),
                                                              ("gru-medium", 2)]
    assert rows[0]["efficiency"] == 1.0 and rows[1]["samples_per_s"] > 0
    assert rows[1]["allreduce_ms"] > 0 and "quick: gru-medium" in result.output


def test_bench_serve_quick_measures_a_live_server(tmp_path):
    result = CliRunner().invoke(app, ["bench", "--serve", "--quick",
                                      "--json", str(tmp_path / "s.json")])
    assert result.exit_code == 0, result.output
    r = json.loads((tmp_path / "s.json").read_text())["serve"]
    assert r["predict"]["errors"] == 0 and r["sessions"]["errors"] == 0
    assert r["per_step_ms"]["session"] > 0 and "quick: " in result.output
    both = CliRunner().invoke(app, ["bench", "--serve", "--distributed", "1"])
    assert both.exit_code == 2 and "one at a time" in both.output


def test_bench_inference_prints_fp32_and_bf16_rows_side_by_side(tmp_path):
    from rnnkit.precision import bf16_blocker
    if bf16_blocker(torch.device("cpu"), torch.float32) is not None:
        pytest.skip("this CPU has no bfloat16")
    result = CliRunner().invoke(app, ["bench", "--inference", "--quick", "--precision",
                                      "fp32,bf16", "--json", str(tmp_path / "i.json")])
    assert result.exit_code == 0, result.output
    rows = json.loads((tmp_path / "i.json").read_text())["inference"]
    workloads = list(dict.fromkeys(r["workload"] for r in rows))
    assert [w.split(" ")[0] for w in workloads] == ["step", "step", "stream", "stream",
                                                    "predict"]
    assert "GRU(1024) on Embedding 256" in workloads[0] and "B=256" in workloads[-1]
    for w in workloads:
        mine = {r["precision"]: r for r in rows if r["workload"] == w}
        assert mine["fp32"]["ran"] == "fp32" and mine["bf16"]["ran"] == "bf16"
        assert mine["fp32"]["vs_fp32"] == 1.0 and mine["bf16"]["ms"] > 0
        for p in ("fp32", "bf16"):                            # both rows printed, ratio too
            line = next(ln for ln in result.output.splitlines() if w in ln and f" {p} " in ln)
            assert line.startswith("quick: ") and line.rstrip().endswith("x")
    both = CliRunner().invoke(app, ["bench", "--inference", "--serve"])
    assert both.exit_code == 2 and "one at a time" in both.output
    bad = CliRunner().invoke(app, ["bench", "--inference", "--precision", "fp16"])
    assert bad.exit_code == 2 and "--precision names ['fp16']" in bad.output
