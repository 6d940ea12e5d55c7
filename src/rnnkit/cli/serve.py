"""``rnnkit serve``: a saved model over HTTP, with streaming sessions and a page to try it
(``rnnkit.serve``; needs the serve extra: FastAPI and uvicorn)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Annotated

import typer

from .options import DryRun, Precision, plan

DEFAULT_THREADS = 1      # small recurrent models answer fastest on one; see --threads


def _need_extra() -> None:
    """A clear message, before anything is loaded, when FastAPI or uvicorn is missing."""
    missing = [m for m in ("fastapi", "uvicorn") if importlib.util.find_spec(m) is None]
    if missing:
        raise ValueError(f"rnnkit serve needs {' and '.join(missing)}: pip install "
                         "'rnnkit[serve]'")


def serve(
    model: Annotated[Path, typer.Argument(
        metavar="DIR", help="A saved model folder: rnnkit.save, or the model of rnnkit "
        "forecast, classify, generate or translate.")],
    host: Annotated[str, typer.Option(
        metavar="HOST", help="Address to listen on; 127.0.0.1 keeps the server on this "
        "machine (0.0.0.0 opens it to the network).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, metavar="PORT",
                                      help="TCP port.")] = 8000,
    threads: Annotated[int, typer.Option(
        min=1, metavar="N", help="Torch threads of the server process; small models "
        "answer fastest on 1.")] = DEFAULT_THREADS,
    max_sessions: Annotated[int, typer.Option(
        min=0, metavar="N", help="Streaming sessions open at once (0 turns them off).")
                            ] = 1000,
    session_ttl: Annotated[float, typer.Option(
        min=1.0, metavar="SECONDS", help="A session closes this long after its last use.")
                           ] = 600.0,
    max_body: Annotated[int, typer.Option(
        min=1, metavar="BYTES", help="Largest request body accepted (413 above).")
                        ] = 4_000_000,
    precision: Precision = "fp32",
    dry_run: DryRun = False,
) -> None:
    """Serve a saved model over HTTP.

    Endpoints: /predict, /forecast, /classify, /generate (streamed as Server-Sent Events),
    /translate, /sessions (a stream's state kept here: each new timestep costs one step),
    /healthz, /metadata and /docs; a page to try the model at /. Ctrl-C stops it.

    --precision applies to every request (bf16: the network's products in bfloat16, its
    states in fp32); /metadata says what was chosen and why.
    """
    _need_extra()
    from ..serve import Limits, create_app
    from ..serve.models import load_served
    limits = Limits(max_sessions=max_sessions, session_ttl=session_ttl, max_body=max_body)
    served = load_served(model, precision)      # a bad folder fails here, before binding
    app = create_app(served, limits=limits, threads=threads)
    choice = served.precision_choice
    endpoints = app.state.server.endpoints()
    if dry_run:
        plan("rnnkit serve", {"model": f"{served.describe()} ({model})",
                              "parameters": f"{served.parameters:,}",
                              "endpoints": ", ".join(endpoints),
                              "sessions": served.blocker or f"up to {max_sessions}, "
                              f"{session_ttl:g} s after last use",
                              "address": f"http://{host}:{port}/", "threads": threads,
                              "precision": f"{choice.kind} ({choice.reason})"})
        return
    import uvicorn
    typer.echo(f"serving {served.describe()} from {model} at http://{host}:{port}/ "
               f"({', '.join(endpoints)}), precision {choice.kind}; Ctrl-C stops")
    uvicorn.run(app, host=host, port=port, log_level="warning")
