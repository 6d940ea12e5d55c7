"""``rnnkit bench --distributed 1,2``: training throughput on 1, 2, ... processes.

Each process count is one ``torch.distributed.run`` launch of this module's worker
(``python -m rnnkit.bench_distributed WORKLOAD STEPS OUT``): every process trains with
``fit`` (gloo, DDP) on its own share of a global batch of N x batch samples, one thread
each, so N processes use N cores.  A callback stamps each step; samples/s is measured over
the steps after the first (which builds the model, the C++ kernels and DDP's buckets).

    efficiency(N) = samples/s on N processes / (N x samples/s on 1 process)

1.0 would be perfect scaling.  On one machine the processes also share memory bandwidth
and caches, so this is a lower bound on what N separate machines give; the worker also
times one all-reduce of the model's gradients alone, the cost that grows with the link.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["WORKLOADS", "run", "table"]

# name -> (description, per-process batch, time steps)
WORKLOADS = {
    "gru-medium": ("GRU(512) + Dense(1) on 256 features, T=100 (the medium size)", 64, 100),
    "textgen-tutorial": ("Embedding(70, 256) + GRU(1024) + Dense(70), 100 tokens "
                         "(the text generator's tutorial size)", 64, 100),
}
VOCAB = 70


def _workload(name: str, batch: int, steps: int):
    """(model, x, y, fit options) for ``steps`` global batches of this rank's ``batch``."""
    import torch

    import rnnkit as rk
    from rnnkit.training.losses import SparseCategoricalCrossentropy
    world = rk.training.distributed.world()
    n = batch * world * steps
    g = torch.Generator().manual_seed(0)
    rk.set_seed(0)
    if name == "gru-medium":
        x, y = torch.randn(n, 100, 256, generator=g), torch.randn(n, 1, generator=g)
        return rk.Sequential([rk.GRU(512), rk.Dense(1)]), x, y, {}
    x = torch.randint(0, VOCAB, (n, 100), generator=g)
    y = torch.randint(0, VOCAB, (n, 100), generator=g)
    model = rk.Sequential([rk.Embedding(VOCAB, 256), rk.GRU(1024, return_sequences=True),
                           rk.Dense(VOCAB)])
    return model, x, y, {"loss": SparseCategoricalCrossentropy(from_logits=True)}


def worker(name: str, steps: int, out: str) -> None:
    """One process of a launch: train ``steps`` batches, write the timings (rank 0)."""
    import torch

    import rnnkit as rk
    torch.distributed.init_process_group("gloo")     # fit trains in it and leaves it open
    _, batch, _ = WORKLOADS[name]
    model, x, y, options = _workload(name, batch, steps)
    stamps: list[float] = []

    class Stamp(rk.Callback):
        def on_batch_end(self, trainer, b, loss, grad_norm):
            stamps.append(time.perf_counter())

    model.fit(x, y, epochs=1, batch_size=batch, shuffle=False, verbose=0, threads=1,
              callbacks=[Stamp()], distributed=None, **options)
    world = rk.training.distributed.world()
    params = sum(p.numel() for p in model.parameters())
    reduce_ms = None
    if world > 1:                  # one all-reduce of every gradient, alone
        buf = torch.zeros(params)
        torch.distributed.all_reduce(buf)
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            torch.distributed.all_reduce(buf)
            times.append(time.perf_counter() - t0)
        reduce_ms = sorted(times)[2] * 1e3
    torch.distributed.barrier()
    rank_zero = torch.distributed.get_rank() == 0
    torch.distributed.destroy_process_group()
    if rank_zero:
        per_step = (stamps[-1] - stamps[0]) / (len(stamps) - 1)
        Path(out).write_text(json.dumps({
            "workload": name, "processes": world, "batch_per_process": batch,
            "steps_timed": len(stamps) - 1, "s_per_step": per_step,
            "samples_per_s": batch * world / per_step, "parameters": params,
            "allreduce_ms": reduce_ms}))


def _launch(name: str, nproc: int, steps: int, timeout: float) -> dict:
    from .training.distributed import free_port
    with tempfile.TemporaryDirectory(prefix="rnnkit-bench-") as tmp:
        out = Path(tmp) / "result.json"
        cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={nproc}",
               "--master-addr=127.0.0.1", f"--master-port={free_port()}",
               "-m", "rnnkit.bench_distributed", name, str(steps), str(out)]
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        env.pop("WORLD_SIZE", None)
        for attempt in (1, 2):       # a gloo worker aborted once here at exit: rerun once
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env,
                                  timeout=timeout)
            if proc.returncode == 0 and out.exists():
                result = json.loads(out.read_text())
                result["attempts"] = attempt
                return result
        why = [ln for ln in proc.stderr.splitlines() if "terminate" in ln or "Error" in ln]
        raise RuntimeError(f"the {nproc}-process launch of {name} failed twice "
                           f"(exit {proc.returncode}): {'; '.join(why[:5]) or proc.stderr[-1500:]}")


def run(counts: list[int], workloads: list[str], steps: int = 6,
        timeout: float = 900) -> list[dict]:
    """One launch per (workload, process count), in that order; efficiency against the
    1-process row of the same workload (measured in this run; added when 1 is not asked)."""
    rows = []
    for name in workloads:
        base = None
        for n in sorted(set(counts) | {1}):
            r = _launch(name, n, steps, timeout)
            if n == 1:
                base = r["samples_per_s"]
            r["efficiency"] = r["samples_per_s"] / (n * base)
            if n in counts:
                rows.append(r)
    return rows


def table(rows: list[dict]) -> str:
    head = (f"{'workload':<18} {'procs':>5} {'batch/proc':>10} {'s/step':>8} "
            f"{'samples/s':>10} {'efficiency':>10} {'all-reduce':>11}")
    lines = [head, "-" * len(head)]
    for r in rows:
        ar = f"{r['allreduce_ms']:.1f} ms" if r["allreduce_ms"] is not None else "-"
        lines.append(f"{r['workload']:<18} {r['processes']:>5} {r['batch_per_process']:>10} "
                     f"{r['s_per_step']:>8.3f} {r['samples_per_s']:>10.1f} "
                     f"{r['efficiency']:>10.2f} {ar:>11}")
    reruns = [f"{r['workload']} on {r['processes']}" for r in rows if r.get("attempts", 1) > 1]
    params = {r["workload"]: r["parameters"] for r in rows}
    lines.append("parameters: " + ", ".join(f"{k} {v:,} ({v * 4 / 2**20:.1f} MiB of float32 "
                                             "gradients per step)" for k, v in params.items()))
    if reruns:
        lines.append("rerun after a failed launch: " + ", ".join(reruns))
    return "\n".join(lines)


if __name__ == "__main__":
    worker(sys.argv[1], int(sys.argv[2]), sys.argv[3])
