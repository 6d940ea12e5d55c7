"""Engines run a cell over a whole sequence: ``loop`` (any cell, the readable loop),
``torch`` (torch's kernels, ``native.py``) and ``rnnkit`` (rnnkit's whole-sequence kernels
with hand-derived gradients, ``fused.py``); ``select.py`` chooses and says why."""

from .fused import run_fused
from .loop import run_loop
from .native import run_native
from .select import ENGINES, choose_engine, engine_name, native_blocker

__all__ = ["run_loop", "run_native", "run_fused", "ENGINES", "choose_engine", "engine_name",
           "native_blocker"]
