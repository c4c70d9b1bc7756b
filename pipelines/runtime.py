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
    try:
        with _interrupts_held_while_ray_starts():
            _init(target, num_cpus, num_gpus, common)
    except KeyboardInterrupt:
        if ray.is_initialized():  # interrupted as it came up: leave nothing of it behind
            ray.shutdown()
        raise
    return True


@contextmanager
def _interrupts_held_while_ray_starts() -> Iterator[None]:
    """Ctrl-C and SIGTERM during ``ray.init`` end the run right after it, not inside it.

    Inside it, a signal's exception lands wherever the main thread is, which includes the
    logging module's after-fork hooks as Ray spawns its processes: Python prints "Exception
    ignored" there and carries on, and the run went to its end with exit 0 (seen in CI, both
    with Ctrl-C and with Ray's own SIGTERM handler, which raises SystemExit). So both signals
    are only noted while Ray starts; so is the SIGTERM handler Ray installs, which is kept
    afterwards only where nobody had set one (the CLI has: it records the run as interrupted
    and prints the resume command). A second signal while Ray starts interrupts at once.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread can set handlers (a notebook's worker, a test runner)
        return
    held = (signal.SIGINT, signal.SIGTERM)
    before = {signum: signal.getsignal(signum) for signum in held}
    installed_by_ray: dict[int, Any] = {}
    noted: list[int] = []
    set_handler = signal.signal

    def note(signum: int, frame: object) -> None:
        if noted:  # asked twice: stop now, whatever Ray is doing
            raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")
        noted.append(signum)

    def hold_ray_handlers(signum: int, handler: Any) -> Any:
        if signum in held:
            installed_by_ray[signum] = handler
            return set_handler(signum, note)
        return set_handler(signum, handler)

    for signum in held:
        set_handler(signum, note)
    signal.signal = hold_ray_handlers
    try:
        yield
    finally:
        signal.signal = set_handler
        for signum in held:
            ours = before[signum]
            ray_handler = installed_by_ray.get(signum)
            keep_ray = ray_handler is not None and not callable(ours)
            set_handler(signum, ray_handler if keep_ray else ours)
    if noted:
        raise KeyboardInterrupt(f"signal {signal.Signals(noted[0]).name}")


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
