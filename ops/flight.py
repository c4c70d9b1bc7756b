"""Which pages took a worker process down with them: the bookkeeping behind crash isolation.

A page that segfaults pdfium or an OCR engine, or hangs past its deadline, kills its worker
process; Ray then retries the work elsewhere, where the same page would kill the next worker, and
so on forever (Ray Data retries map tasks and restarts actors without limit). Workers therefore
declare what they are about to touch (:meth:`FlightLog.begin`) before touching it. When a retry
asks about the same items (:meth:`FlightLog.triage`) while another process still holds them, that
process died holding them: each item is charged a death. Items charged once are redone one at a
time, so a second death names the culprit exactly; a culprit with ``max_attempts`` deaths becomes
an error row and the job moves on. A stage whose workers keep dying without finishing anything in
between (an engine that cannot run at all) is declared dead, so the job fails loudly instead of
cycling through restarts.

Plain Python: :mod:`pipelines.isolation` hosts one instance in a Ray actor per run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager as ContextManager
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

TIMEOUT = "timeout"
CRASH = "worker_crashed"
OUT_OF_MEMORY = "out_of_memory"  # the block outgrew its memory ceiling (ops.watchdog)
DEFAULT_MAX_ATTEMPTS = 2
DEFAULT_MAX_STAGE_DEATHS = 5


@dataclass(frozen=True, slots=True)
class Limits:
    """What one watched item may take before its worker is killed (None: no limit)."""

    seconds: float | None = None
    max_growth_bytes: int | None = None  # resident memory gained while the item runs


@dataclass(frozen=True, slots=True)
class IsolationSettings:
    """What the workers need to find the run's flight log and apply its deadlines."""

    recorder: str  # the actor's name
    page_timeout_s: float | None = 120.0
    document_timeout_s: float | None = 600.0
    # How much one page may grow its worker's resident memory while pdfium opens and renders it
    # (a decompression bomb inside a content stream or image that no pre-check sees).
    page_memory_mb: int | None = 2048
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    max_stage_deaths: int = DEFAULT_MAX_STAGE_DEATHS

    @property
    def page_limits(self) -> Limits:
        """Rendering (and text extraction of) one page."""
        return Limits(self.page_timeout_s, _bytes(self.page_memory_mb))

    @property
    def document_limits(self) -> Limits:
        """Opening one document and checking its page tree; the memory ceiling is the page's."""
        return Limits(self.document_timeout_s, _bytes(self.page_memory_mb))


def _bytes(megabytes: int | None) -> int | None:
    return megabytes * 1024 * 1024 if megabytes else None


class Guard(Protocol):
    """What a worker needs from the flight log (hosted elsewhere, e.g. in a Ray actor)."""

    def triage(self, stage: str, keys: list[str]) -> tuple[dict[str, Verdict], str | None]:
        """Verdicts for ``keys`` that killed workers before, and why ``stage`` is dead (or None)."""
        ...

    def hold(
        self, stage: str, keys: list[str], *, alone: bool = False, seconds: float | None = None
    ) -> ContextManager[None]:
        """Declare ``keys`` in flight for the block (each watched for at most ``seconds``); a
        death inside charges them."""
        ...

    def watch(
        self, key: str | None, seconds: float | None, max_growth_bytes: int | None = None
    ) -> ContextManager[None]:
        """Kill this process if the block outlives ``seconds`` or grows its resident memory by
        more than ``max_growth_bytes``, charging ``key`` (None: all held keys) with the overrun."""
        ...


@dataclass(frozen=True, slots=True)
class Verdict:
    deaths: int = 0  # worker deaths while this item was in flight
    alone_deaths: int = 0  # of which the item was the only one in flight: proof it is the cause
    reason: str | None = None  # TIMEOUT, OUT_OF_MEMORY or CRASH, for the last death
    failed: bool = False  # give up: write an error row


@dataclass(slots=True)
class _Record:
    worker: str
    stage: str
    keys: tuple[str, ...]
    alone: bool
    started: float
    kill_after_s: float | None


@dataclass(slots=True)
class _Charges:
    deaths: int = 0
    alone_deaths: int = 0
    reason: str | None = None


