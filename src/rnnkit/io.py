"""Files read as data: safetensors tensor files and small JSON/text side files.

Writing is atomic: a temporary file in the same folder, flushed to disk, then renamed over
the target, so a crash leaves the old file or the new one, never half of one.  The file
gets the mode a plain ``open(path, "w")`` would give it: the replaced file's, or 0o666
less the umask for a new one (``tempfile`` alone would leave it 0600).

Reading trusts nothing in the file:

* side files (config, vocabulary, metadata, corpora) must be regular files under a size
  cap -- a symlink to /dev/zero, a FIFO or a folder is refused by name, and at most
  cap + 1 bytes are ever read;
* a safetensors file's header length is checked against the file size before the header
  is read, and the SHA-256 that ``write_tensors`` stores in its metadata (over each
  tensor's name, dtype, shape and bytes, in sorted name order) is verified; files written
  before checksums existed still load;
* ``check_finite`` refuses weights holding NaN or infinity, naming the file and tensor.

Shared by model folders (``rnnkit.saving``) and training checkpoints
(``rnnkit.training.checkpoint``): the format header check (``check_header``, one
``FORMAT_VERSION``), ``load_state_checked`` and ``in_stored_dtype``.

This module imports nothing from rnnkit: saving, checkpoints, tasks and the CLI use it.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import stat
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

__all__ = ["MAX_JSON_BYTES", "MAX_TEXT_BYTES", "MAX_HEADER_BYTES", "CHECKSUM_KEY",
           "FORMAT_VERSION", "write_bytes", "write_json", "open_checked", "read_bytes",
           "read_text", "read_json", "write_tensors", "read_tensors", "tensor_checksum",
           "check_finite", "check_header", "check_path", "check_built", "load_state_checked",
           "in_stored_dtype", "created_mode"]

MAX_JSON_BYTES = 8 << 20        # config.json, vocabularies, task metadata, --weights files
MAX_TEXT_BYTES = 256 << 20      # text corpora: sentence pairs, a --text file
MAX_HEADER_BYTES = 100 << 20    # a safetensors header (the safetensors library's own limit)
CHECKSUM_KEY = "rnnkit.sha256"  # safetensors metadata key of the tensors' SHA-256
FORMAT_VERSION = 1              # of model folders and checkpoints alike; bump both together

_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO"),
          (stat.S_ISSOCK, "a socket"))


# ---------------------------------------------------------------- writing
_UMASK_LOCK = threading.Lock()


def _umask() -> int:
    """The process umask, read without changing it where Linux shows it (4.7+)."""
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:     # os.umask can only be read by setting it: set, then put it back
        old = os.umask(0o077)     # restrictive while probed, should another thread create
        os.umask(old)
    return old


def created_mode(folder: bool = False) -> int:
    """The mode ``open(path, "w")`` (0o666) or ``mkdir`` (0o777) gives a new file or folder
    under the current umask."""
    return (0o777 if folder else 0o666) & ~_umask()


def _fsync_dir(folder: Path) -> None:
    try:                                  # makes the rename itself durable (POSIX only)
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _mode_for(path: Path) -> int:
    """What ``open(path, "w")`` would leave: the mode of the file it replaces, or the
    umask's for a new one.  Set after writing, so a read-only target is still replaced."""
    try:
        st = os.stat(path)
    except OSError:
        return created_mode()
    return stat.S_IMODE(st.st_mode) if stat.S_ISREG(st.st_mode) else created_mode()


