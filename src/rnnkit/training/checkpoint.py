"""Training checkpoints: one safetensors file holding everything needed to resume.

Tensors: ``model.<name>`` (state_dict), ``optim.<param>.<key>`` (optimizer state),
``rng.torch`` and ``rng.shuffle`` (generator states).  Metadata (JSON strings): the model
config, optimizer hyper-parameters and scalar state, the epoch reached and the history.
Written atomically with a checksum (``rnnkit.io``); read without unpickling.  Resuming
checks every metadata key and compares the recorded model config with the model resumed
into, field by field, naming the first difference.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from ..io import (
    FORMAT_VERSION,
    check_built,
    check_header,
    in_stored_dtype,
    load_state_checked,
    read_tensors,
    write_tensors,
)
from ..registry import deserialize, serialize

__all__ = ["save_checkpoint", "load_checkpoint", "load_model_from_checkpoint"]

FORMAT = "rnnkit-checkpoint"


def save_checkpoint(path: str | Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    shuffle_rng: torch.Generator, epoch: int, history: dict[str, list],
                    run: dict[str, Any] | None = None) -> None:
    """``run``: the settings and data fingerprint of the fit writing it (JSON values);
    ``load_checkpoint`` refuses to continue a run whose ``run`` differs."""
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    opt = optimizer.state_dict()
    scalars: dict[str, dict[str, Any]] = {}
    for pid, state in opt["state"].items():
        for key, value in state.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{pid}.{key}"] = value
            else:
                scalars.setdefault(str(pid), {})[key] = value
    tensors["rng.torch"] = torch.get_rng_state()
    tensors["rng.shuffle"] = shuffle_rng.get_state()
    try:
        check_built(model)
        spec = serialize(model)
    except (ValueError, NotImplementedError):
        spec = None                   # a hand-written nn.Module: resumable, not loadable alone
    meta = {"format": FORMAT, "version": FORMAT_VERSION, "model": spec, "epoch": epoch,
            "history": history, "optimizer": type(optimizer).__name__,
            "param_groups": opt["param_groups"], "optim_scalars": scalars, "run": run}
    write_tensors(Path(path), tensors, {"rnnkit": json.dumps(meta)})


_IGNORED = frozenset({"engine", "input_shape"})   # run-time choices, not the model's math
_MISSING = object()


def _first_difference(a: Any, b: Any, path: str = "") -> tuple[str, Any, Any] | None:
    """The first field where two serialized configs differ, as (path, a, b)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in list(a) + [k for k in b if k not in a]:
            if key in _IGNORED:
                continue
            here = path if key == "config" else f"{path}.{key}" if path else key
            found = _first_difference(a.get(key, _MISSING), b.get(key, _MISSING), here)
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for k, (x, y) in enumerate(zip(a, b)):
            found = _first_difference(x, y, f"{path}[{k}]")
            if found:
                return found
        return None
    return None if a == b and type(a) is type(b) else (path or "the model", a, b)


def _show(value: Any) -> str:
    return "no such field" if value is _MISSING else f"{value!r:.80}"


def _check_same_model(path: Path, recorded: Any, model: torch.nn.Module) -> None:
    if recorded is None:
        return
    try:
        check_built(model)
        current = json.loads(json.dumps(serialize(model)))
    except (ValueError, NotImplementedError, TypeError):
        return                                     # a hand-written module: weights decide
    found = _first_difference(recorded, current)
    if found:
        where, was, now = found
        raise ValueError(f"{path} was written for {where}={_show(was)}; this model has "
                         f"{_show(now)}")


_KEYS = {"model": (dict, type(None)), "epoch": int, "history": dict, "optimizer": str,
         "param_groups": list, "optim_scalars": dict}


def _need(meta: dict[str, Any], key: str, path: Path) -> Any:
    if key not in meta:
        raise ValueError(f"{path}: checkpoint metadata lacks {key!r}")
    value = meta[key]
    if not isinstance(value, _KEYS[key]) or isinstance(value, bool):
        raise ValueError(f"{path}: checkpoint metadata {key!r} has the wrong type "
                         f"({type(value).__name__})")
    return value


