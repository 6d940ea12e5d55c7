"""Save and load models without pickle.

A saved model is a folder::

    config.json          {"format": "rnnkit-model", "version": 1, "model": {"class", "config"}}
    weights.safetensors  the state_dict

Both are written into a temporary folder beside the target, which is then renamed into
place, so a crash never leaves a half-written model.  Loading reads JSON and safetensors
only (nothing executes), builds the model from registered classes, and checks every key
and shape, naming what is wrong.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .registry import deserialize, serialize

__all__ = ["save", "load", "write_tensors", "read_tensors", "load_state_checked"]

FORMAT, VERSION = "rnnkit-model", 1
CONFIG, WEIGHTS = "config.json", "weights.safetensors"


def write_tensors(path: Path, tensors: dict[str, torch.Tensor],
                  metadata: dict[str, str] | None = None) -> None:
    """Write a safetensors file atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, tmp,
                  metadata=metadata)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _describe_foreign(path: Path) -> str:
    head = path.read_bytes()[:4] if path.is_file() else b""
    if head.startswith(b"PK") and zipfile.is_zipfile(path):
        return " (it is a zip archive, e.g. a torch.save pickle; rnnkit never unpickles)"
    if head[:1] == b"\x80":
        return " (it looks like a Python pickle; rnnkit never unpickles)"
    return ""


def read_tensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Read a safetensors file; a missing, truncated or foreign file raises ValueError."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    try:
        tensors = load_file(path)
        with open(path, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            header = json.loads(f.read(n))
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise ValueError(f"{path} is not a readable safetensors file{_describe_foreign(path)}: "
                         f"{err}") from None
    return tensors, dict(header.get("__metadata__") or {})


def load_state_checked(module: torch.nn.Module, tensors: dict[str, torch.Tensor],
                       source: str) -> None:
    """Copy ``tensors`` into ``module`` after checking names and shapes exactly."""
    own = module.state_dict()
    missing, unexpected = sorted(set(own) - set(tensors)), sorted(set(tensors) - set(own))
    if missing or unexpected:
        raise ValueError(f"{source} does not match the model: missing {missing[:5]}"
                         f"{'...' if len(missing) > 5 else ''}, unexpected {unexpected[:5]}"
                         f"{'...' if len(unexpected) > 5 else ''}")
    for name, value in tensors.items():
        if value.shape != own[name].shape:
            raise ValueError(f"{source}: {name} has shape {tuple(value.shape)}, "
                             f"the model expects {tuple(own[name].shape)}")
    module.load_state_dict({k: v.to(own[k].dtype) for k, v in tensors.items()})


def _check_built(model: torch.nn.Module) -> None:
    for m in model.modules():
        if getattr(m, "built", True) is False:
            raise ValueError(f"{type(m).__name__} is not built yet: call the model on data "
                             "once (or give input_size=) before saving")


def model_spec(model: torch.nn.Module) -> dict[str, Any]:
    _check_built(model)
    return serialize(model)


def save(model: torch.nn.Module, path: str | os.PathLike, extra: dict[str, Any] | None = None):
    """Save ``model`` as a folder; ``extra`` JSON files (name -> object) go beside it."""
    target = Path(path)
    spec = model_spec(model)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.tmp"))
    try:
        (tmp / CONFIG).write_text(json.dumps(
            {"format": FORMAT, "version": VERSION, "model": spec}, indent=2))
        write_tensors(tmp / WEIGHTS, model.state_dict(), {"format": FORMAT})
        for name, obj in (extra or {}).items():
            (tmp / f"{name}.json").write_text(json.dumps(obj, indent=2))
        old = None
        if target.exists():
            old = target.with_name(f".{target.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _check_header(meta: dict[str, Any], expected: str, source: str) -> None:
    if meta.get("format") != expected:
        raise ValueError(f"{source} is not an {expected} file (format={meta.get('format')!r})")
    if meta.get("version") != VERSION:
        raise ValueError(f"{source} has format version {meta.get('version')!r}; this rnnkit "
                         f"reads version {VERSION}")


def load(path: str | os.PathLike) -> torch.nn.Module:
    """Load a model saved by ``save`` (a folder) or a training checkpoint (.safetensors)."""
    path = Path(path)
    if path.is_file():
        from .training.checkpoint import load_model_from_checkpoint
        return load_model_from_checkpoint(path)
    if not path.is_dir():
        raise ValueError(f"{path}: no saved model there (expected a folder with {CONFIG})")
    if not (path / CONFIG).is_file():
        raise ValueError(f"{path} is not an rnnkit model folder: {CONFIG} is missing")
    try:
        meta = json.loads((path / CONFIG).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path / CONFIG} is not valid JSON: {err}") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{path / CONFIG} must hold a JSON object")
    _check_header(meta, FORMAT, str(path / CONFIG))
    try:
        model = deserialize(meta["model"])
    except (KeyError, TypeError) as err:
        raise ValueError(f"{path / CONFIG}: invalid model config ({err})") from None
    tensors, _ = read_tensors(path / WEIGHTS)
    load_state_checked(model, tensors, str(path / WEIGHTS))
    return model
