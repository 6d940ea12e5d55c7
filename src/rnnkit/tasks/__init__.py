"""Tasks: an RNN, its data handling, metrics and report, end to end."""

from .classify import ClassifierConfig, SequenceClassifier
from .forecast import ForecastConfig, Forecaster
from .forecast_auto import AutoForecaster, MeanForecaster
from .generate import GeneratorConfig, TextGenerator
from .global_forecast import GlobalConfig, GlobalForecaster
from .hybrid import HybridConfig, HybridForecaster
from .translate import Translator, TranslatorConfig

__all__ = ["Forecaster", "ForecastConfig", "SequenceClassifier", "ClassifierConfig",
           "TextGenerator", "GeneratorConfig", "Translator", "TranslatorConfig",
           "HybridForecaster", "HybridConfig", "GlobalForecaster", "GlobalConfig",
           "AutoForecaster", "MeanForecaster"]
