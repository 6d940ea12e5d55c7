"""Tasks: an RNN, its data handling, metrics and report, end to end."""

from .classify import ClassifierConfig, SequenceClassifier
from .forecast import ForecastConfig, Forecaster

__all__ = ["Forecaster", "ForecastConfig", "SequenceClassifier", "ClassifierConfig"]
