"""Names of the classes a saved config may name, so loading builds objects without pickle.

``serialize(obj)`` gives ``{"class": name, "config": obj.get_config()}``; ``deserialize``
builds it back, but only for classes registered here, so a config file can never make
rnnkit construct an arbitrary object.

Before anything is built, the whole config is checked against sane limits, so a file
cannot make rnnkit allocate without bound: every class it names is registered; every size
field is a non-negative int no larger than ``MAX_UNITS`` (unit-like fields) or
``MAX_VOCAB`` (vocabulary-like fields); and the estimated parameter count stays within
``MAX_PARAMS``.  Errors name the file, the field and the value.
"""

from __future__ import annotations

import contextvars
from typing import Any

from ._checks import MAX_UNITS, MAX_VOCAB

__all__ = ["register_serializable", "serialize", "deserialize", "check_spec", "check_size",
           "MAX_UNITS", "MAX_VOCAB", "MAX_PARAMS"]

# MAX_UNITS caps units, hidden_size, input_size, output_dim (features per step); MAX_VOCAB
# input_dim and other vocabulary sizes (rows of an embedding table): the constructors' caps
MAX_PARAMS = 1 << 30       # estimated parameters of a whole config (4 GiB in float32)

UNIT_FIELDS = frozenset({"units", "hidden_size", "input_size", "output_dim", "embedding",
                         "embedding_dim"})
VOCAB_FIELDS = frozenset({"input_dim", "vocab_size", "vocabulary_size", "max_tokens"})
_GATES = {"SimpleRNN": 1, "SimpleRNNCell": 1, "GRU": 3, "GRUCell": 3, "Dense": 1}

_REGISTRY: dict[str, type] = {}
_CHECKED = contextvars.ContextVar("rnnkit_spec_checked", default=False)


def register_serializable(cls: type) -> type:
    """Class decorator: allow ``cls`` in saved configs (it needs ``get_config``)."""
    name = cls.__name__
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise ValueError(f"a different class named {name!r} is already registered")
    _REGISTRY[name] = cls
    return cls


def serialize(obj: Any) -> dict[str, Any]:
    name = type(obj).__name__
    if _REGISTRY.get(name) is not type(obj):
        raise ValueError(
            f"{name} is not registered for saving; decorate it with "
            "@rnnkit.register_serializable and give it get_config()"
        )
    return {"class": name, "config": obj.get_config()}


def check_size(field: str, value: Any, where: str, path: str | None = None) -> int | None:
    """``value`` of the size field ``field`` (shown as ``path``), checked against its cap;
    None is allowed (a layer not built yet)."""
    if value is None:
        return None
    path = path or field
    cap, kind = (MAX_VOCAB, "MAX_VOCAB") if field in VOCAB_FIELDS else (MAX_UNITS, "MAX_UNITS")
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{where}: {path} must be a non-negative int, got {value!r}")
    if value > cap:
        raise ValueError(f"{where}: {path}={value} is over the limit {cap} "
                         f"(rnnkit.registry.{kind})")
    return value


def _estimate(cls: str, config: dict[str, Any]) -> int:
    """Parameters a node allocates itself (not its children): an upper-side estimate."""
    if isinstance(config.get("input_dim"), int) and isinstance(config.get("output_dim"), int):
        return config["input_dim"] * config["output_dim"]            # an embedding table
    h = config.get("hidden_size", config.get("units"))
    if not isinstance(h, int):
        return 0
    d = config.get("input_size")
    d = d if isinstance(d, int) else h                                # not built: guess H
    if cls == "Dense":
        return h * (d + 1)
    return _GATES.get(cls, 4) * h * (d + h + 2)


def _walk(spec: Any, where: str, path: str) -> int:
    """Check one spec node and everything under it; return its parameter estimate."""
    if not isinstance(spec, dict) or set(spec) != {"class", "config"}:
        raise ValueError(f"{where}: {path or 'the model'} must be {{'class': ..., "
                         f"'config': ...}}, got {spec!r:.120}")
    name, config = spec["class"], spec["config"]
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ValueError(f"{where}: unknown class {name!r} in config"
                         f"{' at ' + path if path else ''}; known: {sorted(_REGISTRY)}")
    if not isinstance(config, dict):
        raise ValueError(f"{where}: {path or 'the model'} ({name}) config must be a JSON "
                         f"object, got {type(config).__name__}")
    total = 0
    for key, value in config.items():
        here = f"{path}.{key}" if path else key
        if key in UNIT_FIELDS or key in VOCAB_FIELDS:
            check_size(key, value, where, here)
        elif isinstance(value, dict) and "class" in value:
            total += _walk(value, where, here)
        elif isinstance(value, list):
            for k, item in enumerate(value):
                if isinstance(item, dict) and "class" in item:
                    total += _walk(item, where, f"{here}[{k}]")
    own = _estimate(name, config)
    if name == "Bidirectional":
        total *= 2                                   # the wrapped layer, once per direction
    return total + own


def check_spec(spec: Any, where: str = "config") -> None:
    """Refuse unregistered classes, bad or oversized size fields and oversized models."""
    total = _walk(spec, where, "")
    if total > MAX_PARAMS:
        raise ValueError(f"{where}: the model would hold about {total:,} parameters, over the "
                         f"limit {MAX_PARAMS:,} (rnnkit.registry.MAX_PARAMS)")


def deserialize(spec: Any, source: str = "config") -> Any:
    """Build an object from ``serialize``'s output; ``source`` names the file in errors.

    The whole spec is checked once (``check_spec``) before anything is built."""
    if _CHECKED.get():                       # a nested call from a from_config
        return _build(spec)
    check_spec(spec, source)
    token = _CHECKED.set(True)
    try:
        return _build(spec)
    except (KeyError, TypeError) as err:
        raise ValueError(f"{source}: invalid model config ({type(err).__name__}: {err})") \
            from None
    except ValueError as err:
        raise ValueError(f"{source}: {err}") from None
    finally:
        _CHECKED.reset(token)


def _build(spec: Any) -> Any:
    if not isinstance(spec, dict) or set(spec) != {"class", "config"}:
        raise ValueError(f"expected {{'class': ..., 'config': ...}}, got {spec!r:.120}")
    cls = _REGISTRY.get(spec["class"]) if isinstance(spec["class"], str) else None
    if cls is None:
        raise ValueError(f"unknown class {spec['class']!r} in config; known: {sorted(_REGISTRY)}")
    if hasattr(cls, "from_config"):
        return cls.from_config(spec["config"])
    return cls(**spec["config"])
