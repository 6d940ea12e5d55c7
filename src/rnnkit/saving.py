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
``rnnkit.load`` (``rnnkit.model.load``) reads these folders and training checkpoints too;
this module knows nothing of training.
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
    FORMAT_VERSION,
    check_built,
    check_finite,
    check_header,
    check_path,
    created_mode,
    in_stored_dtype,
    load_state_checked,
    read_json,
    read_tensors,
    tensor_checksum,
    write_json,
    write_tensors,
)
from .registry import deserialize, serialize

# check_path, write_tensors, read_tensors, load_state_checked: rnnkit.io's, kept here too
__all__ = ["save", "load", "model_spec", "checked_path", "check_target", "check_path",
           "write_tensors", "read_tensors", "load_state_checked"]

FORMAT, VERSION = "rnnkit-model", FORMAT_VERSION
CONFIG, WEIGHTS = "config.json", "weights.safetensors"
_EXTRA_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def model_spec(model: torch.nn.Module) -> dict[str, Any]:
    """The ``{"class", "config"}`` a saved config.json holds for ``model`` (built first)."""
    check_built(model)
    return serialize(model)


def _is_model_folder(folder: Path) -> dict[str, Any] | None:
    """The config.json of an rnnkit model folder, or None when it is not one."""
    try:
        meta = read_json(folder / CONFIG, "an rnnkit model config")
    except ValueError:
        return None
    return meta if isinstance(meta, dict) and meta.get("format") == FORMAT else None


def checked_path(path: Any, who: str) -> Path:
    """``path`` as a Path, after the type and ``check_path`` checks; ``who`` is save or load."""
    if not isinstance(path, (str, os.PathLike)) or str(path) == "":
        raise TypeError(f"{who} takes a folder path (str or os.PathLike), got {path!r}")
    return check_path(Path(path), f"the {who} path")


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
    target = checked_path(path, "save")
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


def load(path: str | os.PathLike) -> torch.nn.Module:
    """Load a model folder written by ``save`` (``rnnkit.load`` also reads checkpoints)."""
    path = checked_path(path, "load")
    if path.name == CONFIG and path.is_file():
        raise ValueError(f"{path}: pass the model folder ({path.parent}), not its {CONFIG}")
    if path.is_file():
        raise ValueError(f"{path} is a file; a saved model is a folder (a training "
                         "checkpoint loads with rnnkit.load)")
    if not path.is_dir():
        raise ValueError(f"{path}: no saved model there (expected a folder with {CONFIG})")
    meta = read_json(path / CONFIG, "an rnnkit model config")
    if not isinstance(meta, dict):
        raise ValueError(f"{path / CONFIG} must hold a JSON object")
    check_header(meta, FORMAT, str(path / CONFIG))
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

