"""Load any saved rnnkit folder once and say what it is: its kind, its network, what its
network reads, and whether that network can run one timestep at a time (for sessions).

A folder is recognised by the files its ``save`` writes:

    translator.json                     a Translator (no config.json: its own layout)
    config.json + forecaster.json       a Forecaster
    hybrid.json, or auto.json naming     the ES-RNN hybrid, its mean with a Forecaster, or
      "hybrid", "mean" or "combined"    auto's combined (rnnkit forecast's auto): /forecast
                                        only, as the smoothing or the statistical model
                                        runs outside the network
    config.json + classifier.json       a SequenceClassifier
    config.json + generator.json        a TextGenerator
    config.json alone                   whatever ``rnnkit.save`` wrote (a Sequential, a layer)
    a .safetensors file                 a training checkpoint (``rnnkit.load`` reads it)

Precision: ``load_served(path, precision=...)`` ("fp32", "bf16" or "auto", as
``fit(precision=...)``) chooses once, at load (a "bf16" this machine cannot run fails
there), and ``Served.inference()`` runs every request at that choice; the choice, with its
reason, is in /metadata.

Nothing here imports FastAPI: the CLI checks a folder before it starts a server.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..layers import RNN, Bidirectional, Dense, Dropout, Embedding
from ..model import Sequential
from ..precision import check_precision, fit_precision, inference
from ..types import Choice

__all__ = ["Served", "load_served", "detect_kind", "KINDS", "stream_blocker", "step_network",
           "jsonable"]

KINDS = ("sequential", "forecaster", "classifier", "generator", "translator")
TASK_FILES = {"forecaster.json": "forecaster", "classifier.json": "classifier",
              "generator.json": "generator"}
TASK_NAMES = {"sequential": "a saved network (rnnkit.save)", "forecaster": "a Forecaster",
              "classifier": "a SequenceClassifier", "generator": "a TextGenerator",
              "translator": "a Translator"}


def detect_kind(path: Path) -> str:
    """The kind of the saved model at ``path``, from the files present; a ValueError that
    names what is missing when it holds none."""
    if path.is_file():
        if path.suffix == ".safetensors":
            return "sequential"
        raise ValueError(f"{path} is a file; serve takes a saved model folder (or a "
                         "training checkpoint .safetensors)")
    if not path.is_dir():
        raise ValueError(f"{path}: no such folder")
    if (path / "translator.json").is_file():
        return "translator"
    if _smoothed(path):
        return "forecaster"            # the ES-RNN hybrid, or its mean with the RNN: /forecast
    found = [kind for name, kind in TASK_FILES.items() if (path / name).is_file()]
    if len(found) > 1:
        raise ValueError(f"{path} holds the settings of several tasks ({', '.join(found)}); "
                         "which one to serve would be a guess")
    if not (path / "config.json").is_file():
        raise ValueError(f"{path} holds no saved rnnkit model: expected config.json (written "
                         "by rnnkit.save and every task's save) or translator.json")
    return found[0] if found else "sequential"


def jsonable(obj: Any) -> Any:
    """``obj`` with NaN and infinities as None: JSON has no word for them, and a saved
    history may hold a NaN loss."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (str, int, bool)) or obj is None:
        return obj
    return str(obj)


def _layers(network: nn.Module) -> list[nn.Module]:
    if isinstance(network, Sequential):
        return list(network.layers)
    return [network]


def stream_blocker(network: nn.Module) -> str | None:
    """Why ``network`` cannot run one timestep at a time from a carried state, or None when
    it can: every layer must be a forward-reading RNN or work on one step alone."""
    if not isinstance(network, (Sequential, RNN)):
        return f"the network is a {type(network).__name__}, not a Sequential or an RNN layer"
    for k, layer in enumerate(_layers(network)):
        name = type(layer).__name__
        if isinstance(layer, Bidirectional):
            return (f"layer {k} is Bidirectional: its backward half reads the sequence from "
                    "the end, so no output exists until the sequence is whole")
        if isinstance(layer, RNN):
            if layer.go_backwards:
                return f"layer {k} ({name}) has go_backwards=True: it reads from the end"
        elif not isinstance(layer, (Dense, Dropout, Embedding)):
            return f"layer {k} ({name}) works on whole sequences and has no one-step form"
    return None


