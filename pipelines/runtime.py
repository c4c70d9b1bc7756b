"""Starting or attaching to Ray, decided explicitly.

``ray.init()`` with no address attaches to whatever it finds, including the stale address of a
head that died without ``ray stop``. pagemill attaches only when told to (``--address`` or
``RAY_ADDRESS``, which ``ray job submit`` sets) and otherwise starts a private local instance.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import ray

from pipelines import ray_auth


class ClusterUnreachable(ConnectionError):
    """``--address``/``RAY_ADDRESS`` named a cluster this process could not join."""


def ensure_ray(
    address: str | None = None,
    num_cpus: int | None = None,
    num_gpus: float | None = None,
    metrics_port: int | None = None,
) -> bool:
    """Make sure Ray is up; returns True when this call started it (and should shut it down).

    A local Ray detects the machine's GPUs itself; ``num_gpus`` overrides that (it also lets a
    CPU machine advertise logical GPUs, which is how GPU scheduling is tested without one)."""
    if ray.is_initialized():
        return False
    target = address or os.environ.get("RAY_ADDRESS")
    common = {"logging_level": logging.WARNING, "log_to_driver": True}
    if metrics_port is not None and not target:  # a cluster's own agents export its metrics
        common["_metrics_export_port"] = metrics_port
    with _keeping_sigterm_handler():
        _init(target, num_cpus, num_gpus, common)
    return True


@contextmanager
def _keeping_sigterm_handler() -> Iterator[None]:
    """The driver's ``ray.init`` installs a native SIGTERM handler that exits with status 15 at
    once; a Python handler set before (the CLI's, which records the run as interrupted and
    prints the resume command) is put back."""
    handler = signal.getsignal(signal.SIGTERM)
    try:
        yield
    except SystemExit as exc:
        # A SIGTERM while Ray starts meets Ray's own handlers, which stop what they started
        # and raise SystemExit (15, or 1 once the node is up): to the caller it is the same
        # interruption as a SIGTERM a moment later.
        if callable(handler) and _raised_by_ray_signal_handler(exc):
            raise KeyboardInterrupt("signal SIGTERM") from None
        raise
    finally:
        if callable(handler) and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, handler)


def _raised_by_ray_signal_handler(exc: BaseException) -> bool:
    trace = exc.__traceback__
    while trace is not None and trace.tb_next is not None:
        trace = trace.tb_next
    if trace is None:
        return False
    frame = trace.tb_frame
    return frame.f_code.co_name == "sigterm_handler" and frame.f_globals.get(
        "__name__", ""
    ).startswith("ray.")


def _init(
    target: str | None, num_cpus: int | None, num_gpus: float | None, common: dict[str, Any]
) -> None:
    if target:
        mode = ray_auth.prepare_client()
        try:
            ray.init(address=target, **common)
        except ConnectionError as exc:
            raise ClusterUnreachable(_unreachable(target, mode, exc)) from exc
    else:
        with ray_auth.quiet_local_setup():
            ray.init(
                address="local",
                num_cpus=num_cpus,
                num_gpus=None if num_gpus is None else math.ceil(num_gpus),
                include_dashboard=False,
                **common,
            )


def _unreachable(target: str, mode: str, exc: BaseException) -> str:
    """Ray only says it could not connect; name the two causes a user can act on."""
    cause = f"cannot join the Ray cluster at {target} ({exc})"
    if mode == "token":
        return f"{cause}: is the head up at that address, and is this the head's token?"
    return f"{cause}: is the head up at that address? If it has token authentication on, " + (
        ray_auth.HOW_TO
    )


def this_node() -> str:
    """The machine a worker runs on, as rows record it: its host name and Ray node id (several
    nodes can share a host), e.g. ``ip-10-0-1-5/3f2a9c1b0d4e``."""
    import socket

    node_id = ray.get_runtime_context().get_node_id() if ray.is_initialized() else None
    return f"{socket.gethostname()}/{node_id[:12]}" if node_id else socket.gethostname()


def cluster_cpus() -> float:
    return float(ray.cluster_resources().get("CPU", 0.0))


def job_gpus(requested: float | None) -> float:
    """GPUs the job may use: ``--gpus`` if given (and available), else all the cluster has."""
    available = float(ray.cluster_resources().get("GPU", 0.0))
    if requested is None:
        return available
    if requested < 0:
        raise ValueError(f"--gpus must be 0 or more, not {requested:g}")
    if requested > available:
        raise ValueError(
            f"--gpus {requested:g} but the Ray cluster advertises {available:g} GPU(s)"
        )
    return requested
