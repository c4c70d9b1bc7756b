"""Crash and hang isolation on Ray: one flight-log actor per run, one guard per worker process.

:mod:`ops.flight` holds the logic; this module hosts it in a small named actor (no CPU) and gives
every page task and OCR actor a :class:`RayGuard`: a watchdog thread for hard deadlines plus calls
to the actor. Declaring work is one synchronous call per batch (a few per second per worker);
watching a page is local and costs microseconds.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import ray

from ops.flight import OUT_OF_MEMORY, FlightLog, IsolationSettings, Verdict
from ops.watchdog import BACKSTOP_GRACE_S, Watchdog

REPORT_TIMEOUT_S = 10.0
MEMORY_REPORT_TIMEOUT_S = 1.0
BATCH = "the engine call"  # what a watch over several pages reports


@ray.remote(num_cpus=0, max_restarts=-1)
class FlightRecorder:
    def __init__(self, max_attempts: int, max_stage_deaths: int) -> None:
        self._log = FlightLog(max_attempts=max_attempts, max_stage_deaths=max_stage_deaths)

    def begin(self, worker: str, stage: str, keys: list[str], alone: bool, kill_after_s) -> None:
        self._log.begin(worker, stage, keys, alone=alone, kill_after_s=kill_after_s)

    def end(self, worker: str, success: bool) -> None:
        self._log.end(worker, success=success)

    def expired(self, worker: str, key: str | None, reason: str) -> None:
        self._log.expired(worker, key, reason)

    def triage(self, worker: str, stage: str, keys: list[str]):
        return self._log.triage(worker, keys), self._log.stage_dead(stage)

    def deaths(self) -> int:
        return self._log.deaths_total


def start_recorder(settings: IsolationSettings):
    """The run's flight-log actor (the driver keeps the handle: it lives as long as the run)."""
    return FlightRecorder.options(name=settings.recorder, num_cpus=0).remote(
        settings.max_attempts, settings.max_stage_deaths
    )


class RayGuard:
    """An :class:`ops.flight.Guard` backed by the run's recorder actor."""

    def __init__(self, settings: IsolationSettings) -> None:
        self._recorder = ray.get_actor(settings.recorder)
        self.worker = f"{ray.get_runtime_context().get_node_id()}:{os.getpid()}"
        self._watchdog = Watchdog(self._report_expiry)
        self._held: tuple | None = None

    def triage(self, stage: str, keys: list[str]) -> tuple[dict[str, Verdict], str | None]:
        return ray.get(self._recorder.triage.remote(self.worker, stage, keys))

    @contextmanager
    def hold(
        self,
        stage: str,
        keys: list[str],
        *,
        alone: bool = False,
        seconds: float | None = None,
        progress: bool = True,
    ) -> Iterator[None]:
        """Holds nest: a page held alone inside a batch's hold hands the batch back after it, so a
        later death in the batch is still charged to the batch. A block that finishes counts as
        the stage making progress unless ``progress`` is False (loading an engine is not)."""
        # The backstop time goes with the record: a death after it is a timeout even when the
        # watchdog thread could not report it.
        kill_after = seconds + BACKSTOP_GRACE_S if seconds else None
        record = (stage, keys, alone, kill_after)
        outer = self._held
        self._begin(record)
        try:
            yield
        finally:
            self._held = outer
            if outer is not None:
                self._begin(outer)
            else:
                # Ordered after begin: no need to wait.
                self._recorder.end.remote(self.worker, progress)

    def _begin(self, record: tuple) -> None:
        self._held = record
        ray.get(self._recorder.begin.remote(self.worker, *record))

    @contextmanager
    def watch(
        self, key: str | None, seconds: float | None, max_growth_bytes: int | None = None
    ) -> Iterator[None]:
        with self._watchdog.guard(key or BATCH, seconds, max_growth_bytes):
            yield

    def _report_expiry(self, what: str, reason: str) -> None:
        key = None if what == BATCH else what
        # A memory bomb keeps inflating while we wait: report fast, then die either way.
        timeout = MEMORY_REPORT_TIMEOUT_S if reason == OUT_OF_MEMORY else REPORT_TIMEOUT_S
        ray.get(self._recorder.expired.remote(self.worker, key, reason), timeout=timeout)


_GUARDS: dict[str, RayGuard] = {}


def guard_for(settings: IsolationSettings | None) -> RayGuard | None:
    """This process's guard for the run (created once per worker process and reused)."""
    if settings is None:
        return None
    guard = _GUARDS.get(settings.recorder)
    if guard is None:
        guard = _GUARDS[settings.recorder] = RayGuard(settings)
    return guard
