"""Weights in and out: torch.nn, Keras 3 and ONNX, each with a parity report.  Every gate
order and bias convention lives in ``layouts.py``."""

from .layouts import LAYOUTS, layout_table
from .torch_native import from_torch, parity, to_torch

__all__ = ["LAYOUTS", "layout_table", "from_torch", "to_torch", "parity"]