def _read(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors, raw = read_tensors(path)
    try:
        meta = json.loads(raw["rnnkit"])
    except (KeyError, json.JSONDecodeError, RecursionError):
        raise ValueError(f"{path} is a safetensors file but not an rnnkit checkpoint") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{path}: checkpoint metadata must be a JSON object")
    check_header(meta, FORMAT, str(path))
    return tensors, meta


def _check_same_run(path: Path, saved: Any, run: dict[str, Any] | None) -> None:
    """Resuming continues one run: other data, batches or a learning rate the optimizer's
    restored state would silently override are refused, naming the first difference."""
    if run is None or saved is None:          # a file from before runs were recorded
        return
    if not isinstance(saved, dict):
        raise ValueError(f"{path}: checkpoint metadata 'run' must be an object")
    for key, value in run.items():
        if key in saved and saved[key] != value:
            what = "the training data" if key == "data" else f"{key}={saved[key]!r}"
            now = "other data" if key == "data" else f"{key}={value!r}"
            raise ValueError(f"{path} was written by a run with {what}; this run has {now}. "
                             "Resume with the same settings, or start a new checkpoint")


def load_checkpoint(path: str | Path, model: torch.nn.Module,
                    optimizer: torch.optim.Optimizer, shuffle_rng: torch.Generator,
                    run: dict[str, Any] | None = None) -> tuple[int, dict[str, list]]:
    """Restore model, optimizer and RNG states; return (epochs done, history).  With
    ``run``, the run that wrote the file must have had the same settings and data."""
    path = Path(path)
    tensors, meta = _read(path)
    values = {key: _need(meta, key, path) for key in _KEYS}
    if values["epoch"] < 0:
        raise ValueError(f"{path}: checkpoint metadata 'epoch' is {values['epoch']}")
    _check_same_model(path, values["model"], model)
    _check_same_run(path, meta.get("run"), run)
    if values["optimizer"] != type(optimizer).__name__:
        raise ValueError(f"{path} was written with optimizer {values['optimizer']}, "
                         f"this run uses {type(optimizer).__name__}")
    for key in ("rng.torch", "rng.shuffle"):
        if key not in tensors:
            raise ValueError(f"{path}: checkpoint lacks the tensor {key!r}")
    weights = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
    load_state_checked(model, weights, str(path))
    state: dict[int, dict[str, Any]] = {}
    try:
        for key, value in tensors.items():
            if key.startswith("optim."):
                _, pid, name = key.split(".", 2)
                state.setdefault(int(pid), {})[name] = value
        for pid, scalars in values["optim_scalars"].items():
            state.setdefault(int(pid), {}).update(scalars)
    except (ValueError, TypeError):
        raise ValueError(f"{path}: optimizer state entries are malformed (expected "
                         "optim.<param id>.<name> tensors and {id: {name: value}} "
                         "scalars)") from None
    try:
        optimizer.load_state_dict({"state": state, "param_groups": values["param_groups"]})
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{path}: optimizer state does not fit this model ({err})") from None
    try:
        torch.set_rng_state(tensors["rng.torch"])
        shuffle_rng.set_state(tensors["rng.shuffle"])
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"{path}: the saved random-generator state is invalid ({err})") \
            from None
    return values["epoch"], values["history"]


def load_model_from_checkpoint(path: Path) -> torch.nn.Module:
    """The model a checkpoint was written for, with its weights (``rnnkit.load`` uses it)."""
    tensors, meta = _read(path)
    if _need(meta, "model", path) is None:
        raise ValueError(f"{path} holds the weights of a hand-written module without a config; "
                         "build the module and resume training into it instead")
    model = deserialize(meta["model"], str(path))
    weights = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
    in_stored_dtype(model, weights)
    load_state_checked(model, weights, str(path))
    return model