@contextmanager
def _atomic(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success fsync it and rename it over."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, _mode_for(path))     # mkstemp made it 0600
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    # a process killed mid-write (SIGKILL runs no cleanup) left its temporary file; once a
    # write of the same file has landed, those are stale (one writer per file is assumed)
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        stale.unlink(missing_ok=True)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with _atomic(Path(path)) as tmp:
        tmp.write_bytes(data)


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented UTF-8 JSON, atomically; an object JSON cannot hold is a
    ValueError naming the file (nothing is written).  NaN is written as Python's json
    writes it (``NaN``), which ``read_json`` reads back."""
    try:
        text = json.dumps(obj, indent=2, ensure_ascii=False)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path}: cannot be written as JSON ({err})") from None
    write_bytes(path, text.encode("utf-8"))


# ---------------------------------------------------------------- side files
def _stat_checked(path: Path, what: str, max_bytes: int | None, st: os.stat_result) -> None:
    for test, kind in _KINDS:
        if test(st.st_mode):
            raise ValueError(f"{path}: expected {what} in a regular file, found {kind}")
    if not stat.S_ISREG(st.st_mode):
        raise ValueError(f"{path}: expected {what} in a regular file, found something else")
    if max_bytes is not None and st.st_size > max_bytes:
        raise ValueError(f"{path}: {what} is {st.st_size:,} bytes, over the {max_bytes:,}-byte "
                         "limit for such files")


@contextmanager
def open_checked(path: str | os.PathLike, what: str,
                 max_bytes: int | None = MAX_JSON_BYTES) -> Iterator[BinaryIO]:
    """Open a regular file of at most ``max_bytes`` for binary reading, or raise ValueError.

    Opened without blocking and checked on the open descriptor, so a FIFO or a device
    swapped in after a first look is refused as well."""
    path = Path(path)
    try:
        _stat_checked(path, what, max_bytes, os.stat(path))
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file (expected {what})") from None
    except OSError as err:
        raise ValueError(f"{path}: cannot read {what} ({err.strerror or err})") from None
    try:
        _stat_checked(path, what, max_bytes, os.fstat(fd))
        f = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with f:
        yield f


def read_bytes(path: str | os.PathLike, what: str, max_bytes: int = MAX_JSON_BYTES) -> bytes:
    """The bytes of a regular file of at most ``max_bytes`` (never more are read)."""
    with open_checked(path, what, max_bytes) as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:                     # it grew after the size check
        raise ValueError(f"{path}: {what} is over the {max_bytes:,}-byte limit for such files")
    return data


def read_text(path: str | os.PathLike, what: str, max_bytes: int = MAX_JSON_BYTES) -> str:
    """A regular UTF-8 text file of at most ``max_bytes``."""
    data = read_bytes(path, what, max_bytes)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: expected {what} as UTF-8 text, found byte "
                         f"0x{data[err.start]:02x} at offset {err.start}") from None


def read_json(path: str | os.PathLike, what: str, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """A regular UTF-8 JSON file of at most ``max_bytes``, parsed."""
    text = read_text(path, what, max_bytes)

    def pairs(items: list) -> dict:
        seen = {}
        for key, value in items:
            if key in seen:
                raise ValueError(f"{path}: key {key!r} appears twice in one object (expected "
                                 f"{what}); which one counts would be a guess")
            seen[key] = value
        return seen

    try:
        return json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON (expected {what}): {err}") from None
    except RecursionError:
        raise ValueError(f"{path} is not valid JSON (expected {what}): nested too "
                         "deeply") from None


# ---------------------------------------------------------------- tensors
def tensor_checksum(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 (hex) over each tensor's name, dtype, shape and bytes, in sorted name order."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        head = json.dumps([name, str(t.dtype), list(t.shape), t.numel() * t.element_size()])
        h.update(head.encode("utf-8"))
        if t.numel():
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def write_tensors(path: str | os.PathLike, tensors: dict[str, torch.Tensor],
                  metadata: dict[str, str] | None = None) -> None:
    """Write a safetensors file atomically, with the tensors' SHA-256 in its metadata."""
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    meta = {**(metadata or {}), CHECKSUM_KEY: tensor_checksum(tensors)}
    with _atomic(Path(path)) as tmp:
        save_file(tensors, tmp, metadata=meta)


def _describe_foreign(head: bytes) -> str:
    if head.startswith(b"PK"):
        return " (it is a zip archive, e.g. a torch.save pickle; rnnkit never unpickles)"
    if head[:1] == b"\x80":
        return " (it looks like a Python pickle; rnnkit never unpickles)"
    return ""


def _header(path: Path) -> dict[str, Any]:
    """The safetensors header, after checking its length field against the file size."""
    with open_checked(path, "a safetensors file", None) as f:
        size = os.fstat(f.fileno()).st_size
        first = f.read(8)
        if len(first) < 8:
            raise ValueError(f"{path} is not a readable safetensors file"
                             f"{_describe_foreign(first)}: {size} bytes, shorter than the "
                             "8-byte header length")
        n = int.from_bytes(first, "little")
        if n > size - 8 or n > MAX_HEADER_BYTES:
            raise ValueError(f"{path} is not a readable safetensors file"
                             f"{_describe_foreign(first)}: the header length field says "
                             f"{n:,} bytes, the file holds {size - 8:,} after it (truncated, or "
                             "not a safetensors file)")
        raw = f.read(n)
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise ValueError(f"{path} is not a readable safetensors file: its header is not "
                         f"JSON ({err})") from None
    if not isinstance(header, dict):
        raise ValueError(f"{path} is not a readable safetensors file: its header is not "
                         "a JSON object")
    data = size - 8 - n
    for name, entry in header.items():
        if name == "__metadata__":
            if not isinstance(entry, dict):
                raise ValueError(f"{path}: safetensors metadata must be a JSON object")
            continue
        offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(isinstance(o, int) and 0 <= o <= data for o in offsets)):
            raise ValueError(f"{path} is not a readable safetensors file: tensor {name!r} "
                             f"has data offsets {offsets!r} outside the {data:,}-byte data "
                             "section (truncated?)")
    return header


