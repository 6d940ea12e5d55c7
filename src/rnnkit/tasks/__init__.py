"""Tasks: an RNN, its data handling, metrics and report, end to end."""

from .forecast import ForecastConfig, Forecaster

__all__ = ["Forecaster", "ForecastConfig"]
