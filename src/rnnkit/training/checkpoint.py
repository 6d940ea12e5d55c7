"""Training checkpoints: one safetensors file holding everything needed to resume.

Tensors: ``model.<name>`` (state_dict), ``optim.<param>.<key>`` (optimizer state),
``rng.torch`` and ``rng.shuffle`` (generator states).  Metadata (JSON strings): the model
config, optimizer hyper-parameters and scalar state, the epoch reached and the history.
Written atomically; read without unpickling.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from ..registry import deserialize
from ..saving import VERSION, _check_header, load_state_checked, read_tensors, write_tensors

__all__ = ["save_checkpoint", "load_checkpoint", "load_model_from_checkpoint"]

FORMAT = "rnnkit-checkpoint"


def save_checkpoint(path: str | Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    shuffle_rng: torch.Generator, epoch: int, history: dict[str, list]) -> None:
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
        from ..saving import model_spec
        spec = model_spec(model)
    except (ValueError, NotImplementedError):
        spec = None                   # a hand-written nn.Module: resumable, not loadable alone
    meta = {"format": FORMAT, "version": VERSION, "model": spec, "epoch": epoch,
            "history": history, "optimizer": type(optimizer).__name__,
            "param_groups": opt["param_groups"], "optim_scalars": scalars}
    write_tensors(Path(path), tensors, {"rnnkit": json.dumps(meta)})


def _read(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors, raw = read_tensors(path)
    try:
        meta = json.loads(raw["rnnkit"])
    except (KeyError, json.JSONDecodeError):
        raise ValueError(f"{path} is a safetensors file but not an rnnkit checkpoint") from None
    _check_header(meta, FORMAT, str(path))
    return tensors, meta


def load_checkpoint(path: str | Path, model: torch.nn.Module,
                    optimizer: torch.optim.Optimizer, shuffle_rng: torch.Generator
                    ) -> tuple[int, dict[str, list]]:
    """Restore model, optimizer and RNG states; return (epochs done, history)."""
    path = Path(path)
    tensors, meta = _read(path)
    if meta["optimizer"] != type(optimizer).__name__:
        raise ValueError(f"{path} was written with optimizer {meta['optimizer']}, "
                         f"this run uses {type(optimizer).__name__}")
    weights = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
    load_state_checked(model, weights, str(path))
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, pid, name = key.split(".", 2)
            state.setdefault(int(pid), {})[name] = value
    for pid, values in meta["optim_scalars"].items():
        state.setdefault(int(pid), {}).update(values)
    try:
        optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    except (ValueError, KeyError) as err:
        raise ValueError(f"{path}: optimizer state does not fit this model ({err})") from None
    torch.set_rng_state(tensors["rng.torch"])
    shuffle_rng.set_state(tensors["rng.shuffle"])
    return int(meta["epoch"]), meta["history"]


def load_model_from_checkpoint(path: Path) -> torch.nn.Module:
    tensors, meta = _read(path)
    if meta.get("model") is None:
        raise ValueError(f"{path} holds the weights of a hand-written module without a config; "
                         "build the module and resume training into it instead")
    model = deserialize(meta["model"])
    weights = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
    load_state_checked(model, weights, str(path))
    return model