def read_tensors(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Read a safetensors file and verify its checksum (when it has one).

    Returns (tensors, metadata without the checksum).  A missing, truncated, foreign or
    altered file raises ValueError naming it."""
    path = Path(path)
    header = _header(path)
    try:
        tensors = load_file(path)
    except (SafetensorError, OSError, RuntimeError, ValueError) as err:
        raise ValueError(f"{path} is not a readable safetensors file: {err}") from None
    meta = dict(header.get("__metadata__") or {})
    expected = meta.pop(CHECKSUM_KEY, None)
    if expected is not None and expected != tensor_checksum(tensors):
        raise ValueError(f"{path}: checksum mismatch: the file was changed or corrupted "
                         "after rnnkit wrote it")
    return tensors, meta


def check_finite(tensors: dict[str, torch.Tensor], source: str) -> None:
    """Refuse floating-point tensors holding NaN or infinity, naming ``source`` and the tensor."""
    for name in sorted(tensors):
        t = tensors[name]
        if (t.is_floating_point() or t.is_complex()) and t.numel():
            bad = int((~torch.isfinite(t)).sum())
            if bad:
                raise ValueError(f"{source}: tensor {name!r} holds {bad} NaN or infinite "
                                 f"value(s) of {t.numel()}; these are not usable weights")



def check_header(meta: dict[str, Any], expected: str, source: str) -> None:
    """Refuse metadata whose ``format`` is not ``expected`` or whose ``version`` is not
    ``FORMAT_VERSION``, naming ``source``."""
    if meta.get("format") != expected:
        raise ValueError(f"{source} is not an {expected} file (format={meta.get('format')!r})")
    if meta.get("version") != FORMAT_VERSION:
        raise ValueError(f"{source} has format version {meta.get('version')!r}; this rnnkit "
                         f"reads version {FORMAT_VERSION}")


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


def in_stored_dtype(model: torch.nn.Module, tensors: dict[str, torch.Tensor]) -> None:
    """Move a freshly built model to the floating dtype its saved weights have (a float64
    model comes back float64), when they all share one."""
    kinds = {v.dtype for v in tensors.values() if v.is_floating_point()}
    if len(kinds) == 1:
        model.to(kinds.pop())


def check_built(model: torch.nn.Module) -> None:
    """Refuse a model with a layer whose sizes are not known yet (``built`` is False)."""
    for m in model.modules():
        if getattr(m, "built", True) is False:
            raise ValueError(f"{type(m).__name__} is not built yet: call the model on data "
                             "once (or give input_size=) before saving")


# ---------------------------------------------------------------- paths
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
