"""Data helpers: batching, windowing and scaling."""

from .batching import as_tensors, batch_indices, num_samples, take
from .scaling import MinMaxScaler
from .windowing import tutorial_windows

__all__ = ["as_tensors", "batch_indices", "num_samples", "take", "MinMaxScaler",
           "tutorial_windows"]
