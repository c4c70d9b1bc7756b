"""The conversion job as a Ray Data graph:

    planning items → plan (hash, count pages, cut page ranges) → pages (text layer, route, render)
                   → OCR actor pool → Parquet shards

Streaming end to end: no stage holds a whole document's pages. Text-route and error rows are
written by the page tasks themselves; the graph's own output is one small row per OCR shard.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import ray
from ray.data import DataContext

import ops
from ops.backends.base import Backend
from ops.flight import IsolationSettings
from ops.pages import RowContext
from pipelines import outputs, scheduling
from pipelines.config import RunConfig
from pipelines.console import quiet_ray_data
from pipelines.isolation import start_recorder
from pipelines.progress import ProgressReporter, final_counts, stage_times, start_counters
from pipelines.runtime import cluster_cpus, ensure_ray, job_gpus
from pipelines.stages import OcrActor, extract_batch, plan_batch, write_batch

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


def execute(
    todo: list[dict[str, Any]], config: RunConfig, backend: Backend, run_id: str
) -> dict[str, Any]:
    """Run the graph over ``todo`` (see :func:`pipelines.resume.plan_resume`) on the configured
    Ray cluster; returns what the manifest records about it."""
    started_ray = ensure_ray(config.address, config.num_cpus, config.gpus, config.metrics_port)
    try:
        with data_context(config):
            pool = scheduling.plan_pool(
                backend.declared_resources(),
                cluster_cpus(),
                config.pool_size,
                gpus=job_gpus(config.gpus),
            )
            context = RowContext(run_id=run_id, pipeline_version=ops.__version__)
            isolation = config.isolation(f"pagemill-flight-{run_id}")
            recorder = start_recorder(isolation)
            counters_name = f"pagemill-counters-{run_id}"
            counters = start_counters(counters_name, run_id)
            dataset = build_dataset(todo, config, context, pool, isolation, counters_name)
            began = time.perf_counter()
            if config.progress:
                with ProgressReporter(counters, documents_total=len(todo)):
                    dataset.materialize()
            else:
                dataset.materialize()
            graph_seconds = time.perf_counter() - began
            counts = final_counts(counters, documents_total=len(todo))
            return {
                "cluster": {"cpus": cluster_cpus(), "ocr_pool": pool.describe()},
                "worker_deaths": ray.get(recorder.deaths.remote()),
                "stages": stage_times(counts),
                "graph_wall_s": round(graph_seconds, 3),
                # GPUs the pool held for the whole graph (a fixed pool: one engine per GPU).
                "gpu_seconds": round(pool.size * pool.actor_gpus * graph_seconds, 3),
            }
    finally:
        if started_ray:
            ray.shutdown()


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
    # pagemill's own progress line (pipelines.progress) replaces Ray Data's per-operator bars.
    context.enable_progress_bars = False
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
        with quiet_ray_data():
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
    progress: str | None = None,
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
        fn_kwargs={"options": extract_options, "isolation": isolation, "progress": progress},
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
            "progress": progress,
        },
        **scheduling.page_task_kwargs(),
    )
    # Blocks of exactly one actor call each, so the last pages spread over the pool instead of
    # queueing behind one actor. Only OCR-route rows come this far, so this costs little.
    rows_per_call = config.resolved_rows_per_call()
    ocr_pages = pages.repartition(target_num_rows_per_block=rows_per_call)
    read = ocr_pages.map_batches(
        OcrActor,
        batch_format="pyarrow",
        batch_size=rows_per_call,
        fn_constructor_kwargs={
            "backend": config.backend,
            "backend_options": dict(config.backend_options),
            "orientation": config.orientation,
            "batch_policy": config.batch_policy(),
            "fallback": config.resolved_fallback(),
            "fallback_options": dict(config.fallback_options),
            "isolation": isolation,
            "progress": progress,
            "text_steps": config.resolved_text_steps(),
        },
        **pool.map_batches_kwargs(),
    )
    return read.map_batches(
        write_batch,
        batch_format="pyarrow",
        batch_size=min(OCR_ROWS_PER_FILE, config.rows_per_file),
        fn_kwargs={
            "pages_dir": outputs.pages_dir(config.output),
            "run_id": context.run_id,
            "progress": progress,
        },
        **scheduling.write_task_kwargs(),
    )


def units_per_page_task(documents: int) -> int:
    return max(MIN_UNITS_PER_PAGE_TASK, min(MAX_UNITS_PER_PAGE_TASK, documents))
