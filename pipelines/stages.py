"""The functions and actor class that Ray Data runs; thin adapters over ``ops``.

Every stage takes and returns pyarrow tables built against an explicit schema, so no batch can
change a column's type (Ray infers an all-null column as float and the Parquet write then fails).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import replace
from typing import Any

import pyarrow as pa

from ops.backends import create
from ops.batching import BatchPolicy
from ops.flight import Guard, IsolationSettings, Limits, Verdict, failure_message, guarded
from ops.layout.steps import TextSteps
from ops.ocr import OCR_STAGE, EngineDead, OcrRunner
from ops.pages import (
    RENDER_STAGE,
    STATUS_PENDING,
    ExtractOptions,
    RowContext,
    extract_unit,
    failed_unit,
    page_key,
    plan_document,
)
from ops.schema import IMAGE_COLUMN, STATUS_ERROR, UNIT_SCHEMA, to_table
from ops.shards import shard_name, write_shard
from pipelines.isolation import guard_for
from pipelines.progress import count, count_routes, report_batch_size, timed
from pipelines.runtime import this_node

PLAN_STAGE = "plan"  # document keys in the flight log
LOAD_STAGE = "load"
WRITE_STAGE = "write"
# Stage names in the run's timings (pipelines.progress): the page tasks read text layers,
# render, and write the text-route shards.
PAGES_STAGE = "pages"

# OCR-route output of the page stage is cut at whichever comes first, so that a unit of large
# rendered pages never sits in one oversized table.
MAX_ROWS_PER_PAGE_BATCH = 64
MAX_BYTES_PER_PAGE_BATCH = 8 * 1024 * 1024


def plan_batch(
    batch: pa.Table,
    options: ExtractOptions,
    isolation: IsolationSettings | None = None,
    progress: str | None = None,
) -> pa.Table:
    """Work units for a batch of documents, leaving out pages that already have rows (resume).

    Opening a document runs under the per-document deadline; a document that killed workers
    before is planned alone, and becomes an error row once it has done so too often.
    """
    with timed(progress, PLAN_STAGE):
        return _plan(batch.to_pylist(), options, isolation, progress)


def _plan(
    items: list[dict[str, Any]],
    options: ExtractOptions,
    isolation: IsolationSettings | None,
    progress: str | None,
) -> pa.Table:
    guard = guard_for(isolation)
    keys = [f"{PLAN_STAGE}:{item['source_uri']}" for item in items]
    verdicts = guard.triage(PLAN_STAGE, keys)[0] if guard else {}
    limits = isolation.document_limits if isolation else Limits()
    units: list[dict[str, Any]] = []
    with guard.hold(PLAN_STAGE, keys, seconds=limits.seconds) if guard else nullcontext():
        for key, item in zip(keys, items, strict=True):
            verdict = verdicts.get(key)
            if verdict is not None and verdict.failed:
                error_type, message = failure_message(verdict, "opening the document")
                units.append(failed_unit(item["source_uri"], error_type, message))
                continue
            with guarded(guard, PLAN_STAGE, key, verdict, limits):
                units.extend(
                    plan_document(
                        item["source_uri"], options, item["done_doc_id"], item["done_pages"]
                    )
                )
    count(progress, documents=len(items), planned=sum(map(_rows_of, units)))
    return to_table(units, UNIT_SCHEMA)


def _rows_of(unit: dict[str, Any]) -> int:
    """Rows a unit becomes: one per page, or the document's error row."""
    return 1 if unit.get("error_type") else int(unit["page_stop"]) - int(unit["page_start"])


def extract_batch(
    batch: pa.Table,
    options: ExtractOptions,
    context: RowContext,
    pages_dir: str,
    rows_per_file: int,
    isolation: IsolationSettings | None = None,
    progress: str | None = None,
) -> Iterator[pa.Table]:
    """Page rows for a batch of work units.

    Finished rows (text route, errors) are written here, as one shard per batch, and never travel
    further: most pages of most corpora take the text route, and sending them through the model
    actors and a separate write stage costs more than extracting them. Only OCR-route rows are
    yielded, in bounded tables, for the actor pool. Every page runs under the hard deadline, and
    the batch's pages are declared to the flight log (:mod:`ops.flight`) first.
    """
    units = batch.to_pylist()
    context = replace(context, node=this_node())
    guard = guard_for(isolation)
    keys = [
        page_key(RENDER_STAGE, unit["source_uri"], index)
        for unit in units
        for index in range(unit["page_start"], unit["page_stop"])
    ]
    verdicts = guard.triage(RENDER_STAGE, keys)[0] if guard else {}
    limits = isolation.page_limits if isolation else Limits()
    with timed(progress, PAGES_STAGE), guard.hold(RENDER_STAGE, keys) if guard else nullcontext():
        yield from _extract_units(
            units, options, context, pages_dir, rows_per_file, guard, verdicts, limits, progress
        )


