"""``rnnkit bench``: rnnkit's engines against torch.nn and a naive loop, in one run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from .options import DryRun, Quick, out_file, plan, result


def bench(
    configs: Annotated[str, typer.Option(
        metavar="LIST", help="Comma-separated sizes: tiny, small, medium; textgen (only when "
        "named) is the text generator's tutorial size, Embedding 256 + GRU 1024, 64 streams x "
        "100 steps, vocabulary 70.")] = "tiny,small",
    cells: Annotated[str, typer.Option(
        metavar="LIST", help="Comma-separated cells: lstm, gru, simple, lstm-rd (LSTM with "
        "recurrent dropout), lnlstm (LayerNorm-LSTM).")] = "lstm,gru,simple,lstm-rd,lnlstm",
    precision: Annotated[str, typer.Option(
        metavar="LIST", help="Comma-separated precisions: fp32, bf16. bf16 adds rows 'rnnkit "
        "engine=auto bf16' and 'torch.nn autocast bf16' beside the fp32 ones (ratios to fp32 "
        "torch.nn) and a bf16 GEMM peak measured in the same run.")] = "fp32",
    reps: Annotated[int, typer.Option(
        min=1, metavar="N", help="Interleaved repetitions per system.")] = 5,
    json_out: Annotated[Path | None, typer.Option(
        "--json", metavar="FILE", help="Also write the results here.")] = None,
    tutorials: Annotated[bool, typer.Option(
        "--tutorials/--no-tutorials", show_default=False,
        help="Also time the tutorial workloads, sunspots and sine (default: on).")] = True,
    steps: Annotated[bool, typer.Option(
        "--steps/--no-steps", show_default=False,
        help="Also time the C++ training step against autograd around the size where "
        "step='auto' switches (default: on).")] = True,
    distributed: Annotated[str | None, typer.Option(
        metavar="LIST", help="Instead, time training on these process counts (e.g. 1,2) "
        "through torch.distributed.run, one thread each: samples/s and scaling efficiency "
        "for a medium GRU and the tutorial-size text generator.")] = None,
    serve: Annotated[bool, typer.Option(
        "--serve", help="Instead, load an `rnnkit serve` process on loopback: 32 clients, "
        "2,000 /predict calls and 200 sessions streaming 50 steps each; p50/p99 latency, "
        "requests/s, errors, and a session's cost per step against re-sending the "
        "history.")] = False,
    inference: Annotated[bool, typer.Option(
        "--inference", help="Instead, time inference at each --precision (fp32, bf16, auto: "
        "a column says what auto ran), side by side: a batch-1 streaming step() of the text "
        "generator's GRU(1024) on Embedding 256 and of a medium LSTM(512), alone and inside "
        "one inference() block, and a batch-256 predict of the medium LSTM; ms per step or "
        "call and the ratio to fp32.")] = False,
    quick: Quick = False,
    dry_run: DryRun = False,
) -> None:
    """Time every engine: ms per training step (median [min-max]), timesteps/s, the ratio
    to torch.nn and the share of this machine's GEMM peak; plus streaming latency.

    --quick times the tiny size only, with 2 repetitions, in seconds: its numbers are a
    smoke test, not a measurement.
    """
    chosen = [name for name, on in (("--distributed", distributed is not None),
                                    ("--serve", serve), ("--inference", inference)) if on]
    if len(chosen) > 1:
        raise ValueError(f"{' and '.join(chosen)} are {len(chosen)} benchmarks: run one at "
                         "a time")
    if distributed is not None:
        _distributed(distributed, json_out, quick, dry_run)
        return
    if serve:
        _serve(json_out, quick, dry_run)
        return
    from .. import bench as B
    if inference:
        _inference(precision, reps, json_out, quick, dry_run)
        return
    config_list = ["tiny"] if quick else [c.strip() for c in configs.split(",") if c.strip()]
    cell_list = [c.strip() for c in cells.split(",") if c.strip()]
    precision_list = [p.strip() for p in precision.split(",") if p.strip()]
    for name, given, known in (("configs", config_list, (*B.CONFIGS, "textgen")),
                               ("cells", cell_list, B.CELLS),
                               ("precision", precision_list, B.PRECISIONS)):
        bad = [c for c in given if c not in known]
        if bad:
            raise ValueError(f"--{name} names unknown {name} {bad}; choose from "
                             f"{', '.join(known)}")
        if not given:
            raise ValueError(f"--{name} must name at least one of {', '.join(known)}")
    out_file(json_out, "--json")
    reps = 2 if quick else reps
    if dry_run:
        sizes = ", ".join(f"{c} (B, T, D, H = {', '.join(map(str, B.CONFIGS.get(c, B.TEXTGEN)))})"
                          for c in config_list)
        plan("rnnkit bench" + (" --quick" if quick else ""), {
            "sizes": sizes, "cells": ", ".join(cell_list), "repetitions": reps,
            "precisions": ", ".join(precision_list),
            "also": ", ".join(["streaming latency"]
                              + (["the C++ training step"] if steps else [])
                              + (["the tutorial workloads"] if tutorials else [])),
            "writes": json_out or "nothing (no --json)",
        })
        return
    results, facts = B.run(config_list, cell_list, reps, quick=quick,
                           precisions=tuple(precision_list))
    latency = B.step_latency(200 if quick else 2000)
    bf16_peak = (f", bf16 {facts['gemm_gflops_bf16']:.0f}" if "gemm_gflops_bf16" in facts
                 else "")
    result(f"{facts['machine']}; GEMM {facts['gemm_gflops']:.0f}{bf16_peak} GFLOP/s; rnnkit's "
           f"kernels: {facts['kernels']}", quick)
    result(B.table(results), quick)
    result("streaming step, batch 1, LSTM(64) on 32 inputs: "
           + ", ".join(f"{k} {v:.1f} us" for k, v in latency.items()), quick)
    from ..engines._ext import kernels
    step_rows = []
    if steps and kernels() is not None:
        sizes = B.STEP_SIZES[:1] if quick else B.STEP_SIZES
        step_rows = B.cpp_step_rows(reps, sizes)
        result("training step of fit(): step=cpp (one C++ call) vs autograd (rnnkit "
               "engines + torch Adam)", quick)
        result(B.cpp_step_table(step_rows), quick)
    rows = B.tutorial_rows(quick=quick) if tutorials else []
    if rows:
        result(B.tutorial_table(rows), quick)
    if json_out is not None:
        data = B.to_json(results, facts, latency)
        data["tutorials"] = rows
        data["cpp_step"] = step_rows
        data["quick"] = quick
        json_out.write_text(json.dumps(data, indent=2))
        result(f"wrote {json_out}", quick)


def _inference(precision: str, reps: int, json_out: Path | None, quick: bool,
               dry_run: bool) -> None:
    from .. import bench as B
    from ..precision import PRECISIONS  # auto too: the rows say what it ran
    precisions = [p.strip() for p in precision.split(",") if p.strip()]
    bad = [p for p in precisions if p not in PRECISIONS]
    if bad or not precisions:
        raise ValueError(f"--precision names {bad or 'nothing'}; choose from "
                         f"{', '.join(PRECISIONS)}")
    out_file(json_out, "--json")
    reps = 2 if quick else reps
    if dry_run:
        _, T, D, H = B.CONFIGS["medium"]
        _, _, E, H_gen = B.TEXTGEN
        plan("rnnkit bench --inference" + (" --quick" if quick else ""), {
            "step": f"batch 1: GRU({H_gen}) on Embedding {E}, LSTM({H}) on {D} features; "
                    "alone and inside one inference() block",
            "predict": f"LSTM({H}) + Dense(1), batch 256, T = {10 if quick else T}",
            "precisions": ", ".join(dict.fromkeys(["fp32", *precisions])),
            "repetitions": reps,
            "writes": json_out or "nothing (no --json)"})
        return
    rows = B.inference_rows(reps, tuple(precisions), quick=quick)
    result(f"{B.machine_line()}; inference, one run, interleaved", quick)
    result(B.inference_table(rows), quick)
    if json_out is not None:
        json_out.write_text(json.dumps({"inference": rows, "machine": B.machine_line(),
                                        "quick": quick}, indent=2))
        result(f"wrote {json_out}", quick)


def _distributed(counts_text: str, json_out: Path | None, quick: bool, dry_run: bool) -> None:
    from .. import bench_distributed as D
    counts = []
    for part in counts_text.split(","):
        part = part.strip()
        try:
            n = int(part)
        except ValueError:
            raise ValueError(f"--distributed takes process counts like 1,2; {part!r} is not "
                             "an int") from None
        if n < 1:
            raise ValueError(f"--distributed process counts must be at least 1, got {n}")
        counts.append(n)
    workloads = ["gru-medium"] if quick else list(D.WORKLOADS)
    steps = 3 if quick else 6
    out_file(json_out, "--json")
    if dry_run:
        plan("rnnkit bench --distributed " + counts_text, {
            "process counts": ", ".join(map(str, counts)) + ("" if 1 in counts else
                                                             " (and 1, the baseline)"),
            "workloads": "; ".join(D.WORKLOADS[w][0] for w in workloads),
            "steps": f"{steps} per launch, the first not timed",
            "writes": json_out or "nothing (no --json)"})
        return
    rows = D.run(counts, workloads, steps=steps)
    result(D.table(rows), quick)
    if json_out is not None:
        json_out.write_text(json.dumps({"distributed": rows, "quick": quick}, indent=2))
        result(f"wrote {json_out}", quick)


def _serve(json_out: Path | None, quick: bool, dry_run: bool) -> None:
    sizes = (dict(clients=4, requests=100, sessions=10, steps=20) if quick else
             dict(clients=32, requests=2000, sessions=200, steps=50))
    out_file(json_out, "--json")
    if dry_run:
        plan("rnnkit bench --serve" + (" --quick" if quick else ""), {
            "server": "rnnkit serve on 127.0.0.1 (its own process), an LSTM(32) -> Dense(1) "
                      "on 4 features, one torch thread",
            "load": ", ".join(f"{k} {v}" for k, v in sizes.items()),
            "writes": json_out or "nothing (no --json)"})
        return
    try:
        import fastapi  # noqa: F401 -- the server's, checked before any process starts
        import httpx  # noqa: F401 -- the load's clients
        import uvicorn  # noqa: F401

        from ..serve.bench import bench_serve, format_serve_bench
    except ImportError as err:
        raise ValueError(f"--serve needs the serve extra and httpx ({err.name} is missing): "
                         "pip install 'rnnkit[serve]' httpx") from None
    r = bench_serve(**sizes)
    result(format_serve_bench(r), quick)
    if json_out is not None:
        json_out.write_text(json.dumps({"serve": r, "quick": quick}, indent=2))
        result(f"wrote {json_out}", quick)
