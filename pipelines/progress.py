"""Run progress in pages: counted by the stages, reported by the driver.

Ray Data's own bars count blocks per operator (17 of them redrawn on a terminal, a wall of log
lines without one), which says little about a page pipeline. Here the planning tasks add the
pages they plan, the page tasks and OCR actors the rows they finish, to one small named actor;
the driver polls it and prints one line: pages done / total, pages/s, ETA. On a terminal that
line is redrawn in place; elsewhere (CI, ``| tee``, a Ray job's log) it is printed every few
seconds.

Counting is best effort by design: a lost update makes the line wrong for a moment, never a
page wrong, so stages send it without waiting and ignore failures.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, TextIO

import ray

# Seconds between progress lines when the stream is not a terminal (override with the
# environment variable, e.g. for a test or a chatty CI).
LINE_EVERY_S = float(os.environ.get("PAGEMILL_PROGRESS_SECONDS", "5"))
REDRAW_EVERY_S = 0.5
POLL_TIMEOUT_S = 2.0
FINAL_TRIES, FINAL_WAIT_S = 10, 0.1


@ray.remote(num_cpus=0, max_restarts=-1)
class ProgressCounter:
    def __init__(self) -> None:
        self._counts = {"documents": 0, "planned": 0, "done": 0, "failed": 0}

    def add(self, **counts: int) -> None:
        for key, value in counts.items():
            self._counts[key] += value

    def snapshot(self) -> dict[str, int]:
        return dict(self._counts)


def start_counter(name: str):
    """The run's counter actor; the driver keeps the handle, so it lives as long as the run."""
    return ProgressCounter.options(name=name).remote()


_COUNTERS: dict[str, Any] = {}


def count(name: str | None, **counts: int) -> None:
    """Add to the run's counter from a stage (no-op without one); never waits, never raises."""
    if name is None or not any(counts.values()):
        return
    try:
        counter = _COUNTERS.get(name)
        if counter is None:
            counter = _COUNTERS[name] = ray.get_actor(name)
        counter.add.remote(**counts)
    except Exception:  # progress must never fail a page
        _COUNTERS.pop(name, None)


@dataclass(frozen=True)
class Snapshot:
    documents: int  # documents planned so far
    planned: int  # rows the planned documents will produce
    done: int
    failed: int
    documents_total: int
    seconds: float

    @property
    def complete(self) -> bool:
        return self.documents >= self.documents_total and self.done >= self.planned

    def line(self) -> str:
        """``pagemill: 1,204/3,400 pages (35%), 12.3 pages/s, ETA 2m 58s, 3 failed``"""
        planning = self.documents < self.documents_total
        total = f"{self.planned:,}+" if planning else f"{self.planned:,}"
        parts = [f"{self.done:,}/{total} pages"]
        if not planning and self.planned:
            parts[0] += f" ({100 * self.done // self.planned}%)"
        rate = self.done / self.seconds if self.seconds > 0 else 0.0
        parts.append(f"{rate:.1f} pages/s")
        if planning:
            parts.append(f"planning {self.documents:,}/{self.documents_total:,} documents")
        elif rate > 0 and self.done < self.planned:
            parts.append(f"ETA {_duration((self.planned - self.done) / rate)}")
        if self.failed:
            parts.append(f"{self.failed:,} failed")
        return "pagemill: " + ", ".join(parts)


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {seconds:02d}s" if minutes else f"{seconds}s"


class ProgressReporter:
    """A driver thread that polls the counter and prints the progress line until stopped."""

    def __init__(
        self,
        counter: Any,
        documents_total: int,
        stream: TextIO | None = None,
        every_s: float | None = None,
    ) -> None:
        self._counter = counter
        self._documents_total = documents_total
        self._stream = stream or sys.stderr
        self._tty = _is_tty(self._stream)
        self._every_s = every_s or (REDRAW_EVERY_S if self._tty else LINE_EVERY_S)
        self._began = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="pagemill-progress", daemon=True)
        self._last: Snapshot | None = None

    def __enter__(self) -> ProgressReporter:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=POLL_TIMEOUT_S + 1)
        if exc_info[0] is None:
            self._print(self._final())
        if self._tty and self._last is not None:
            self._stream.write("\n")
            self._stream.flush()

    def _final(self) -> Snapshot | None:
        """The last counts: the stages' updates are sent without waiting, so the last few can
        still be on their way when the work itself is done."""
        snapshot = self._poll()
        for _ in range(FINAL_TRIES):
            if snapshot is not None and snapshot.complete:
                break
            time.sleep(FINAL_WAIT_S)
            snapshot = self._poll() or snapshot
        return snapshot or self._last

    def _loop(self) -> None:
        while not self._stop.wait(self._every_s):
            self._print(self._poll())

    def _poll(self) -> Snapshot | None:
        try:
            counts = ray.get(self._counter.snapshot.remote(), timeout=POLL_TIMEOUT_S)
        except Exception:  # a slow or restarting counter skips one line
            return None
        return Snapshot(
            documents_total=self._documents_total,
            seconds=time.monotonic() - self._began,
            **counts,
        )

    def _print(self, snapshot: Snapshot | None) -> None:
        if snapshot is None:
            return
        self._last = snapshot
        if self._tty:
            self._stream.write("\r" + snapshot.line() + "\x1b[K")
        else:
            self._stream.write(snapshot.line() + "\n")
        self._stream.flush()


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
