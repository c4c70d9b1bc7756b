"""Run progress and run counters: counted by the stages, reported by the driver.

Ray Data's own bars count blocks per operator (17 of them redrawn on a terminal, a wall of log
lines without one), which says little about a page pipeline. Here the planning tasks add the
pages they plan, the page tasks and OCR actors the rows they finish, and every stage the wall
and CPU time of its batches, to one small named actor per run. It exports them as Ray metrics
(Prometheus, the Ray dashboard); the driver polls it for one progress line (pages done / total,
pages/s, ETA), redrawn in place on a terminal and printed every few seconds elsewhere (CI,
``| tee``, a Ray job's log), and records the stage times in the manifest (:mod:`pipelines.cost`).

Counting is best effort by design: a lost update makes a figure wrong, never a page, so stages
send updates without waiting and ignore failures.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TextIO

import ray

# Seconds between progress lines when the stream is not a terminal (override with the
# environment variable, e.g. for a test or a chatty CI).
LINE_EVERY_S = float(os.environ.get("PAGEMILL_PROGRESS_SECONDS", "5"))
REDRAW_EVERY_S = 0.5
POLL_TIMEOUT_S = 2.0
FINAL_TRIES, FINAL_WAIT_S = 10, 0.1


# What the counters export as Ray metrics (Prometheus and the Ray dashboard read them; Ray
# prefixes each name with ``ray_``): name -> (counter key, description).
METRICS = {
    "pagemill_documents_planned": ("documents", "documents opened and cut into page work"),
    "pagemill_pages_planned": ("planned", "page rows the planned documents will produce"),
    "pagemill_pages_done": ("done", "page rows finished (written, or read by the engine)"),
    "pagemill_pages_failed": ("failed", "page rows that are errors"),
}
STAGE_METRICS = {
    "pagemill_stage_seconds": ("wall_s", "wall time the stage's batches took, summed"),
    "pagemill_stage_cpu_seconds": ("cpu_s", "CPU time of the stage's batches, summed"),
}
STAGE_KEY = "{kind}:{stage}"  # stage times in the counts, e.g. "cpu_s:ocr"
# Finished pages by route and status, in the counts ("pages:ocr/ok") and as one tagged metric.
ROUTE_KEY = "pages:{route}/{status}"
ROUTE_METRIC = ("pagemill_pages_finished", "page rows finished, by route and status")
# The adaptive forward batch size each engine actor will try next, in the snapshot as
# "batch:<actor>"; an actor silent for this long (dead, or replaced) no longer counts.
BATCH_METRIC = ("pagemill_batch_size", "forward batch size an engine actor tries next")
BATCH_FRESH_S = 600.0


@ray.remote(num_cpus=0, max_restarts=-1)
class RunCounters:
    """The run's counts and stage times, also exported as Ray metrics tagged with the run."""

    def __init__(self, run_id: str) -> None:
        from ray.util import metrics

        self._counts: dict[str, float] = {"documents": 0, "planned": 0, "done": 0, "failed": 0}
        self._tags = {"run": run_id}
        self._metrics = {
            key: metrics.Counter(name, description=text, tag_keys=("run",))
            for name, (key, text) in METRICS.items()
        }
        self._stage_metrics = {
            kind: metrics.Counter(name, description=text, tag_keys=("run", "stage"))
            for name, (kind, text) in STAGE_METRICS.items()
        }
        self._route_metric = metrics.Counter(
            ROUTE_METRIC[0], description=ROUTE_METRIC[1], tag_keys=("run", "route", "status")
        )
        self._batch_metric = metrics.Gauge(
            BATCH_METRIC[0], description=BATCH_METRIC[1], tag_keys=("run", "actor")
        )
        self._batch_sizes: dict[str, tuple[int, float]] = {}

    def add(self, counts: dict[str, float]) -> None:
        for key, value in counts.items():
            self._counts[key] = self._counts.get(key, 0) + value
            if value <= 0:  # Ray's counters only go up
                continue
            if key in self._metrics:
                self._metrics[key].inc(value, tags=self._tags)
            elif ":" in key:
                kind, stage = key.split(":", 1)
                if kind in self._stage_metrics:
                    self._stage_metrics[kind].inc(value, tags={**self._tags, "stage": stage})
                elif kind == "pages":
                    route, _, status = stage.partition("/")
                    tags = {**self._tags, "route": route, "status": status}
                    self._route_metric.inc(value, tags=tags)

    def set_batch_size(self, actor: str, size: int) -> None:
        self._batch_sizes[actor] = (size, time.monotonic())
        self._batch_metric.set(size, tags={**self._tags, "actor": actor})

    def snapshot(self) -> dict[str, float]:
        fresh_after = time.monotonic() - BATCH_FRESH_S
        batches = {
            f"batch:{actor}": size
            for actor, (size, seen) in self._batch_sizes.items()
            if seen >= fresh_after
        }
        return {**self._counts, **batches}


def start_counters(name: str, run_id: str):
    """The run's counters actor; the driver keeps the handle, so it lives as long as the run."""
    return RunCounters.options(name=name).remote(run_id)


_COUNTERS: dict[str, Any] = {}


def count(name: str | None, **counts: float) -> None:
    """Add to the run's counters from a stage (no-op without them); never waits, never raises."""
    add(name, counts)


