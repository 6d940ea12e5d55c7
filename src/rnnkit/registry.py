"""Names of the classes a saved config may name, so loading builds objects without pickle.

``serialize(obj)`` gives ``{"class": name, "config": obj.get_config()}``; ``deserialize``
builds it back, but only for classes registered here, so a config file can never make
rnnkit construct an arbitrary object.
"""

from __future__ import annotations

from typing import Any

__all__ = ["register_serializable", "serialize", "deserialize"]

_REGISTRY: dict[str, type] = {}


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


def deserialize(spec: Any) -> Any:
    if not isinstance(spec, dict) or set(spec) != {"class", "config"}:
        raise ValueError(f"expected {{'class': ..., 'config': ...}}, got {spec!r:.120}")
    cls = _REGISTRY.get(spec["class"])
    if cls is None:
        raise ValueError(
            f"unknown class {spec['class']!r} in config; known: {sorted(_REGISTRY)}"
        )
    if hasattr(cls, "from_config"):
        return cls.from_config(spec["config"])
    return cls(**spec["config"])
