"""Cells stacked inside one time step (Keras ``StackedRNNCells``, TF ``MultiRNNCell``).

Math (one step, L cells):
    y_0 = x
    y_l, s_l' = cell_l(y_{l-1}, s_l)      l = 1..L
    output y_L, state (s_1', ..., s_L')
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import nn

from ..registry import deserialize, register_serializable, serialize
from .base import RecurrentCell

__all__ = ["StackedCells"]


@register_serializable
class StackedCells(RecurrentCell):
    """Run several cells one after another each step; the state is a tuple, one per cell.

    Example:
        >>> import torch
        >>> from rnnkit.cells import GRUCell, LSTMCell
        >>> cell = StackedCells([LSTMCell(3, 8), GRUCell(8, 4)])
        >>> y, (s1, s2) = cell(torch.zeros(2, 3))
        >>> tuple(y.shape), tuple(s1.h.shape), tuple(s2.shape)
        ((2, 4), (2, 8), (2, 4))
    """

    def __init__(self, cells: Sequence[RecurrentCell]):
        super().__init__()
        cells = list(cells)
        if not cells:
            raise ValueError("StackedCells needs at least one cell, got none")
        for k, (a, b) in enumerate(zip(cells, cells[1:])):
            if getattr(b, "input_size", a.output_size) != a.output_size:
                raise ValueError(
                    f"cell {k + 1} expects input_size={b.input_size} but cell {k} "
                    f"outputs {a.output_size}"
                )
        self.cells = nn.ModuleList(cells)

    @property
    def input_size(self) -> Any:
        return getattr(self.cells[0], "input_size", None)

    @property
    def state_size(self) -> tuple:
        return tuple(cell.state_size for cell in self.cells)

    @property
    def output_size(self) -> Any:
        return self.cells[-1].output_size

    def forward(self, x, state=None):
        states = self.initial_state(x) if state is None else state
        new_states = []
        for cell, s in zip(self.cells, states):
            x, s = cell(x, s)
            new_states.append(s)
        return x, tuple(new_states)

    def get_config(self) -> dict[str, Any]:
        return {"cells": [serialize(c) for c in self.cells]}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> StackedCells:
        return cls([deserialize(c) for c in config["cells"]])
