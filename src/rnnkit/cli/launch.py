"""``--nproc N`` on any training command: launch it on N processes through PyTorch's own
elastic agent (``torch.distributed.run``, what ``torchrun`` runs), from inside rnnkit.

    rnnkit forecast sunspots --nproc 2                                    # one machine
    rnnkit classify digits --nproc 2 --nnodes 2 --node-rank 0 --rdzv-endpoint host:29400
    rnnkit classify digits --nproc 2 --max-restarts 3                      # elastic restarts

The launcher options are taken out of the command line, which then runs unchanged in every
worker; there ``fit`` finds ``WORLD_SIZE`` and trains distributed
(``rnnkit.training.distributed``).  The workers other than rank 0 print nothing and write
their outputs into a scratch folder that is removed at their end, so only rank 0 reports.
The same commands also work when started by a user's own ``torchrun``.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

__all__ = ["LAUNCHER_OPTIONS", "split_launcher", "launch", "quiet_worker"]

# option -> (torchrun's name, minimum)
LAUNCHER_OPTIONS = {"--nproc": ("--nproc-per-node", 1), "--nnodes": ("--nnodes", 1),
                    "--node-rank": ("--node-rank", 0), "--max-restarts": ("--max-restarts", 0),
                    "--rdzv-endpoint": ("--rdzv-endpoint", None)}
JOIN_TIMEOUT_S = int(os.environ.get("RNNKIT_RDZV_TIMEOUT", "60"))   # waiting for other nodes


def split_launcher(argv: list[str]) -> tuple[dict[str, str], list[str]]:
    """``(launcher options, the rest)`` of a command line; ``--opt value`` and ``--opt=value``."""
    opts: dict[str, str] = {}
    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        name, eq, value = arg.partition("=")
        if name in LAUNCHER_OPTIONS:
            if not eq:
                if i + 1 >= len(argv):
                    raise ValueError(f"{name} needs a value")
                value, i = argv[i + 1], i + 1
            opts[name] = value
        else:
            rest.append(arg)
        i += 1
    return opts, rest


def _int(name: str, value: str) -> int:
    minimum = LAUNCHER_OPTIONS[name][1]
    try:
        n = int(value)
    except ValueError:
        raise ValueError(f"{name} must be an int, got {value!r}") from None
    if n < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {n}")
    return n


def launch(opts: dict[str, str], rest: list[str]) -> int:
    """Run ``rnnkit <rest>`` on the processes ``opts`` ask for; the launcher's exit code."""
    if "--nproc" not in opts:
        raise ValueError(f"{', '.join(opts)} go with --nproc N (processes per machine)")
    if os.environ.get("LOCAL_RANK") is not None:
        raise ValueError("already running under torchrun: drop --nproc (torchrun's own "
                         "options choose the processes)")
    nproc = _int("--nproc", opts["--nproc"])
    nnodes = _int("--nnodes", opts.get("--nnodes", "1"))
    restarts = _int("--max-restarts", opts.get("--max-restarts", "0"))
    args = [f"--nproc-per-node={nproc}", f"--nnodes={nnodes}", f"--max-restarts={restarts}"]
    if nnodes > 1 and restarts > 0:
        # a fresh store for every attempt: in the one store the agents otherwise keep, a
        # restarted rank can read its dead peer's address (on one machine the workers
        # prefix their keys with the attempt instead: training.distributed._bootstrap_store)
        os.environ.setdefault("TORCH_DISABLE_SHARE_RDZV_TCP_STORE", "1")
    endpoint = opts.get("--rdzv-endpoint")
    if endpoint is not None:
        host, _, port = endpoint.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"--rdzv-endpoint must be HOST:PORT, got {endpoint!r}")
        args += ["--rdzv-backend=c10d", f"--rdzv-endpoint={endpoint}",
                 f"--rdzv-conf=join_timeout={JOIN_TIMEOUT_S}"]
        if "--node-rank" in opts:
            args.append(f"--node-rank={_int('--node-rank', opts['--node-rank'])}")
    elif nnodes > 1:
        raise ValueError(f"--nnodes {nnodes} needs --rdzv-endpoint HOST:PORT (where the "
                         "machines meet)")
    else:
        args.append("--standalone")
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import main as run
    try:
        run([*args, "-m", "rnnkit.cli.main", *rest])
    except ChildFailedError as err:
        failures = "; ".join(f"rank {r}: exit {f.exitcode}" for r, f in err.failures.items())
        print(f"error: a worker failed ({failures}); its output is above", file=sys.stderr)
        return 1
    except Exception as err:   # noqa: BLE001 -- the agent's own failures: rendezvous, ...
        why = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
        if "Rendezvous" in type(err).__name__ and endpoint is not None:
            why = (f"not all {nnodes} machines joined at {endpoint} within "
                   f"{JOIN_TIMEOUT_S} s (RNNKIT_RDZV_TIMEOUT sets it; {why})")
        raise ValueError(f"the distributed launch failed: {why}") from None
    return 0


def quiet_worker(argv: list[str]) -> list[str]:
    """In a worker other than rank 0: silence stdout and send ``--out`` to a scratch folder
    (removed at exit), so that rank 0 alone reports and writes."""
    if os.environ.get("RANK", "0") == "0" or os.environ.get("LOCAL_RANK") is None:
        return argv
    scratch = tempfile.mkdtemp(prefix=f"rnnkit-rank{os.environ['RANK']}-")
    import atexit
    atexit.register(shutil.rmtree, scratch, True)
    sys.stdout = open(os.devnull, "w")   # noqa: SIM115 -- for the life of the worker
    command = next((a for a in argv if not a.startswith("-")), None)
    return [*argv, "--out", scratch] if command in TRAINING_COMMANDS else argv


TRAINING_COMMANDS = {"forecast", "classify", "generate", "translate", "tutorial"}
