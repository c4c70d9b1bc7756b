"""Hard deadlines: a block that overruns its time kills its own process.

Cooperative timeouts cannot stop native code that never returns (pdfium on a hostile page, an OCR
engine in a loop). Two mechanisms, both outside the guarded code:

* a watchdog thread waits for the deadline, reports the overrun (so the page gets a ``timeout``
  row rather than a generic crash) and sends the process SIGKILL. It needs the GIL for a moment,
  which pdfium (ctypes), Tesseract, onnxruntime and torch all release while they work;
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

BACKSTOP_GRACE_S = 10.0


class Watchdog:
    def __init__(
        self,
        on_expiry: Callable[[str], None] | None = None,
        backstop_grace_s: float = BACKSTOP_GRACE_S,
    ) -> None:
        self._on_expiry = on_expiry
        self._grace = backstop_grace_s
        self._lock = threading.Condition()
        self._armed: tuple[int, str, float] | None = None  # token, what, deadline (monotonic)
        self._token = 0
        self._expiring = False
        self._thread: threading.Thread | None = None

    @contextmanager
    def guard(self, what: str, seconds: float | None) -> Iterator[None]:
        """Run the block; if it is still running after ``seconds``, this process dies."""
        if not seconds or seconds <= 0:
            yield
            return
        self._start()
        with self._lock:
            self._token += 1
            token = self._token
            self._armed = (token, what, time.monotonic() + seconds)
            self._lock.notify()
        faulthandler.dump_traceback_later(seconds + self._grace, exit=True, file=sys.stderr)
        try:
            yield
        finally:
            faulthandler.cancel_dump_traceback_later()
            with self._lock:
                # Past the deadline the kill is decided: nothing more may run in this process
                # (the next page or task would die for this one's overrun).
                while self._expiring:
                    self._lock.wait()
                if self._armed is not None and self._armed[0] == token:
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
                _, what, deadline = self._armed
                remaining = deadline - time.monotonic()
                if remaining > 0:
                    self._lock.wait(remaining)
                    continue
                self._expiring = True  # decided under the lock, for exactly this block
            self._expire(what)

    def _expire(self, what: str) -> None:
        print(f"pagemill: {what} overran its deadline; killing this worker", file=sys.stderr)
        if self._on_expiry is not None:
            try:
                self._on_expiry(what)
            except Exception as exc:  # the kill matters more than the report
                print(f"pagemill: could not report the overrun: {exc}", file=sys.stderr)
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)
