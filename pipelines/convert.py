"""The conversion job as a Ray Data graph:

    document URIs → plan (hash, count pages, cut page ranges) → pages (text layer, route, render)
                  → OCR actor pool → Parquet shards

plus the run manifest and summary. Before and after the graph the OUTPUT is reconciled to one row
per page, and documents that are already done are left out (resume). Streaming end to end: no
stage holds a whole document's pages.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import ray
from ray.data import DataContext

import ops
from ops.backends import backend_class
from ops.flight import IsolationSettings
from ops.pages import RowContext
from ops.reconcile import reconcile
from pipelines import outputs, scheduling
from pipelines.config import RunConfig
from pipelines.inputs import resolve_inputs
from pipelines.isolation import start_recorder
from pipelines.resume import plan_resume
from pipelines.runtime import cluster_cpus, ensure_ray, job_gpus
from pipelines.stages import OcrActor, extract_batch, plan_batch, write_batch
from pipelines.summary import RunSummary, summarise

# Documents per planning call: small, so that big and small files spread over tasks.
DOCS_PER_PLAN_CALL = 32
# Work units per page task: many for a corpus of many (mostly small) documents, so that task
# overheads stay small; few for a handful of documents, whose units are full page ranges, so that
# one big PDF still spreads over every core instead of sitting in one task.
MAX_UNITS_PER_PAGE_TASK = 16
MIN_UNITS_PER_PAGE_TASK = 2
BLOCK_BYTES = 16 * 1024 * 1024
# OCR rows arrive a few at a time; gather this many per Parquet file rather than one file per batch.
# It is also the most finished OCR pages a killed job can lose (they are redone on the rerun).
OCR_ROWS_PER_FILE = 1000


@dataclass(frozen=True)
class RunResult:
    run_id: str
    summary: RunSummary
    manifest_path: str


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def run(config: RunConfig) -> RunResult:
    """Convert ``config.input`` into Parquet under ``config.output`` and return the run summary.

    An OUTPUT that already holds pages is resumed: only pages without a row are processed (and,
    with ``retry_failed``, pages whose row is an error), so rerunning a killed or finished command
    never redoes or duplicates work.
    """
    uris = resolve_inputs(config.input)
    backend_cls = backend_class(config.backend)
    backend_cls.check_dependencies()
    backend = backend_cls(**config.backend_options)  # validates options before any cluster work
    config.batch_policy()  # and batch sizes
    config.resolved_fallback()  # and the fallback engine
    outputs.prepare(config.output, overwrite=config.overwrite)
    run_id = new_run_id()
    began = time.perf_counter()
    manifest: dict[str, Any] = {
        "run_id": run_id,
        "state": "running",
        "started_at": datetime.now(UTC).isoformat(),
        "config": config.public_dict(),
        "versions": outputs.versions(),
    }
    pages = outputs.pages_dir(config.output)
    manifest["repaired_before"] = asdict(reconcile(pages))
    resume = plan_resume(uris, pages, retry_failed=config.retry_failed)
    manifest["resume"] = resume.describe()
    outputs.write_inputs(config.output, run_id, uris)
    outputs.write_manifest(config.output, run_id, manifest)
    if resume.todo:
        started_ray = ensure_ray(config.address, config.num_cpus, config.gpus)
        try:
            with data_context(config):
                pool = scheduling.plan_pool(
                    backend.declared_resources(),
                    cluster_cpus(),
                    config.pool_size,
                    gpus=job_gpus(config.gpus),
                )
                manifest["cluster"] = {"cpus": cluster_cpus(), "ocr_pool": pool.describe()}
                context = RowContext(run_id=run_id, pipeline_version=ops.__version__)
                isolation = config.isolation(f"pagemill-flight-{run_id}")
                recorder = start_recorder(isolation)
                build_dataset(resume.todo, config, context, pool, isolation).materialize()
                manifest["worker_deaths"] = ray.get(recorder.deaths.remote())
        finally:
            if started_ray:
                ray.shutdown()
    manifest["repaired_after"] = asdict(reconcile(pages))
    summary = summarise(
        config.output,
        run_id,
        len(uris),
        time.perf_counter() - began,
        documents_skipped=resume.documents_done,
        pages_skipped=resume.pages_done,
    )
    manifest.update(state="finished", finished_at=datetime.now(UTC).isoformat())
    manifest.update(summary.as_dict())
    return RunResult(run_id, summary, outputs.write_manifest(config.output, run_id, manifest))


@contextmanager
def data_context(config: RunConfig) -> Iterator[None]:
    """Job-wide Ray Data settings, restored afterwards so a caller's own context is untouched.

    The in-flight cap bounds rendered pages waiting for the model: without it Ray lets page tasks
    run ahead into a large share of the object store, and memory grows with the input size.
    """
    from ray.data import ExecutionResources

    context = DataContext.get_current()
    saved = (
        context.enable_progress_bars,
        context.target_max_block_size,
        context.execution_options.resource_limits,
        context.op_resource_reservation_enabled,
    )
    context.enable_progress_bars = config.progress
    # Ray Data's per-operator reservation splits the CPUs between the four stages; the actor pool's
    # minimum share alone exhausts it on small machines, leaving the page stage one task at a time
    # (measured: text route 0.7x the plain loop with it, 1.0-1.1x without). The in-flight cap below
    # and the pool's fixed CPU share already keep every stage live.
    context.op_resource_reservation_enabled = False
    # Blocks between stages hold rendered pages: smaller blocks mean an OCR actor holds tens of
    # pages at a time rather than hundreds, and work spreads evenly over the pool.
    context.target_max_block_size = BLOCK_BYTES
    context.execution_options.resource_limits = ExecutionResources.for_limits(
        object_store_memory=config.max_inflight_mb * 1024 * 1024
    )
    try:
        yield
    finally:
        (
            context.enable_progress_bars,
            context.target_max_block_size,
            context.execution_options.resource_limits,
            context.op_resource_reservation_enabled,
        ) = saved


def build_dataset(
    todo: list[dict[str, Any]],
    config: RunConfig,
    context: RowContext,
    pool: scheduling.PoolPlan,
    isolation: IsolationSettings | None = None,
) -> ray.data.Dataset:
    """The conversion graph for the planning items of :func:`pipelines.resume.plan_resume`; its
    output is one small row per OCR shard written (text-route shards are written upstream)."""
    extract_options = config.extract_options()
    units_per_task = units_per_page_task(len(todo))
    documents = ray.data.from_items(
        todo, override_num_blocks=max(1, min(len(todo), 1 + len(todo) // DOCS_PER_PLAN_CALL))
    )
    units = documents.map_batches(
        plan_batch,
        batch_format="pyarrow",
        batch_size=DOCS_PER_PLAN_CALL,
        fn_kwargs={"options": extract_options, "isolation": isolation},
        **scheduling.page_task_kwargs(),
    ).repartition(target_num_rows_per_block=units_per_task)
    pages = units.map_batches(
        extract_batch,
        batch_format="pyarrow",
        batch_size=units_per_task,
        fn_kwargs={
            "options": extract_options,
            "context": context,
            "pages_dir": outputs.pages_dir(config.output),
            "rows_per_file": config.rows_per_file,
            "isolation": isolation,
        },
        **scheduling.page_task_kwargs(),
    )
    # Blocks of exactly one actor call each, so the last pages spread over the pool instead of
    # queueing behind one actor. Only OCR-route rows come this far, so this costs little.
    ocr_pages = pages.repartition(target_num_rows_per_block=config.rows_per_call)
    read = ocr_pages.map_batches(
        OcrActor,
        batch_format="pyarrow",
        batch_size=config.rows_per_call,
        fn_constructor_kwargs={
            "backend": config.backend,
            "backend_options": dict(config.backend_options),
            "orientation": config.orientation,
            "batch_policy": config.batch_policy(),
            "fallback": config.resolved_fallback(),
            "isolation": isolation,
        },
        **pool.map_batches_kwargs(),
    )
    return read.map_batches(
        write_batch,
        batch_format="pyarrow",
        batch_size=min(OCR_ROWS_PER_FILE, config.rows_per_file),
        fn_kwargs={"pages_dir": outputs.pages_dir(config.output), "run_id": context.run_id},
        **scheduling.write_task_kwargs(),
    )


def units_per_page_task(documents: int) -> int:
    return max(MIN_UNITS_PER_PAGE_TASK, min(MAX_UNITS_PER_PAGE_TASK, documents))
