"""The conversion job, as the driver runs it: validate, resume, run the graph, summarise.

    inputs → reconcile OUTPUT → resume plan (skip documents already done) → Ray Data graph
           (:mod:`pipelines.graph`, only if anything is left) → reconcile → summary + manifest

Before and after the graph the OUTPUT is reconciled to one row per page; documents that are
already done are left out, so a rerun of a finished OUTPUT never starts Ray.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from ops.backends import Backend, backend_class
from ops.reconcile import reconcile
from ops.uris import check_no_credentials
from pipelines import outputs
from pipelines.config import RunConfig
from pipelines.cost import cost_figures
from pipelines.inputs import resolve_inputs
from pipelines.lock import OutputLock
from pipelines.lock import describe as describe_lock
from pipelines.rerun import changed_result_settings
from pipelines.resume import plan_resume
from pipelines.summary import RunSummary, summarise


@dataclass(frozen=True)
class RunResult:
    run_id: str
    summary: RunSummary
    manifest_path: str
    # Result settings this resume changed from the output's last run (``name: old -> new``).
    changed_settings: list[str] = field(default_factory=list)
    cost: dict[str, Any] = field(default_factory=dict)  # pipelines.cost.cost_figures


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def run(config: RunConfig) -> RunResult:
    """Convert ``config.input`` into Parquet under ``config.output`` and return the run summary.

    An OUTPUT that already holds pages is resumed: only pages without a row are processed (and,
    with ``retry_failed``, pages whose row is an error), so rerunning a killed or finished command
    never redoes or duplicates work.
    """
    for location in (*config.input_specs(), config.output):
        check_no_credentials(location)  # URIs go into manifests and rows
    outputs.check_location(config.output)
    uris = resolve_inputs(config.input)
    backend_cls = backend_class(config.backend)
    backend_cls.check_dependencies()
    backend = backend_cls(**config.backend_options)  # validates options before any cluster work
    config.batch_policy()  # and batch sizes
    config.resolved_fallback()  # and the fallback engine
    config.extract_options()  # and the password files
    run_id = new_run_id()
    with OutputLock(config.output, run_id) as lock:  # one run at a time per OUTPUT
        return _run_holding_lock(config, uris, backend, run_id, describe_lock(lock))


def _run_holding_lock(
    config: RunConfig, uris: list[str], backend: Backend, run_id: str, lock: dict[str, Any]
) -> RunResult:
    earlier = [] if config.overwrite else outputs.read_manifests(config.output)
    before = earlier[-1].get("config", {}) if earlier else {}
    changed = changed_result_settings(before, config.public_dict())
    outputs.prepare(config.output, overwrite=config.overwrite)
    began = time.perf_counter()
    manifest: dict[str, Any] = {
        "run_id": run_id,
        "state": "running",
        "started_at": datetime.now(UTC).isoformat(),
        "config": config.public_dict(),
        "versions": outputs.versions(),
        "lock": lock,
        "changed_settings": changed,
    }
    pages = outputs.pages_dir(config.output)
    manifest["repaired_before"] = asdict(reconcile(pages))
    resume = plan_resume(uris, pages, retry_failed=config.retry_failed)
    manifest["resume"] = resume.describe()
    outputs.write_inputs(config.output, run_id, uris)
    outputs.write_manifest(config.output, run_id, manifest)
    try:
        if resume.todo:
            from pipelines.graph import execute  # Ray is imported only when there is work

            manifest.update(execute(resume.todo, config, backend, run_id))
            manifest["repaired_after"] = asdict(reconcile(pages))
    except BaseException as exc:
        # The manifest says how the run ended, so `status` never shows a dead run as running.
        interrupted = isinstance(exc, KeyboardInterrupt)
        manifest.update(
            state="interrupted" if interrupted else "failed",
            finished_at=datetime.now(UTC).isoformat(),
            cause=failure_reason(exc),
        )
        outputs.write_manifest(config.output, run_id, manifest)
        raise
    summary = summarise(
        config.output,
        run_id,
        len(uris),
        time.perf_counter() - began,
        documents_skipped=resume.documents_done,
        pages_skipped=resume.pages_done,
    )
    cost = cost_figures(
        manifest.get("stages", {}),
        manifest.get("gpu_seconds", 0.0),
        summary.pages,
        summary.route_pages(),
        summary.route_seconds,
        config.price_per_core_hour,
        config.price_per_gpu_hour,
    )
    manifest.update(state="finished", finished_at=datetime.now(UTC).isoformat(), cost=cost)
    manifest.update(summary.as_dict())
    path = outputs.write_manifest(config.output, run_id, manifest)
    return RunResult(run_id, summary, path, changed, cost)


def failure_reason(exc: BaseException) -> str:
    """The line that names the cause, out of Ray's wrapped and chained task errors."""
    text = str(exc)
    for marker in ("EngineDead: ", "Error: "):
        for line in text.splitlines():
            if marker in line:
                return line.split(marker, 1)[1].strip()
    return text.strip().splitlines()[-1] if text.strip() else type(exc).__name__
