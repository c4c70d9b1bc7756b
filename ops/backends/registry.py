"""Backends by name. The CLI's ``--backend`` choices come from here."""

from __future__ import annotations

from typing import TypeVar

from ops.backends.base import Backend

B = TypeVar("B", bound=type[Backend])
_REGISTRY: dict[str, type[Backend]] = {}


def register(cls: B) -> B:
    name = cls.name
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise ValueError(f"backend name {name!r} is already registered by {_REGISTRY[name]!r}")
    _REGISTRY[name] = cls
    return cls


def backend_class(name: str) -> type[Backend]:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown backend {name!r}; known: {', '.join(names())}") from None


def names() -> list[str]:
    return sorted(_REGISTRY)


def create(name: str, options: dict[str, str] | None = None) -> Backend:
    return backend_class(name)(**(options or {}))
