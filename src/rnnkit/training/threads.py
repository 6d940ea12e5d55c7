"""How many CPU threads a fit uses, chosen by the work in one step.

torch runs its kernels on ``torch.get_num_threads()`` threads (by default one per core).
A small recurrent model cannot use them: a GRU(64) step on a batch of 32 is a few GEMMs of
a few hundred thousand multiply-adds, shorter than the cost of waking and joining the
thread pool.  Worse, the pool's threads spin while they wait, so when other CPU-bound
processes share the cores every step waits for a thread that was descheduled: reviewers
timed ``rnnkit classify digits`` (GRU(64) on 8x8 digits, batch 32) at 8.0 s per epoch on
torch's 2 threads beside two other busy processes, and at 0.8 s with one thread.

So ``fit(threads=None)`` measures the work of one step, as multiply-adds per batch and
time step (every weight of a recurrent cell is one multiply-add per sample and step:
gates * H * (D + H) for SimpleRNN, LSTM and GRU, the same count ``training/cpp_step.py``
calls ``macs``), and runs on one thread up to ``ONE_THREAD_MAX_MACS``, on all of torch's
threads above.  ``fit(threads=N)`` uses N.  Either way the choice holds during ``fit``
only; ``trainer.thread_choice`` and ``model.summary()`` say what ran and why.

``torch.set_num_threads`` is global to the process: two fits running at the same time in
two Python threads would set it under each other.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..cells import RecurrentCell
from ..data.batching import num_samples
from ..layers import Embedding

__all__ = ["ThreadChoice", "choose_threads", "using_threads", "work_per_step",
           "ONE_THREAD_MAX_MACS"]

# Multiply-adds per batch and time step up to which one thread is the default, from
# `python benchmarks/threads.py` on this project's 2-core machine (benchmarks/README.md,
# "Threads"): quiet, one thread won up to 442,368 (GRU(64), batch 32: 0.061 s per epoch
# against 0.062 s) and two won from 1,671,168 (GRU(128), batch 32: 1.33x); beside one
# CPU-bound process one thread won at every size (2 threads: 0.17x to 0.39x).  The quiet
# crossover is about 860,000; above 1,000,000 a quiet machine gains 1.2-1.3x from a second
# thread, and a busy one can pass threads=1.
ONE_THREAD_MAX_MACS = 1_000_000


@dataclass(frozen=True)
class ThreadChoice:
    n: int          # threads fit runs on (torch.set_num_threads)
    reason: str     # why, for summary() and the CLI


def _check(n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"threads must be a positive int or None, got {n!r}")
    return n


def work_per_step(model: nn.Module) -> int:
    """Multiply-adds per sample and time step of ``model``'s recurrent cells.

    Each weight matrix entry of a cell (``weight_ih (G·H, D)``, ``weight_hh (G·H, H)``) is
    one multiply-add per step, so this is G·H·(D + H) summed over the cells, custom cells
    and ``torch.nn.RNN/LSTM/GRU`` included.  A model with no recurrent cell counts the
    weights of all its layers but embeddings (a lookup, no multiply-add).
    """
    def leaf_cell(m: nn.Module) -> bool:
        return isinstance(m, RecurrentCell) and not any(isinstance(c, RecurrentCell)
                                                        for c in m.children())
    cells = [m for m in model.modules() if leaf_cell(m) or isinstance(m, nn.RNNBase)]
    if cells:
        return sum(p.numel() for m in cells for p in m.parameters() if p.dim() >= 2)
    return sum(p.numel() for m in model.modules() if not isinstance(m, (Embedding,
                                                                          nn.Embedding))
               for p in m.parameters(recurse=False) if p.dim() >= 2)


def choose_threads(model: nn.Module, batch_size: int, x: Any) -> ThreadChoice:
    """One thread for a small step, all of torch's for a big one (see the module doc)."""
    macs = work_per_step(model) * min(batch_size, num_samples(x))
    if macs <= ONE_THREAD_MAX_MACS:
        return ThreadChoice(1, f"{macs:,} multiply-adds per batch and time step <= "
                               f"{ONE_THREAD_MAX_MACS:,}: one thread is faster")
    n = torch.get_num_threads()
    return ThreadChoice(n, f"{macs:,} multiply-adds per batch and time step > "
                           f"{ONE_THREAD_MAX_MACS:,}: torch's {n} thread{'s' * (n > 1)}")


def requested(n: int) -> ThreadChoice:
    """The choice for ``fit(threads=n)``."""
    return ThreadChoice(_check(n), f"threads={n} requested")


@contextlib.contextmanager
def using_threads(n: int) -> Iterator[None]:
    """Run the body with ``torch.set_num_threads(n)``; the previous count comes back after."""
    _check(n)
    old = torch.get_num_threads()
    if n != old:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if torch.get_num_threads() != old:
            torch.set_num_threads(old)
