"""Building the fused engine's C++ step kernels on first use, with a cached build.

``kernels()`` returns the compiled module, or None when it cannot be had (no compiler,
no ninja, ``RNNKIT_NO_EXT=1``); ``status()`` says which, for ``summary()`` and ``bench``.
The build goes to ``$RNNKIT_CACHE`` (default ``~/.cache/rnnkit``), keyed by the source's
hash, the torch version and the CPU (the code is built for this CPU), so it compiles once
per machine (about 30-60 s on 2 cores).  ``RNNKIT_SANITIZE=address`` builds them with
AddressSanitizer instead (``make sanitize``; the process needs libasan preloaded).
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
import warnings
from importlib import resources
from pathlib import Path

import torch

__all__ = ["kernels", "status"]

_lock = threading.Lock()
_state: dict[str, object] = {}
FUNCTIONS = ["lstm_fwd_step", "lstm_bwd_step", "peephole_fwd_step", "peephole_bwd_step",
             "gru_fwd_step", "gru_bwd_step", "lnlstm_fwd_step", "lnlstm_bwd_step",
             "ln_bwd_rows", "simple_seq_fwd", "simple_seq_bwd", "train_step", "apply_update"]


def _build():
    if os.environ.get("RNNKIT_NO_EXT"):
        raise RuntimeError("disabled by RNNKIT_NO_EXT")
    files = resources.files("rnnkit.engines")
    from .codes import cpp_constants
    csrc = files.joinpath("csrc")
    # one translation unit: the codes table, the per-element math, the step kernels and the
    # training step (gates.h is inlined here rather than #included: load_inline compiles
    # the text in a build folder of its own)
    source = cpp_constants() + "\n".join(
        csrc.joinpath(name).read_text() for name in ("gates.h", "kernels.cpp", "train.cpp"))
    sanitize = os.environ.get("RNNKIT_SANITIZE", "")      # "address": see `make sanitize`
    if sanitize not in ("", "address"):
        raise RuntimeError(f"RNNKIT_SANITIZE must be 'address' or unset, got {sanitize!r}")
    key = hashlib.sha256((source + torch.__version__ + _cpu_id() + sanitize).encode()
                         ).hexdigest()[:12]
    root = Path(os.environ.get("RNNKIT_CACHE", Path.home() / ".cache" / "rnnkit"))
    build_dir = root / f"fused-{key}"
    build_dir.mkdir(parents=True, exist_ok=True)
    if not any(build_dir.glob("*.so")):      # a long first step deserves a word
        print(f"rnnkit: compiling the fused engine's C++ kernels for this CPU, once "
              f"(about a minute; cached in {build_dir})", file=sys.stderr, flush=True)
    from torch.utils.cpp_extension import load_inline
    # pip's ninja lives beside this Python (a venv's bin/), which need not be on PATH
    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    cflags = ["-O3", "-ffast-math", "-march=native", "-fopenmp-simd"]
    ldflags = ["-lmvec", "-lm"]
    if sanitize:     # every out-of-bounds read or write aborts with a report
        cflags += ["-fsanitize=address", "-fno-omit-frame-pointer", "-g"]
        ldflags += ["-fsanitize=address"]
    return load_inline(f"rnnkit_fused_{key}", cpp_sources=source, functions=FUNCTIONS,
                       extra_cflags=cflags, extra_ldflags=ldflags,
                       build_directory=str(build_dir), verbose=False)


def _cpu_id() -> str:
    """-march=native code must never run on another CPU: the CPU is part of the cache key."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        import platform
        return platform.processor() + platform.machine()
    keep = [ln for ln in lines if ln.startswith(("model name", "flags"))][:2]
    return "\n".join(keep)


def kernels():
    """The compiled kernels, or None (then the fused engine runs in PyTorch ops)."""
    with _lock:
        if "module" not in _state:
            try:
                with warnings.catch_warnings():       # compiler chatter is not our business
                    warnings.simplefilter("ignore")
                    _state["module"], _state["status"] = _build(), "C++ step kernels"
            except Exception as err:  # noqa: BLE001 -- any failure means: use the fallback
                _state["module"] = None
                _state["status"] = f"PyTorch ops (C++ kernels unavailable: {str(err)[:120]})"
        return _state["module"]


def status() -> str:
    kernels()
    return str(_state["status"])
