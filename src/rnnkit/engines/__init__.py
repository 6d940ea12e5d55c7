"""Engines run a cell over a whole sequence: ``loop`` (any cell), ``native`` (torch's
kernels) and ``fused`` (rnnkit's whole-sequence kernels with hand-derived gradients)."""

from .fused import run_fused
from .loop import run_loop
from .native import run_native
from .select import ENGINES, choose_engine, native_blocker

__all__ = ["run_loop", "run_native", "run_fused", "ENGINES", "choose_engine", "native_blocker"]
