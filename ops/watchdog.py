"""Hard deadlines and memory ceilings: a block that overruns its time or memory kills its process.

Cooperative timeouts cannot stop native code that never returns (pdfium on a hostile page, an OCR
engine in a loop), and no pre-check sees every decompression bomb (a 1 GB Flate content stream
inflates inside ``FPDF_LoadPage``). Two mechanisms, both outside the guarded code:

* a watchdog thread waits for the deadline, reports the overrun (so the page gets a ``timeout``
  row rather than a generic crash) and sends the process SIGKILL. A block with a memory ceiling is
  also polled every ``MEMORY_POLL_S``: resident memory grown past the ceiling since the block began
  ends it the same way (``out_of_memory``), long before the node runs out and Ray's memory monitor
  kills whichever worker is largest. The thread needs the GIL for a moment, which pdfium (ctypes),
  Tesseract, onnxruntime and torch all release while they work;
* a backstop ``BACKSTOP_GRACE_S`` later, :func:`faulthandler.dump_traceback_later` — a C thread
  that needs no GIL — prints every thread's stack and exits, for code that holds the GIL forever.

Ray sees a dead worker and retries the work; :mod:`ops.flight` makes sure the same page does not
kill workers forever.
"""

from __future__ import annotations

import faulthandler
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psutil

from ops.flight import OUT_OF_MEMORY, TIMEOUT

BACKSTOP_GRACE_S = 10.0
MEMORY_POLL_S = 0.02
_PROCESS = psutil.Process()

# Called with (what overran, why: TIMEOUT or OUT_OF_MEMORY) just before the process is killed.
ExpiryReport = Callable[[str, str], None]


@dataclass(frozen=True, slots=True)
class _Armed:
    token: int
    what: str
    deadline: float | None  # monotonic
    rss_ceiling: int | None  # bytes


def resident_bytes() -> int:
    """This process's resident set size (cheap enough to poll: ~20 µs)."""
    return int(_PROCESS.memory_info().rss)


class Watchdog:
    def __init__(
        self,
        on_expiry: ExpiryReport | None = None,
        backstop_grace_s: float = BACKSTOP_GRACE_S,
    ) -> None:
        self._on_expiry = on_expiry
        self._grace = backstop_grace_s
        self._lock = threading.Condition()
        self._armed: _Armed | None = None
        self._token = 0
        self._expiring = False
        self._thread: threading.Thread | None = None

    @contextmanager
    def guard(
        self, what: str, seconds: float | None, max_growth_bytes: int | None = None
    ) -> Iterator[None]:
        """Run the block; if it is still running after ``seconds``, or this process's resident
        memory grows by more than ``max_growth_bytes`` while it runs, this process dies."""
        timed = bool(seconds and seconds > 0)
        capped = bool(max_growth_bytes and max_growth_bytes > 0)
        if not timed and not capped:
            yield
            return
        self._start()
        with self._lock:
            self._token += 1
            token = self._token
            self._armed = _Armed(
                token,
                what,
                time.monotonic() + seconds if timed else None,  # type: ignore[operator]
                resident_bytes() + max_growth_bytes if capped else None,  # type: ignore[operator]
            )
            self._lock.notify()
        if timed:
            faulthandler.dump_traceback_later(seconds + self._grace, exit=True, file=sys.stderr)
        try:
            yield
        finally:
            if timed:
                faulthandler.cancel_dump_traceback_later()
            with self._lock:
                # Past the deadline the kill is decided: nothing more may run in this process
                # (the next page or task would die for this one's overrun).
                while self._expiring:
                    self._lock.wait()
                if self._armed is not None and self._armed.token == token:
                    self._armed = None
                self._lock.notify()

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(
                target=self._watch, name="pagemill-watchdog", daemon=True
            )
            self._thread.start()

    def _watch(self) -> None:
        while True:
            with self._lock:
                while self._armed is None:
                    self._lock.wait()
                armed = self._armed
                reason = self._overrun(armed)
                if reason is None:
                    remaining = armed.deadline - time.monotonic() if armed.deadline else None
                    if armed.rss_ceiling is not None:
                        remaining = min(remaining or MEMORY_POLL_S, MEMORY_POLL_S)
                    self._lock.wait(remaining)
                    continue
                self._expiring = True  # decided under the lock, for exactly this block
            self._expire(armed.what, reason)

    @staticmethod
    def _overrun(armed: _Armed) -> str | None:
        if armed.deadline is not None and time.monotonic() >= armed.deadline:
            return TIMEOUT
        if armed.rss_ceiling is not None and resident_bytes() > armed.rss_ceiling:
            return OUT_OF_MEMORY
        return None

    def _expire(self, what: str, reason: str) -> None:
        overran = "overran its deadline" if reason == TIMEOUT else "overran its memory ceiling"
        print(f"pagemill: {what} {overran}; killing this worker", file=sys.stderr)
        if self._on_expiry is not None:
            try:
                self._on_expiry(what, reason)
            except Exception as exc:  # the kill matters more than the report
                print(f"pagemill: could not report the overrun: {exc}", file=sys.stderr)
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)