def add(name: str | None, counts: dict[str, float]) -> None:
    if name is None or not any(counts.values()):
        return
    _send(name, "add", counts)


def _send(name: str, method: str, *args: Any) -> None:
    """Call the run's counters actor without waiting; a lookup or call that fails is dropped
    (and the handle forgotten, so the next update looks the actor up again)."""
    try:
        counter = _COUNTERS.get(name)
        if counter is None:
            counter = _COUNTERS[name] = ray.get_actor(name)
        getattr(counter, method).remote(*args)
    except Exception:  # counting must never fail a page
        _COUNTERS.pop(name, None)


def count_routes(name: str | None, routes: list[str], statuses: list[str], **counts: float) -> None:
    """Add finished rows to the counters: ``done``/``failed`` and each route and status."""
    by_route: dict[str, float] = dict(counts)
    for route, status in zip(routes, statuses, strict=True):
        key = ROUTE_KEY.format(route=route or "unrouted", status=status)
        by_route[key] = by_route.get(key, 0) + 1
    add(name, by_route)


def report_batch_size(name: str | None, actor: str, size: int) -> None:
    """Tell the counters the forward batch size this actor will try next (never raises)."""
    if name is not None:
        _send(name, "set_batch_size", actor, size)


@contextmanager
def timed(name: str | None, stage: str) -> Iterator[None]:
    """Add the wall and CPU time of the block to the stage's totals. CPU time is the worker
    process's (a Ray worker runs one task or actor call at a time, so it is this batch's, the
    engine's own threads included)."""
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        yield
    finally:
        add(
            name,
            {
                STAGE_KEY.format(kind="wall_s", stage=stage): time.perf_counter() - wall,
                STAGE_KEY.format(kind="cpu_s", stage=stage): time.process_time() - cpu,
            },
        )


def route_totals(counts: dict[str, float]) -> tuple[tuple[str, int], ...]:
    """Pages finished per route (any status), largest first, out of a counters snapshot."""
    totals: dict[str, int] = {}
    for key, value in counts.items():
        kind, _, route_status = key.partition(":")
        if kind == "pages" and route_status:
            route = route_status.partition("/")[0]
            totals[route] = totals.get(route, 0) + int(value)
    return tuple(sorted(totals.items(), key=lambda item: (-item[1], item[0])))


def stage_times(counts: dict[str, float]) -> dict[str, dict[str, float]]:
    """``{stage: {"wall_s": .., "cpu_s": ..}}`` out of a counters snapshot."""
    stages: dict[str, dict[str, float]] = {}
    for key, value in counts.items():
        kind, _, stage = key.partition(":")
        if stage and kind in ("wall_s", "cpu_s"):
            stages.setdefault(stage, {"wall_s": 0.0, "cpu_s": 0.0})[kind] = round(value, 3)
    return stages


@dataclass(frozen=True)
class Snapshot:
    documents: int  # documents planned so far
    planned: int  # rows the planned documents will produce
    done: int
    failed: int
    documents_total: int
    seconds: float
    routes: tuple[tuple[str, int], ...] = ()  # pages finished per route, largest first
    batch_sizes: tuple[int, ...] = ()  # what each engine actor tries next

    def line(self) -> str:
        """``pagemill: 1,204/3,400 pages (35%), 12.3 pages/s, ETA 2m 58s, text 1,100, ocr 104,
        3 failed, batch 16``"""
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
        parts += [f"{route} {pages:,}" for route, pages in self.routes]
        if self.failed:
            parts.append(f"{self.failed:,} failed")
        if self.batch_sizes:
            low, high = min(self.batch_sizes), max(self.batch_sizes)
            parts.append(f"batch {low}" if low == high else f"batch {low}-{high}")
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
        counts = final_counts(self._counter, self._documents_total)
        return self._snapshot(counts) if counts else self._last

    def _loop(self) -> None:
        while not self._stop.wait(self._every_s):
            self._print(self._poll())

    def _poll(self) -> Snapshot | None:
        try:
            counts = ray.get(self._counter.snapshot.remote(), timeout=POLL_TIMEOUT_S)
        except Exception:  # a slow or restarting counter skips one line
            return None
        return self._snapshot(counts)

    def _snapshot(self, counts: dict[str, float]) -> Snapshot:
        return Snapshot(
            documents=int(counts["documents"]),
            planned=int(counts["planned"]),
            done=int(counts["done"]),
            failed=int(counts["failed"]),
            documents_total=self._documents_total,
            seconds=time.monotonic() - self._began,
            routes=route_totals(counts),
            batch_sizes=tuple(sorted(int(v) for k, v in counts.items() if k.startswith("batch:"))),
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


def final_counts(counters: Any, documents_total: int) -> dict[str, float]:
    """The counters once the graph is done: the stages' last updates are sent without waiting,
    so they can still be on their way; waits (briefly) until every planned row is counted."""
    counts: dict[str, float] = {}
    for _ in range(FINAL_TRIES):
        try:
            counts = ray.get(counters.snapshot.remote(), timeout=POLL_TIMEOUT_S)
        except Exception:  # the counts are for the record: a missing one is no failure
            return counts
        if counts["documents"] >= documents_total and counts["done"] >= counts["planned"]:
            break
        time.sleep(FINAL_WAIT_S)
    return counts


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
