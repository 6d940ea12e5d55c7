"""Layers: RNN(cell) and its conveniences, Bidirectional, Embedding, Dense, pooling over time,
LayerStack (``rnnkit.Sequential`` is a LayerStack that trains: ``rnnkit/model.py``)."""

from .bidirectional import Bidirectional
from .dense import Dense, Dropout, Masking, MeanOverTime
from .embedding import Embedding
from .pooling import GlobalAveragePool1D, GlobalMaxPool1D
from .recurrent import GRU, LSTM, RNN, LayerNormLSTM, SimpleRNN
from .sequential import LayerStack

__all__ = ["RNN", "SimpleRNN", "LSTM", "GRU", "LayerNormLSTM", "Bidirectional", "Embedding",
           "Dense", "Dropout", "Masking", "MeanOverTime", "GlobalMaxPool1D",
           "GlobalAveragePool1D", "LayerStack"]

