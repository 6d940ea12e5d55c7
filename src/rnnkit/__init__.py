"""rnnkit: recurrent neural networks on PyTorch -- readable cells, fast engines, training."""

from . import data, datasets, interop, tasks
from .cells import (
                    GRUCell,
                    LayerNormLSTMCell,
                    LSTMCell,
                    PeepholeLSTMCell,
                    RecurrentCell,
                    SimpleRNNCell,
                    StackedCells,
)
from .engines.select import readable
from .layers import (
                    GRU,
                    LSTM,
                    RNN,
                    Bidirectional,
                    Dense,
                    Dropout,
                    Embedding,
                    GlobalAveragePool1D,
                    GlobalMaxPool1D,
                    LayerNormLSTM,
                    Masking,
                    MeanOverTime,
                    SimpleRNN,
)
from .model import Sequential, load
from .registry import register_serializable
from .saving import save
from .training import (
                    Callback,
                    EarlyStopping,
                    History,
                    ModelCheckpoint,
                    TensorBoard,
                    Trainer,
                    TrainingDiverged,
                    set_seed,
)
from .types import LSTMState

__version__ = "0.1.0"

__all__ = [
    "LSTMState",
    "RecurrentCell", "SimpleRNNCell", "LSTMCell", "GRUCell", "LayerNormLSTMCell",
    "PeepholeLSTMCell", "StackedCells",
    "RNN", "SimpleRNN", "LSTM", "GRU", "LayerNormLSTM", "Bidirectional", "Embedding", "Dense",
    "Dropout", "Masking", "MeanOverTime", "GlobalMaxPool1D", "GlobalAveragePool1D", "Sequential",
    "Trainer", "TrainingDiverged", "Callback", "History", "EarlyStopping", "ModelCheckpoint",
    "TensorBoard",
    "set_seed", "save", "load", "register_serializable", "data", "datasets", "interop", "tasks",
    "readable", "__version__",
]