def step_network(network: nn.Module, states: dict[int, Any], x_t: torch.Tensor
                 ) -> tuple[torch.Tensor, dict[int, Any]]:
    """One timestep through the network: x_t (B, D) floats or (B,) token ids -> y_t and
    the new states (by layer index).  Each RNN runs its ``step``: O(1) in the history."""
    new = dict(states)
    h = x_t
    for k, layer in enumerate(_layers(network)):
        if isinstance(layer, RNN):
            h, new[k] = layer.step(h, states.get(k))
        elif isinstance(layer, Embedding):
            h = layer(h[:, None])[:, 0]                  # (B,) -> (B, 1) -> (B, E)
        else:
            h = layer(h)
    return h, new


def _input_features(network: nn.Module) -> int | None | str:
    """D for a float network, "ids" for one that starts with an Embedding, None if unknown."""
    for layer in _layers(network):
        if isinstance(layer, Embedding):
            return "ids"
        size = getattr(getattr(layer, "forward_layer", layer), "input_size", None)
        if isinstance(size, int):
            return size
    return None


@dataclass
class Served:
    """A loaded model and what the server needs to know about it."""

    kind: str                          # one of KINDS
    path: Path
    network: nn.Module                 # the torch module that runs
    task: Any = None                   # the task object (Forecaster, ...) or None
    config: dict[str, Any] = field(default_factory=dict)
    history: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] | None = None
    reads: int | str | None = None     # D, "ids", or None (translator: texts)
    engines: list[dict[str, Any]] = field(default_factory=list)
    summary: str | None = None
    blocker: str | None = None         # why sessions are unavailable; None: they are
    precision: str = "fp32"            # what was asked: "fp32", "bf16" or "auto"
    precision_choice: Choice | None = None   # what every request runs at, and why

    @property
    def parameters(self) -> int:
        return sum(p.numel() for p in self.network.parameters())

    @property
    def dtype(self) -> torch.dtype:
        p = next(self.network.parameters(), None)
        return p.dtype if p is not None else torch.get_default_dtype()

    @property
    def stateful_layers(self) -> list[RNN]:
        return [m for m in self.network.modules() if isinstance(m, RNN) and m.stateful]

    def describe(self) -> str:
        if isinstance(self.task, SmoothedForecaster):
            return self.task.description
        return TASK_NAMES[self.kind]

    def inference(self):
        """The block runs the network at the served precision, without gradients."""
        return inference(self.network, self.precision)


def _load_task(kind: str, path: Path) -> tuple[Any, nn.Module, dict[str, Any], dict]:
    from ..model import load
    if kind == "sequential":
        return None, load(path), {}, {}
    from ..tasks import Forecaster, SequenceClassifier, TextGenerator, Translator
    if kind == "forecaster" and _smoothed(path):
        task = SmoothedForecaster.load(path)
        return task, task.model, task.settings, {}
    cls = {"forecaster": Forecaster, "classifier": SequenceClassifier,
           "generator": TextGenerator, "translator": Translator}[kind]
    task = cls.load(path)
    return task, task.model, asdict(task.config), dict(task.history or {})


def _smoothed(path: Path) -> bool:
    """A folder whose forecasts run outside any network: the hybrid's (its exponential
    smoothing), or auto's choice of the hybrid, of its mean with the RNN, or of the
    combined (its statistical model)."""
    from ..tasks.forecast_auto import saved_kind
    return saved_kind(path) in ("hybrid", "mean", "combined") \
        or (path / "hybrid.json").is_file()


