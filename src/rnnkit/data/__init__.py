"""Data helpers: batching, windowing, scaling, reading tables and vectorizing text."""

from .batching import as_tensors, batch_indices, num_samples, take
from .scaling import MinMaxScaler, StandardScaler, make_scaler, scaler_from_dict
from .tables import FILL_POLICIES, fill_missing, read_csv_series
from .text import PAD, UNK, TextVectorizer
from .windowing import make_windows, shifted_windows, split_series, tutorial_windows

__all__ = ["as_tensors", "batch_indices", "num_samples", "take", "MinMaxScaler",
           "StandardScaler", "make_scaler", "scaler_from_dict", "make_windows",
           "shifted_windows", "split_series", "tutorial_windows", "fill_missing",
           "read_csv_series", "FILL_POLICIES", "TextVectorizer", "PAD", "UNK"]
