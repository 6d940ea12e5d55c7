"""Recurrent cells: one time step each. See ``base`` for the contract."""

from .base import RecurrentCell
from .elman import SimpleRNNCell
from .gru import GRUCell
from .lnlstm import LayerNormLSTMCell
from .lstm import LSTMCell
from .peephole import PeepholeLSTMCell
from .stacked import StackedCells

__all__ = ["RecurrentCell", "SimpleRNNCell", "LSTMCell", "GRUCell", "LayerNormLSTMCell",
           "PeepholeLSTMCell", "StackedCells"]