class SmoothedForecaster:
    """The ES-RNN hybrid, the mean of it and an RNN Forecaster, or auto's combined (one of
    those, or the RNN, averaged with a statsforecast model), as /forecast serves a
    Forecaster: ``predict(steps, series, precision)``, ``columns``, ``target_idx``,
    ``context`` and ``config.window``/``horizon``.  The smoothing or the statistical model
    runs outside the network, so a server offers /forecast only (no /predict of raw
    windows, no sessions).

    ``series`` (a history sent to /forecast) is the whole series so far, (T, columns): the
    hybrid's season factors belong to the phases of the rows it was fitted from, so a
    seasonal hybrid refuses a history that does not begin with them; a statistical model is
    fitted on that history's target column for each request."""

    BLOCKER = ("its exponential smoothing or statistical model runs outside the network, so "
               "its forecasts come from /forecast only")

    def __init__(self, hybrid: Any = None, rnn: Any = None, combined: Any = None,
                 intervals: Any = None, no_intervals: str = "none were saved"):
        if hybrid is None and rnn is None:
            raise ValueError("a served forecaster needs the hybrid, the RNN or both")
        self.hybrid, self.rnn, self.combined = hybrid, rnn, combined
        # the chosen model's errors behind its quantiles (tasks/intervals.py), or why none
        self.intervals, self.no_intervals = intervals, no_intervals
        if rnn is not None:
            self.columns, self.target_idx = list(rnn.columns), list(rnn.target_idx)
            self.context = rnn.context
        else:
            self.columns, self.target_idx = [hybrid.config.target or "y"], [0]
            self.context = hybrid.series[:, None]
        self.model = rnn.model if hybrid is None else hybrid.model if rnn is None else \
            nn.ModuleDict({"rnn": rnn.model, "hybrid": hybrid.model})
        self.config = hybrid.config if hybrid is not None else rnn.config
        base = "the mean of an RNN Forecaster and the ES-RNN hybrid" if hybrid is not None \
            and rnn is not None else "an ES-RNN hybrid forecaster" if hybrid is not None \
            else "an RNN Forecaster"
        self.description = base if combined is None else \
            f"auto's combined: {base}, averaged with statsforecast's {combined.model}"
        self.settings = {"kind": self.description,
                         **({"hybrid": asdict(hybrid.config)} if hybrid is not None else {}),
                         **({"rnn": asdict(rnn.config)} if rnn is not None else {}),
                         **({"stats_model": combined.model, "season": combined.season}
                            if combined is not None else {})}

    @classmethod
    def load(cls, path: Path) -> SmoothedForecaster:
        from ..tasks import AutoForecaster, HybridForecaster
        from ..tasks.forecast_auto import CombinedForecaster, MeanForecaster, saved_kind
        if saved_kind(path) is None:
            h = HybridForecaster.load(path)
            return cls(h, None, None, h.intervals, h.no_intervals)
        chosen = AutoForecaster.load(path).chosen
        errors = (chosen.intervals, chosen.no_intervals)      # the whole chosen model's
        combined = None
        if isinstance(chosen, CombinedForecaster):
            chosen, combined = chosen.base, chosen
        if isinstance(chosen, MeanForecaster):
            return cls(chosen.members["hybrid"], chosen.members["rnn"], combined, *errors)
        if isinstance(chosen, HybridForecaster):
            return cls(chosen, None, combined, *errors)
        return cls(None, chosen, combined, *errors)

    def predict(self, steps: int | None = None, series: Any = None, quantiles: Any = False,
                *, precision: str = "fp32") -> np.ndarray:
        """(steps, 1) forecasts; with ``quantiles`` (levels, or True) (steps, 1, levels) from
        the chosen model's errors, as its own ``predict(quantiles=...)``."""
        point = self._point(steps, series, precision)
        if quantiles is False or quantiles is None:
            return point
        return self.bands(point, quantiles)

    def bands(self, point: np.ndarray, quantiles: Any) -> np.ndarray:
        """Bands (steps, 1, levels) around forecasts point (steps, 1) this model made, from
        the chosen model's errors (so a server makes the point forecast once: a combined's
        statistical model is fitted once per request)."""
        from ..tasks.intervals import band_levels
        levels = band_levels(self, "served forecaster", self.config.horizon, len(point),
                             quantiles)
        return self.intervals.bands(point, levels)

    def _point(self, steps: int | None, series: Any, precision: str) -> np.ndarray:
        check_precision(precision)
        target = None if series is None else np.asarray(series, dtype=np.float64).reshape(
            len(series), -1)[:, self.target_idx[0]]   # the hybrid reads its target alone
        parts = []
        if self.hybrid is not None:
            parts.append(self.hybrid.predict(steps, target))         # float64, no GEMM to cast
        if self.rnn is not None:
            parts.append(self.rnn.predict(steps, series, precision=precision))
        out = parts[0] if len(parts) == 1 else (parts[0] + parts[1]) / 2
        if self.combined is None:
            return out
        return (out + self.combined.stats_after(len(out), target)[:, None]) / 2


