"""Peak memory of a whole Ray job: the driver and every process it started, sampled in a thread.

Proportional set size (PSS) is summed rather than RSS so that pages shared between Ray's
processes (the object store, imported libraries) are counted once.
"""

from __future__ import annotations

import threading
from types import TracebackType

import psutil


class PeakMemory:
    """Peak PSS of ``root`` (default: this process) and all its descendants while in the block."""

    def __init__(self, root: psutil.Process | None = None, interval_s: float = 0.25) -> None:
        self.peak_bytes = 0
        self._root = root or psutil.Process()
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_bytes = max(self.peak_bytes, _tree_pss(self._root))
            self._stop.wait(self._interval)


def _tree_pss(root: psutil.Process) -> int:
    total = 0
    try:
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    for process in processes:
        try:
            info = process.memory_full_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        total += getattr(info, "pss", info.rss)
    return total


def peak_of_command(command: list[str]) -> tuple[int, int]:
    """``(exit code, peak PSS bytes)`` of a command and everything it starts."""
    import subprocess

    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with PeakMemory(psutil.Process(child.pid)) as peak:
        code = child.wait()
    return code, peak.peak_bytes