@dataclass
class FlightLog:
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    max_stage_deaths: int = DEFAULT_MAX_STAGE_DEATHS
    clock: Callable[[], float] = time.monotonic
    _records: dict[str, _Record] = field(default_factory=dict)  # worker -> what it holds
    _holder: dict[str, str] = field(default_factory=dict)  # key -> worker
    _charges: dict[str, _Charges] = field(default_factory=dict)
    _stage_deaths: dict[str, int] = field(default_factory=dict)  # in a row, per stage
    _last_death: dict[str, str] = field(default_factory=dict)  # per stage, for the message
    deaths_total: int = 0

    def begin(
        self,
        worker: str,
        stage: str,
        keys: list[str],
        *,
        alone: bool = False,
        kill_after_s: float | None = None,
    ) -> None:
        self.end(worker, success=False)
        record = _Record(worker, stage, tuple(keys), alone, self.clock(), kill_after_s)
        self._records[worker] = record
        for key in keys:
            self._holder[key] = worker

    def end(self, worker: str, *, success: bool = True) -> None:
        """``worker`` finished what it held (or moves on to something else)."""
        record = self._records.pop(worker, None)
        if record is None:
            return
        for key in record.keys:
            if self._holder.get(key) == worker:
                del self._holder[key]
        if success:
            self._stage_deaths[record.stage] = 0

    def expired(self, worker: str, key: str | None = None, reason: str = TIMEOUT) -> None:
        """``worker``'s watchdog is about to kill it: ``key`` (or, if None, everything the
        worker holds) overran its deadline (or, with ``OUT_OF_MEMORY``, its memory ceiling)."""
        record = self._records.get(worker)
        if record is None and key is None:
            return
        stage = record.stage if record else key.partition(":")[0]  # type: ignore[union-attr]
        keys = [key] if key is not None else list(record.keys)  # type: ignore[union-attr]
        alone = len(keys) == 1 or bool(record and record.alone)
        self.end(worker, success=False)
        self._charge(stage, keys, alone=alone, reason=reason)

    def triage(self, worker: str, keys: list[str]) -> dict[str, Verdict]:
        """Verdicts for ``keys`` (only those with deaths are returned), after charging the
        records of processes that died holding any of them."""
        dead = {self._holder[key] for key in keys if self._holder.get(key, worker) != worker}
        for other in dead:
            record = self._records[other]
            self.end(other, success=False)
            self._charge(record.stage, list(record.keys), record.alone, self._reason(record))
        verdicts = {}
        for key in keys:
            charges = self._charges.get(key)
            if charges is None:
                continue
            failed = charges.alone_deaths > 0 and charges.deaths >= self.max_attempts
            verdicts[key] = Verdict(charges.deaths, charges.alone_deaths, charges.reason, failed)
        return verdicts

    def stage_dead(self, stage: str) -> str | None:
        """Why ``stage`` counts as dead (its workers keep dying), or None."""
        deaths = self._stage_deaths.get(stage, 0)
        if deaths < self.max_stage_deaths:
            return None
        return (
            f"{deaths} {stage} worker processes in a row died without finishing any work "
            f"(last: {self._last_death.get(stage, 'unknown')})"
        )

    def _reason(self, record: _Record) -> str:
        elapsed = self.clock() - record.started
        if record.kill_after_s is not None and elapsed >= record.kill_after_s:
            return TIMEOUT  # the native backstop killed it: the watchdog thread could not report
        return CRASH

    def _charge(self, stage: str, keys: list[str], alone: bool, reason: str) -> None:
        self.deaths_total += 1
        self._stage_deaths[stage] = self._stage_deaths.get(stage, 0) + 1
        what = keys[0] if len(keys) == 1 else f"{len(keys)} items from {keys[0]}"
        self._last_death[stage] = f"{reason} while holding {what}"
        for key in keys:
            charges = self._charges.setdefault(key, _Charges())
            charges.deaths += 1
            charges.alone_deaths += int(alone)
            charges.reason = reason


@contextmanager
def guarded(
    guard: Guard | None, stage: str, key: str, verdict: Verdict | None, limits: Limits
) -> Iterator[None]:
    """Watch one item; an item that killed a worker before is also held alone, so that a second
    death names it exactly."""
    if guard is None:
        yield
        return
    watch = guard.watch(key, limits.seconds, limits.max_growth_bytes)
    if verdict is not None:
        with guard.hold(stage, [key], alone=True, seconds=limits.seconds), watch:
            yield
    else:
        with watch:
            yield


def failure_message(verdict: Verdict, what: str) -> tuple[str, str]:
    """``(error_type, message)`` for an item the job gave up on."""
    if verdict.reason == TIMEOUT:
        return TIMEOUT, (
            f"{what} overran its deadline {verdict.deaths} time(s) (the worker was killed each "
            "time); raise --page-timeout if it is merely slow"
        )
    if verdict.reason == OUT_OF_MEMORY:
        return OUT_OF_MEMORY, (
            f"{what} outgrew its memory ceiling {verdict.deaths} time(s) (the worker was killed "
            "each time; a decompression bomb?); raise --page-memory if the page is genuine"
        )
    return CRASH, (
        f"{what} crashed its worker process {verdict.deaths} time(s) (e.g. a segfault in pdfium "
        "or the OCR engine); the rest of the job went on"
    )
