"""One run at a time per OUTPUT: ``OUTPUT/_lock.json`` names the run that holds it.

Two runs writing one OUTPUT would each reconcile the other's shards away mid-write. The lock
records the run, host, pid and when it started; a heartbeat thread rewrites it while the run
lives. A second run stops with a message naming the holder. A lock left by a run that died is
stale and is taken over: at once when its pid is gone on this host, otherwise once its heartbeat
is older than ``STALE_AFTER_S``.

Local disks create a new lock atomically (``O_EXCL``). Object stores have no create-if-absent in
pyarrow's filesystems, so there (and when a stale lock is taken over) the lock is written, then
read back after a pause: of two runs racing for it, the last writer reads its own record back
and goes on, the other reads someone else's and stops.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from pyarrow import fs

from ops.uris import resolve

LOCK_NAME = "_lock.json"
HEARTBEAT_S = 15.0
STALE_AFTER_S = 90.0  # six missed heartbeats
READ_BACK_PAUSE_S = 1.0  # object stores only


class OutputBusy(ValueError):
    """Another live run holds OUTPUT."""


@dataclass(frozen=True, slots=True)
class Holder:
    run_id: str
    host: str
    pid: int
    started_at: str
    heartbeat_at: float  # seconds since the epoch

    def describe(self, now: float) -> str:
        return (
            f"run {self.run_id} on host {self.host} (pid {self.pid}) since {self.started_at}, "
            f"last heartbeat {max(0.0, now - self.heartbeat_at):.0f} s ago"
        )


class OutputLock:
    def __init__(
        self,
        output: str,
        run_id: str,
        *,
        heartbeat_s: float = HEARTBEAT_S,
        stale_after_s: float = STALE_AFTER_S,
    ) -> None:
        self.output = output
        self.filesystem, root = resolve(output)
        self.path = f"{root.rstrip('/')}/{LOCK_NAME}"
        self.local = isinstance(self.filesystem, fs.LocalFileSystem)
        self.heartbeat_s = heartbeat_s
        self.stale_after_s = stale_after_s
        self.holder = Holder(
            run_id, socket.gethostname(), os.getpid(), datetime.now(UTC).isoformat(), time.time()
        )
        self.taken_over: Holder | None = None  # the stale holder this run replaced, if any
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> OutputLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def acquire(self) -> None:
        self.filesystem.create_dir(self.path.rsplit("/", 1)[0], recursive=True)
        if not (self.local and self._create_exclusively()):
            current = self.read()
            if current is not None and not self.is_stale(current):
                raise self._busy(current)
            self.taken_over = current
            self._write()
            # Another run may have written its own record meanwhile: the last write wins, and
            # every run but its writer sees someone else's record here and stops.
            time.sleep(READ_BACK_PAUSE_S if not self.local else 0.05)
            current = self.read()
            if current is None or current.run_id != self.holder.run_id:
                raise self._busy(current or self.holder)
        self._thread = threading.Thread(target=self._beat, name="pagemill-lock", daemon=True)
        self._thread.start()

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        current = self.read()
        if current is not None and current.run_id == self.holder.run_id:
            self.filesystem.delete_file(self.path)

    def read(self) -> Holder | None:
        try:
            with self.filesystem.open_input_stream(self.path) as stream:
                data = json.loads(stream.read())
            return Holder(**data)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError):  # half-written or foreign: nobody's
            return Holder("unknown", "unknown", -1, "unknown", 0.0)

    def is_stale(self, holder: Holder) -> bool:
        if time.time() - holder.heartbeat_at > self.stale_after_s:
            return True
        return holder.host == socket.gethostname() and not _alive(holder.pid)

    def _create_exclusively(self) -> bool:
        """Local disks: create the lock only if there is none; False when one exists."""
        try:
            descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            stream.write(json.dumps(asdict(self.holder)))
        return True

    def _write(self) -> None:
        data = json.dumps(asdict(self.holder)).encode("utf-8")
        temporary = f"{self.path}.{self.holder.run_id}.tmp"
        with self.filesystem.open_output_stream(temporary) as stream:
            stream.write(data)
        self.filesystem.move(temporary, self.path)

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            current = self.read()
            if current is not None and current.run_id != self.holder.run_id:
                return  # taken over (this run looked dead): never write over the new holder
            self.holder = Holder(**{**asdict(self.holder), "heartbeat_at": time.time()})
            try:
                self._write()
            except OSError:
                continue  # a missed beat; the next one tries again

    def _busy(self, holder: Holder) -> OutputBusy:
        return OutputBusy(
            f"{self.output} is in use by {holder.describe(time.time())}. Wait for that run to "
            f"end or stop it; if it died, its lock is taken over at once on its own host, and "
            f"anywhere once its heartbeat is {self.stale_after_s:.0f} s old"
        )


def _alive(pid: int) -> bool:
    import psutil

    return pid > 0 and psutil.pid_exists(pid)


def describe(lock: OutputLock) -> dict[str, Any]:
    """For the run manifest: whether this run took over a dead run's lock."""
    return {"taken_over_from": asdict(lock.taken_over) if lock.taken_over else None}
