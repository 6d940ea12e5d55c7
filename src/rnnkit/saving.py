"""Save and load models without pickle.

A saved model is a folder::

    config.json          {"format": "rnnkit-model", "version": 1, "model": {"class", "config"},
                          "files": [the files this save wrote]}
    weights.safetensors  the state_dict, with its SHA-256 in the metadata
    NAME.json            the ``extra`` side files (vocabulary, scaler, task settings)

``save`` never deletes or replaces what it did not write: a new folder is written beside
the target and renamed into place; over an existing rnnkit model folder it replaces only
its own files, one atomic rename each, and other files there stay.  A file, or a non-empty
folder that is not an rnnkit model folder, is refused unless ``overwrite=True``.

Loading reads JSON and safetensors only (nothing executes; see ``rnnkit.io``), checks the
config against size limits before anything is allocated, builds only registered classes,
checks every key, shape and checksum, refuses NaN/inf weights, and names what is wrong.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch

from .io import (
    check_finite,
    created_mode,
    read_json,
    read_tensors,
    tensor_checksum,
    write_json,
    write_tensors,
)
from .registry import deserialize, serialize

__all__ = ["save", "load", "write_tensors", "read_tensors", "load_state_checked"]

FORMAT, VERSION = "rnnkit-model", 1
CONFIG, WEIGHTS = "config.json", "weights.safetensors"
_EXTRA_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def load_state_checked(module: torch.nn.Module, tensors: dict[str, torch.Tensor],
                       source: str) -> None:
    """Copy ``tensors`` into ``module`` after checking names and shapes exactly and that
    every value is finite."""
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
        if value.is_floating_point() != own[name].is_floating_point():
            raise ValueError(f"{source}: {name} is stored as {value.dtype}, the model "
                             f"holds {own[name].dtype} there")
    check_finite(tensors, source)
    module.load_state_dict({k: v.to(own[k].dtype) for k, v in tensors.items()})


def _check_built(model: torch.nn.Module) -> None:
    for m in model.modules():
        if getattr(m, "built", True) is False:
            raise ValueError(f"{type(m).__name__} is not built yet: call the model on data "
                             "once (or give input_size=) before saving")


def model_spec(model: torch.nn.Module) -> dict[str, Any]:
    _check_built(model)
    return serialize(model)


def _is_model_folder(folder: Path) -> dict[str, Any] | None:
    """The config.json of an rnnkit model folder, or None when it is not one."""
    try:
        meta = read_json(folder / CONFIG, "an rnnkit model config")
    except ValueError:
        return None
    return meta if isinstance(meta, dict) and meta.get("format") == FORMAT else None


def _path(path: Any, who: str) -> Path:
    if not isinstance(path, (str, os.PathLike)) or str(path) == "":
        raise TypeError(f"{who} takes a folder path (str or os.PathLike), got {path!r}")
    return check_path(Path(path), f"the {who} path")


def check_path(path: Path, what: str) -> Path:
    """Refuse, before any work, a path no folder can be made at: a NUL byte, a part longer
    than the file system allows, or a file where a parent folder must be."""
    if "\x00" in str(path):
        raise ValueError(f"{what} {str(path)!r} holds a NUL byte")
    if any(len(os.fsencode(part)) > 255 for part in path.parts):
        raise ValueError(f"{what} {path}: a name in it is longer than 255 bytes")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(f"{what} {path}: {parent} is a file, not a folder")
            break
    return path


def check_target(target: Path, own: bool, what: str, overwrite: bool = False) -> None:
    """Refuse to save into ``target`` when that could replace what rnnkit did not write: a
    file, or a non-empty folder that is not ``own`` (not ``what``) unless ``overwrite``."""
    if os.path.lexists(target) and not target.is_dir():
        raise ValueError(f"{target} is a file, not a model folder; choose a folder path "
                         "(rnnkit does not replace files it did not write)")
    if target.is_dir() and not own and any(target.iterdir()) and not overwrite:
        raise ValueError(f"{target} is a non-empty folder that is not {what}; save into a "
                         "new or empty folder, or pass overwrite=True to replace only the "
                         "files rnnkit writes")


def save(model: torch.nn.Module, path: str | os.PathLike, extra: dict[str, Any] | None = None,
         overwrite: bool = False) -> None:
    """Save ``model`` as a folder; ``extra`` JSON files (name -> object) go beside it.

    Only the files it writes are replaced; a file at ``path``, or a non-empty folder that
    is not an rnnkit model folder, is refused unless ``overwrite=True`` (which still keeps
    the other files there)."""
    target = _path(path, "save")
    if not isinstance(overwrite, bool):
        raise TypeError(f"overwrite must be True or False, got {overwrite!r}")
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"save takes an nn.Module, got {type(model).__name__}")
    spec = model_spec(model)
    # a model that could not be loaded back is not saved: load refuses NaN/inf weights
    check_finite(dict(model.state_dict()), f"the model given to save ({target})")
    extra = dict(extra or {})
    for name in extra:
        if not isinstance(name, str) or not _EXTRA_NAME.match(name) or \
                f"{name}.json" in (CONFIG, WEIGHTS):
            raise ValueError(f"extra file name {name!r}: use letters, digits, '_', '-' or "
                             "'.', not config/weights")
    for name, obj in extra.items():            # before anything is written
        try:
            json.dumps(obj)
        except (TypeError, ValueError) as err:
            raise ValueError(f"extra[{name!r}] cannot be written as JSON ({err})") from None
    files = [WEIGHTS, *(f"{name}.json" for name in extra), CONFIG]
    state = model.state_dict()
    config = {"format": FORMAT, "version": VERSION, "model": spec, "files": files,
              "weights_sha256": tensor_checksum(state)}   # these weights, not another's
    old = _is_model_folder(target) if target.is_dir() else None
    check_target(target, old is not None, f"an rnnkit model folder (no valid {CONFIG})",
                 overwrite)

    def write_all(folder: Path) -> None:
        write_tensors(folder / WEIGHTS, state, {"format": FORMAT})
        for name, obj in extra.items():
            write_json(folder / f"{name}.json", obj)
        write_json(folder / CONFIG, config)              # last: the folder is whole again

    if target.is_dir():                                  # each file replaced atomically
        write_all(target)
        stale = (old or {}).get("files") or []           # rnnkit's own files of the last save
        for name in stale if isinstance(stale, list) else []:
            if isinstance(name, str) and _EXTRA_NAME.match(name) and name.endswith(".json") \
                    and name not in files:
                (target / name).unlink(missing_ok=True)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.tmp"))
    try:
        os.chmod(tmp, created_mode(folder=True))         # mkdtemp made it 0700; mkdir would not
        write_all(tmp)
        os.replace(tmp, target)                          # a fresh target: one rename
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
    path = _path(path, "load")
    if path.name == CONFIG and path.is_file():
        raise ValueError(f"{path}: pass the model folder ({path.parent}), not its {CONFIG}")
    if path.is_file():
        from .training.checkpoint import load_model_from_checkpoint
        return load_model_from_checkpoint(path)
    if not path.is_dir():
        raise ValueError(f"{path}: no saved model there (expected a folder with {CONFIG})")
    meta = read_json(path / CONFIG, "an rnnkit model config")
    if not isinstance(meta, dict):
        raise ValueError(f"{path / CONFIG} must hold a JSON object")
    _check_header(meta, FORMAT, str(path / CONFIG))
    if "model" not in meta:
        raise ValueError(f"{path / CONFIG} lacks 'model' (the model's class and config)")
    model = deserialize(meta["model"], str(path / CONFIG))
    tensors, _ = read_tensors(path / WEIGHTS)
    in_stored_dtype(model, tensors)
    load_state_checked(model, tensors, str(path / WEIGHTS))    # names, shapes, NaN first
    want = meta.get("weights_sha256")
    if want is not None and tensor_checksum(tensors) != want:
        raise ValueError(f"{path / WEIGHTS} is not the weights file {path / CONFIG} was saved "
                         "with (their SHA-256 differ): the folder mixes two saves")
    return model


def in_stored_dtype(model: torch.nn.Module, tensors: dict[str, torch.Tensor]) -> None:
    """Move a freshly built model to the floating dtype its saved weights have (a float64
    model comes back float64), when they all share one."""
    kinds = {v.dtype for v in tensors.values() if v.is_floating_point()}
    if len(kinds) == 1:
        model.to(kinds.pop())