def _extract_units(
    units: list[dict[str, Any]],
    options: ExtractOptions,
    context: RowContext,
    pages_dir: str,
    rows_per_file: int,
    guard: Guard | None,
    verdicts: dict[str, Verdict],
    limits: Limits,
    progress: str | None,
) -> Iterator[pa.Table]:
    finished: list[dict[str, Any]] = []
    pending: list[dict[str, Any]] = []
    pending_bytes = 0
    for unit in units:
        for row in extract_unit(unit, options, context, guard, verdicts, limits):
            if row.get("status") != STATUS_PENDING:
                finished.append(row)
                continue
            pending.append(row)
            pending_bytes += len(row[IMAGE_COLUMN])
            if len(pending) >= MAX_ROWS_PER_PAGE_BATCH or pending_bytes >= MAX_BYTES_PER_PAGE_BATCH:
                yield to_table(pending)
                pending, pending_bytes = [], 0
    if finished:
        keys = [f"{unit['source_uri']}#{unit['page_start']}" for unit in units]
        name = shard_name(f"{context.run_id}-pages", keys)
        for part, start in enumerate(range(0, len(finished), rows_per_file)):
            chunk = to_table(finished[start : start + rows_per_file])
            write_shard(chunk, pages_dir, name if part == 0 else f"{name}-{part}")
        statuses = [row.get("status") or "" for row in finished]
        routes = [row.get("route") or "" for row in finished]
        failed = statuses.count(STATUS_ERROR)
        count_routes(progress, routes, statuses, done=len(finished), failed=failed)
    if pending:
        yield to_table(pending)


WRITTEN_SCHEMA = pa.schema([pa.field("shard", pa.string()), pa.field("rows", pa.int64())])


def write_batch(
    batch: pa.Table, pages_dir: str, run_id: str, progress: str | None = None
) -> pa.Table:
    """Write finished OCR-route rows as one shard, atomically, named after the pages it holds: a
    batch Ray retries rewrites the same file instead of adding a second copy of its rows."""
    if batch.num_rows == 0:
        return WRITTEN_SCHEMA.empty_table()
    with timed(progress, WRITE_STAGE):
        return _write(batch, pages_dir, run_id)


def _write(batch: pa.Table, pages_dir: str, run_id: str) -> pa.Table:
    keys = [
        f"{doc}#{index}"
        for doc, index in zip(
            batch.column("doc_id").to_pylist(), batch.column("page_index").to_pylist(), strict=True
        )
    ]
    path = write_shard(batch, pages_dir, shard_name(f"{run_id}-ocr", keys))
    return pa.Table.from_pylist([{"shard": path, "rows": batch.num_rows}], schema=WRITTEN_SCHEMA)


class OcrActor:
    """One backend per actor process, loaded on the first batch and reused for the rest.

    Loading lazily means a corpus that is all text route never pays for loading models, and a
    backend that cannot load still fails the job loudly, on its first page.
    """

    def __init__(
        self,
        backend: str,
        backend_options: dict[str, str],
        orientation: str,
        batch_policy: BatchPolicy,
        fallback: str | None,
        isolation: IsolationSettings | None = None,
        fallback_options: dict[str, str] | None = None,
        progress: str | None = None,
        text_steps: TextSteps | None = None,
    ) -> None:
        self._guard = guard_for(isolation)
        self._progress = progress
        self._runner = OcrRunner(
            create(backend, backend_options),
            orientation=orientation,
            batch_policy=batch_policy,
            fallback=create(fallback, fallback_options or {}) if fallback else None,
            guard=self._guard,
            page_timeout_s=isolation.page_timeout_s if isolation else None,
            node=this_node(),
            text_steps=text_steps,
        )
        self._loaded = False
        self._actor = f"{this_node()}:{os.getpid()}"

    def __call__(self, batch: pa.Table) -> pa.Table:
        if not self._loaded:
            self._load()
            self._loaded = True
        with timed(self._progress, OCR_STAGE):
            rows = self._runner.process(batch)
        statuses = rows.column("status").to_pylist()
        routes = rows.column("route").to_pylist()
        failed = statuses.count(STATUS_ERROR)
        count_routes(self._progress, routes, statuses, done=rows.num_rows, failed=failed)
        report_batch_size(self._progress, self._actor, self._runner.batcher.size)
        return rows

    def _load(self) -> None:
        """Load the engine, counting a process that dies while loading as an engine death: an
        engine that cannot load (a segfault, the GPU gone) fails the job after a few restarts
        instead of restarting forever."""
        if self._guard is None:
            self._runner.load()
            return
        import ray

        key = f"{LOAD_STAGE}:{ray.get_runtime_context().get_actor_id()}"
        _, dead = self._guard.triage(OCR_STAGE, [key])
        if dead:
            raise EngineDead(f"the OCR engine is dead: {dead}")
        with self._guard.hold(OCR_STAGE, [key], alone=True, progress=False):
            self._runner.load()
