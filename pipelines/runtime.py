"""Starting or attaching to Ray, decided explicitly.

``ray.init()`` with no address attaches to whatever it finds, including the stale address of a
head that died without ``ray stop``. pagemill attaches only when told to (``--address`` or
``RAY_ADDRESS``, which ``ray job submit`` sets) and otherwise starts a private local instance.
"""

from __future__ import annotations

import logging
import os

import ray

LOCAL_OBJECT_STORE_FRACTION = 0.2


def ensure_ray(address: str | None = None, num_cpus: int | None = None) -> bool:
    """Make sure Ray is up; returns True when this call started it (and should shut it down)."""
    if ray.is_initialized():
        return False
    target = address or os.environ.get("RAY_ADDRESS")
    common = {"logging_level": logging.WARNING, "log_to_driver": True}
    if target:
        ray.init(address=target, **common)
    else:
        ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, **common)
    return True


def cluster_cpus() -> float:
    return float(ray.cluster_resources().get("CPU", 0.0))