def _saved_metrics(path: Path) -> dict[str, Any] | None:
    """metrics.json beside the model, or one folder up when the model is ``.../model`` (as
    ``rnnkit forecast`` and ``rnnkit classify`` write them)."""
    from ..io import read_json
    folder = path if path.is_dir() else path.parent
    for candidate in (folder / "metrics.json",
                      folder.parent / "metrics.json" if folder.name == "model" else None):
        if candidate is not None and candidate.is_file():
            try:
                value = read_json(candidate, "training metrics (JSON)")
            except (ValueError, OSError):
                return None                       # optional: a bad one is left out
            return value if isinstance(value, dict) else None
    return None


def _warm_up(served: Served) -> None:
    """Run the network once on a dummy batch, so each RNN records the engine it picks."""
    net = served.network
    if served.reads is None:
        return
    T = (getattr(net, "input_shape", None) or (4,))[0]
    if served.reads == "ids":
        x = torch.ones(1, T, dtype=torch.long)
    else:
        x = torch.zeros(1, T, served.reads, dtype=served.dtype)
    net.eval()
    saved = [(m, m.get_states()) for m in served.stateful_layers]
    try:
        with served.inference():        # the engines recorded are those requests run
            net(x)
    except (ValueError, TypeError):
        return
    finally:
        for m, state in saved:
            m.reset_states(state)
    if isinstance(net, Sequential):
        try:
            with served.inference():
                served.summary = net.summary(input_shape=tuple(x.shape[1:]), print_fn=None)
        except (ValueError, TypeError):
            served.summary = None


def load_served(path: str | Path, precision: str = "fp32") -> Served:
    """Load the model at ``path`` once, to serve at ``precision``; ValueError naming what
    is wrong otherwise."""
    check_precision(precision)
    path = Path(path)
    kind = detect_kind(path)
    task, network, config, history = _load_task(kind, path)
    if kind == "sequential":
        config = {"model": type(network).__name__}
        if hasattr(network, "get_config"):
            try:
                config = {"model": type(network).__name__, **network.get_config()}
            except (NotImplementedError, ValueError):
                pass
    network.eval()
    served = Served(kind=kind, path=path, network=network, task=task, config=config,
                    history=history, metrics=_saved_metrics(path), precision=precision,
                    precision_choice=fit_precision(network, precision))
    smoothed = isinstance(task, SmoothedForecaster)
    served.reads = None if kind == "translator" or smoothed else _input_features(network)
    served.blocker = (f"{served.describe()} decodes whole texts; sessions stream a network "
                      "one step at a time") if kind == "translator" else \
        SmoothedForecaster.BLOCKER if smoothed else stream_blocker(network)
    _warm_up(served)
    served.engines = [{"layer": name, "type": type(m).__name__, "engine": m.engine,
                       "ran": m.engine_choice.kind if m.engine_choice else None,
                       "note": m.engine_choice.reason if m.engine_choice else "not run yet"}
                      for name, m in network.named_modules() if isinstance(m, RNN)]
    return served
