"""Training on several processes with PyTorch's own engine: torch.distributed + DDP.

``fit`` runs distributed when it is started by ``torchrun`` (or ``rnnkit ... --nproc N``,
which launches through ``torch.distributed.run``) with ``WORLD_SIZE`` > 1, or when asked
with ``fit(distributed=True)``.  Then:

* the process group starts (gloo on the CPU, NCCL on CUDA) with a timeout, and is torn
  down at the end of ``fit`` if ``fit`` started it, after an exception too;
* the model is wrapped in ``DistributedDataParallel`` (rank 0's weights are broadcast, so
  every rank starts equal), and each step all-reduces the gradients;
* ``batch_size`` is per process: every rank draws the same shuffled order (the same seed)
  and takes its share of each global batch of ``world * batch_size`` samples, so N
  processes with batch b take the same steps as one process with batch N*b.  A global
  batch that does not divide evenly (the last of an epoch) is split as evenly as possible,
  and each rank's loss is weighted by its share, so the gradient is still the mean over the
  global batch; ranks left without a sample take none and still join the all-reduce;
* epoch losses and metrics are all-reduced (sums and counts), and validation runs whole on
  every rank, so every rank reports the same numbers; a callback that stops training on one
  rank (a wall-clock limit) stops every rank after the same epoch;
* only rank 0 prints progress and writes checkpoints, TensorBoard events and reports; the
  others wait at a barrier;
* a checkpoint records the world size, and resuming on another is refused naming both;
* a group restarted by torchrun's agent (``--max-restarts``) meets under keys of its own
  attempt (``_bootstrap_store``): the agent keeps one store for every attempt, and a new
  rank reading the address its killed predecessor left there failed with gloo's
  "Connection refused", or hung until the timeout.

The C++ training step (small models, ``training/cpp_step.py``) runs distributed too:
its C++ forward and BPTT leave each rank's gradients, one flat all-reduce sums them with the
loss, and the C++ update runs on the sums.  Autograd steps go through DDP, whose backward
overlaps its bucketed all-reduce.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

__all__ = ["Dist", "start", "world", "free_port", "world_from_env", "is_rank_zero", "TIMEOUT_S"]

TIMEOUT_S = float(os.environ.get("RNNKIT_DIST_TIMEOUT", "300"))   # seconds a collective waits


def world_from_env() -> int:
    """``WORLD_SIZE`` as torchrun sets it (1 when unset); a malformed value is an error."""
    raw = os.environ.get("WORLD_SIZE", "1")
    try:
        world = int(raw)
    except ValueError:
        raise ValueError(f"WORLD_SIZE must be a positive int, got {raw!r}") from None
    if world < 1:
        raise ValueError(f"WORLD_SIZE must be a positive int, got {world}")
    return world


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on now (for a launch on one machine)."""
    import socket
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def world() -> int:
    """The number of processes training together: the group's size once started, else
    what torchrun's ``WORLD_SIZE`` says (1 alone)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_world_size()
    return world_from_env()


def is_rank_zero() -> bool:
    """True in a single process and on rank 0 of a group: who writes files and prints."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank() == 0
    return os.environ.get("RANK", "0") == "0"


@dataclass
class Dist:
    """The process group ``fit`` runs in."""

    rank: int
    world: int
    created: bool           # fit started the group, so fit tears it down

    def share(self, idx: torch.Tensor) -> tuple[torch.Tensor, float]:
        """This rank's part of a global batch, and the weight of its mean loss (its share
        of the samples times the world size: DDP averages the ranks' gradients)."""
        part = idx.tensor_split(self.world)[self.rank]
        return part, len(part) * self.world / max(len(idx), 1)

    def sum(self, *values: float) -> list[float]:
        """Sums over the ranks (float64)."""
        t = torch.tensor(values, dtype=torch.float64)
        torch.distributed.all_reduce(t)
        return t.tolist()

    def all_reduce(self, t: torch.Tensor) -> None:
        """Sum ``t`` over the ranks, in place."""
        torch.distributed.all_reduce(t)

    def barrier(self) -> None:
        torch.distributed.barrier()

    def wrap(self, model: nn.Module) -> nn.Module:
        from torch.nn.parallel import DistributedDataParallel
        device = next(model.parameters()).device
        return DistributedDataParallel(model, device_ids=[device] if device.type == "cuda"
                                       else None)

    def close(self, clean: bool = True) -> None:
        """Tear the group down if ``fit`` started it.  After a clean run the ranks first
        meet at a barrier, so that none destroys its end while another still talks to it
        (under load, a gloo rank whose peer had gone aborted with "terminate called without
        an active exception"); after an exception on this rank there is no barrier (the
        others may be inside another collective) and the group goes at once, which fails
        their pending collectives instead of leaving them to the timeout."""
        if not (self.created and torch.distributed.is_initialized()):
            return
        try:
            if clean:
                torch.distributed.barrier()
        finally:
            torch.distributed.destroy_process_group()


def _bootstrap_store(timeout: datetime.timedelta) -> Any:
    """The store a group restarted by torchrun's agent meets in, or None for the default.

    Since torch 2.5 the agent hosts one TCPStore for the whole run and hands the same
    ``MASTER_PORT`` to every attempt, while ``init_process_group`` keys each rank's gloo or
    NCCL address by rank alone; so the keys of a killed attempt are still there when the
    next one starts, and a new rank can read its dead peer's address first.  Every worker
    on one machine has the same ``TORCHELASTIC_RESTART_COUNT``, so the keys get that
    attempt's prefix.  Across machines the agents count restarts apart (a node whose
    workers did not fail restarts them without counting), so there the store stays as it
    is: ``rnnkit ... --nnodes N --max-restarts k`` has the agents make a fresh store for
    every attempt instead (``TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1``)."""
    if (os.environ.get("TORCHELASTIC_USE_AGENT_STORE") != "True"
            or os.environ.get("GROUP_WORLD_SIZE", "1") != "1"):
        return None
    store = torch.distributed.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]),
                                       world_from_env(), is_master=False, timeout=timeout)
    attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
    return torch.distributed.PrefixStore(f"rnnkit/attempt{attempt}", store)


def start(requested: Any) -> Dist | None:
    """The group to train in: None for one process (``requested`` False, or None with
    ``WORLD_SIZE`` 1), else a ``Dist``, starting the process group when needed."""
    if requested not in (None, True, False):
        raise TypeError(f"distributed must be True, False or None, got {requested!r}")
    if requested is False:
        return None
    if requested is None and world() == 1:
        return None
    if not torch.distributed.is_available():
        raise RuntimeError("this torch build has no torch.distributed")
    created = False
    if not torch.distributed.is_initialized():
        missing = [k for k in ("MASTER_ADDR", "MASTER_PORT", "RANK") if k not in os.environ]
        if missing:
            raise ValueError(f"distributed training needs the environment torchrun sets "
                             f"({', '.join(missing)} missing): start it with torchrun or "
                             "rnnkit ... --nproc N")
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        timeout = datetime.timedelta(seconds=TIMEOUT_S)
        store = _bootstrap_store(timeout)
        if store is None:
            torch.distributed.init_process_group(backend, timeout=timeout)
        else:
            torch.distributed.init_process_group(backend, store=store, rank=int(
                os.environ["RANK"]), world_size=world_from_env(), timeout=timeout)
        created = True
    return Dist(torch.distributed.get_rank(), torch.distributed.get_world_size(), created)
