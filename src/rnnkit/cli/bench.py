"""``rnnkit bench``: rnnkit's engines against torch.nn and a naive loop, in one run."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from .options import out_file


def bench(
    configs: str = typer.Option("tiny,small", help="tiny,small,medium"),
    cells: str = typer.Option("lstm,gru,simple,lstm-rd,lnlstm",
                              help="lstm,gru,simple,lstm-rd (LSTM with recurrent dropout), "
                                   "lnlstm (LayerNorm-LSTM)"),
    reps: int = typer.Option(5, min=1, help="interleaved repetitions per system"),
    quick: bool = typer.Option(False, "--quick", help="tiny only, 2 repetitions: a smoke run"),
    json_out: Path = typer.Option(None, "--json", help="also write the results here"),
    tutorials: bool = typer.Option(True, "--tutorials/--no-tutorials",
                                   help="also time the tutorial workloads (sunspots, sine)"),
    steps: bool = typer.Option(True, "--steps/--no-steps",
                               help="also time the compiled training step against autograd "
                                    "around the size where step='auto' switches"),
    dry_run: bool = typer.Option(False, "--dry-run", help="same as --quick"),
) -> None:
    """Print ms per training step (median [min-max]), timesteps/s, the ratio to torch.nn and
    the share of this machine's GEMM peak, for every engine; plus streaming latency."""
    from .. import bench as B
    config_list = ["tiny"] if (quick or dry_run) else [c.strip() for c in configs.split(",")
                                                       if c.strip()]
    cell_list = [c.strip() for c in cells.split(",") if c.strip()]
    for name, given, known in (("configs", config_list, B.CONFIGS), ("cells", cell_list,
                                                                     B.CELLS)):
        bad = [c for c in given if c not in known]
        if bad:
            raise ValueError(f"--{name} names unknown {name} {bad}; choose from "
                             f"{', '.join(known)}")
        if not given:
            raise ValueError(f"--{name} must name at least one of {', '.join(known)}")
    out_file(json_out, "--json")
    results, facts = B.run(config_list, cell_list, 2 if (quick or dry_run) else reps,
                           quick=quick or dry_run)
    latency = B.step_latency(200 if (quick or dry_run) else 2000)
    typer.echo(f"{facts['machine']}; GEMM {facts['gemm_gflops']:.0f} GFLOP/s; fused engine: "
               f"{facts['fused']}")
    typer.echo(B.table(results))
    typer.echo("streaming step, batch 1, LSTM(64) on 32 inputs: "
               + ", ".join(f"{k} {v:.1f} us" for k, v in latency.items()))
    from ..engines._ext import kernels
    step_rows = []
    if steps and kernels() is not None:
        sizes = B.STEP_SIZES[:1] if (quick or dry_run) else B.STEP_SIZES
        step_rows = B.compiled_step_rows(2 if (quick or dry_run) else reps, sizes)
        typer.echo("training step of fit(): compiled (one C++ call) vs autograd (rnnkit "
                   "engines + torch Adam)")
        typer.echo(B.compiled_step_table(step_rows))
    rows = B.tutorial_rows(quick=quick or dry_run) if tutorials else []
    if rows:
        typer.echo(B.tutorial_table(rows))
    if json_out is not None:
        data = B.to_json(results, facts, latency)
        data["tutorials"] = rows
        data["compiled_step"] = step_rows
        json_out.write_text(json.dumps(data, indent=2))
        typer.echo(f"wrote {json_out}")
