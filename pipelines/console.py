"""What reaches the user's console from Ray, and where the rest goes.

Three kinds of noise reached every run's console: Ray Data's INFO lines (execution plan, one
log line per operator without a terminal), Ray Data's notices about settings pagemill chose on
purpose, and one ERROR line from Ray's C++ core worker for every actor pool ("has constructor
arguments in the object store and max_restarts > 0", ray-project/ray#57733: Ray Data itself
passes those arguments and keeps them alive, so the warned-of failure cannot happen). Everything
stays in Ray's session logs; the console keeps warnings and errors that say something.
"""

from __future__ import annotations

import io
import logging
import os
import sys
import tempfile
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

# Lines of Ray's own console output that are noise for a pagemill user (see the module doc).
RAY_NOISE = (
    "has constructor arguments in the object store and max_restarts > 0",
    "Progress bars disabled",
    "Specifying both num_cpus and num_gpus for map tasks is experimental",
)


class _QuietRayData(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return False
        message = record.getMessage()
        return not any(noise in message for noise in RAY_NOISE)


@contextmanager
def quiet_ray_data() -> Iterator[None]:
    """Ray Data's console handler shows warnings and errors only (its log file keeps it all)."""
    logger = logging.getLogger("ray.data")
    consoles = [
        handler
        for handler in logger.handlers
        if isinstance(handler, logging.StreamHandler)
        and not isinstance(handler, logging.FileHandler)
    ]
    quiet = _QuietRayData()
    for handler in consoles:
        handler.addFilter(quiet)
    try:
        yield
    finally:
        for handler in consoles:
            handler.removeFilter(quiet)


@contextmanager
def filtered_stderr(noise: tuple[str, ...] = RAY_NOISE) -> Iterator[None]:
    """Drop lines containing ``noise`` from what native code writes to file descriptor 2.

    Ray's C++ core worker in this process logs errors straight to the descriptor, out of reach
    of Python's logging; a pipe and a thread pass every other line on unchanged, as it comes.
    Python's own ``sys.stderr`` keeps writing to the real stream (so it still knows whether it
    is a terminal, and a redrawn progress line is not held back waiting for its newline). Only
    for the console script: a library caller's descriptors are left alone.
    """
    try:
        original = os.dup(2)
        python_side = io.TextIOWrapper(
            os.fdopen(os.dup(original), "wb", buffering=0), write_through=True, errors="replace"
        )
    except OSError:
        yield
        return
    read_end, write_end = os.pipe()
    saved, sys.stderr = sys.stderr, python_side
    saved.flush()
    os.dup2(write_end, 2)
    os.close(write_end)
    relay = threading.Thread(
        target=_relay, args=(read_end, original, noise), name="pagemill-stderr", daemon=True
    )
    relay.start()
    try:
        yield
    finally:
        python_side.flush()
        sys.stderr = saved
        os.dup2(original, 2)  # closes the pipe's last write end: the relay reads to the end
        relay.join(timeout=2)
        os.close(original)
        python_side.close()


def _relay(read_end: int, target: int, noise: tuple[str, ...]) -> None:
    with os.fdopen(read_end, "rb", buffering=0) as source:
        pending = b""
        while chunk := source.read(65536):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            kept = [line for line in lines if not any(n.encode() in line for n in noise)]
            if kept:
                os.write(target, b"".join(line + b"\n" for line in kept))
        if pending:
            os.write(target, pending)


def write_crash_log(exc: BaseException) -> str:
    """The full traceback of an unexpected error, in a file the one-line message can point to."""
    folder = os.path.join(tempfile.gettempdir(), "pagemill-logs")
    os.makedirs(folder, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = os.path.join(folder, f"crash-{stamp}-{os.getpid()}.log")
    with open(path, "w", encoding="utf-8") as log:
        log.write(f"pagemill {' '.join(sys.argv[1:])}\n\n")
        log.write("".join(traceback.format_exception(exc)))
    return path
