"""Engines run a cell over a whole sequence: ``loop`` (any cell) and ``native`` (torch kernels)."""

from .loop import run_loop
from .native import run_native
from .select import ENGINES, choose_engine, native_blocker

__all__ = ["run_loop", "run_native", "ENGINES", "choose_engine", "native_blocker"]
