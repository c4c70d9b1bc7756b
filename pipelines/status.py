"""``pagemill status OUTPUT``: what an OUTPUT holds and what is left, without starting Ray.

Counts come from the Parquet rows (the record of finished work) and the run manifests (what each
run set out to do): pages done and failed per run and per route, pages still pending (documents
partly done, inputs never started), the most common errors with an example each, and the command
that finishes the job.
"""

from __future__ import annotations

import shlex
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ops import ledger
from ops.schema import STATUS_OK
from pipelines import outputs
from pipelines.cost import combined, priced
from pipelines.lock import OutputLock
from pipelines.rerun import resume_argv
from pipelines.sql import format_table

WORST_ERRORS = 5


@dataclass
class Status:
    output: str
    runs: list[dict[str, Any]] = field(default_factory=list)  # run_id, state, ok, failed
    by_route: dict[str, dict[str, int]] = field(default_factory=dict)  # route -> ok/error
    pages_ok: int = 0
    pages_failed: int = 0
    document_errors: int = 0
    pages_pending: int = 0  # of documents partly done
    documents_not_started: int = 0  # inputs of the latest run with no row at all
    errors: list[dict[str, Any]] = field(default_factory=list)  # type, count, example
    next_commands: list[str] = field(default_factory=list)
    cost: dict[str, Any] = field(default_factory=dict)  # all runs together (pipelines.cost)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def collect(
    output: str, price_per_core_hour: float | None = None, price_per_gpu_hour: float | None = None
) -> Status:
    """What OUTPUT holds; the prices, when given, price every run's cost figures (replacing
    the prices the run itself was given, if any)."""
    status = Status(output)
    prices = {"price_per_core_hour": price_per_core_hour, "price_per_gpu_hour": price_per_gpu_hour}
    manifests = outputs.read_manifests(output)
    table = ledger.read_keys(
        outputs.pages_dir(output),
        [*ledger.KEY_COLUMNS, "route", "run_id", "error_type", "error_message"],
    )
    rows = table.to_pylist()
    per_run: dict[str, Counter] = {}
    per_error: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        ok = row["status"] == STATUS_OK
        per_run.setdefault(row["run_id"], Counter())["ok" if ok else "failed"] += 1
        if row["page_index"] is None:
            status.document_errors += 1
        elif ok:
            status.pages_ok += 1
        else:
            status.pages_failed += 1
        route = status.by_route.setdefault(row["route"] or "unrouted", {"ok": 0, "error": 0})
        route["ok" if ok else "error"] += 1
        if not ok:
            per_error.setdefault(row["error_type"] or "unknown", []).append(row)
    for manifest in manifests:
        run_id = manifest.get("run_id", "?")
        counts = per_run.get(run_id, Counter())
        state = manifest.get("state", "finished")
        if state == "running":
            state = _running_or_dead(output, run_id)
        status.runs.append(
            {
                "run_id": run_id,
                "state": state,
                "started_at": manifest.get("started_at", ""),
                "rows_ok": counts["ok"],
                "rows_failed": counts["failed"],
                "cause": manifest.get("cause"),
                "cost": priced(manifest.get("cost") or {}, **prices),
            }
        )
    status.cost = priced(combined([run["cost"] for run in status.runs]), **prices)
    records = ledger.load(outputs.pages_dir(output))
    status.pages_pending = sum(
        record.pending(retry_failed=False) or 0
        for record in records.values()
        if not record.document_error
    )
    latest = manifests[-1] if manifests else None
    if latest is not None:
        inputs = outputs.read_inputs(output, latest["run_id"])
        status.documents_not_started = sum(1 for uri in inputs if uri not in records)
    for error_type, failed in sorted(per_error.items(), key=lambda item: -len(item[1])):
        example = failed[0]
        where = example["source_uri"]
        if example["page_index"] is not None:
            where += f" page {example['page_index'] + 1}"
        status.errors.append(
            {
                "error_type": error_type,
                "rows": len(failed),
                "example": where,
                "message": example["error_message"],
            }
        )
    status.errors = status.errors[:WORST_ERRORS]
    status.next_commands = _next_commands(status, latest)
    return status


def _running_or_dead(output: str, run_id: str) -> str:
    """A manifest still ``running`` is a live run only while it holds OUTPUT's lock with a
    fresh heartbeat; otherwise its process died without recording an end (SIGKILL, power)."""
    lock = OutputLock(output, "status")
    holder = lock.read()
    if holder is not None and holder.run_id == run_id and not lock.is_stale(holder):
        return f"running (pid {holder.pid} on {holder.host})"
    return "died (no end recorded)"


def _next_commands(status: Status, latest: dict[str, Any] | None) -> list[str]:
    if latest is None:
        return []
    base = resume_argv(latest.get("config", {}), status.output)
    commands = []
    if status.pages_pending or status.documents_not_started:
        commands.append(shlex.join(base) + "    # finish the pending pages")
    if status.pages_failed or status.document_errors:
        commands.append(shlex.join([*base, "--retry-failed"]) + "    # also redo the failed ones")
    return commands


def render(status: Status) -> str:
    done = [
        ["pages ok", str(status.pages_ok)],
        ["pages failed", str(status.pages_failed)],
        ["documents that never opened", str(status.document_errors)],
        ["pages pending (documents partly done)", str(status.pages_pending)],
        ["documents not started", str(status.documents_not_started)],
    ]
    parts = [format_table([f"pagemill status {status.output}", "count"], done)]
    if status.by_route:
        routes = [[route, str(c["ok"]), str(c["error"])] for route, c in status.by_route.items()]
        parts.append(format_table(["route", "ok", "error"], sorted(routes)))
    if status.runs:
        parts.append(_runs_table(status))
    if status.errors:
        worst = [
            [e["error_type"], str(e["rows"]), e["example"], _short(e["message"])]
            for e in status.errors
        ]
        parts.append(format_table(["error", "rows", "example", "message"], worst))
    if status.next_commands:
        parts.append("next:\n" + "\n".join(f"  {command}" for command in status.next_commands))
    else:
        parts.append("nothing left to do")
    return "\n\n".join(parts)


def _runs_table(status: Status) -> str:
    """One line per run with what it cost per million pages; a total line for several runs."""
    with_gpu = any(run["cost"].get("gpu_hours") for run in status.runs)
    with_price = any("price_per_million_pages" in run["cost"] for run in status.runs)
    header = ["run", "state", "rows ok", "rows failed", "core-h / 1M pages"]
    header += ["GPU-h / 1M pages"] * with_gpu + ["price / 1M pages"] * with_price

    def money(figures: dict[str, Any]) -> list[str]:
        cells = [_per_million(figures, "core_hours_per_million_pages", "{:,.1f}")]
        if with_gpu:
            cells.append(_per_million(figures, "gpu_hours_per_million_pages", "{:,.1f}"))
        if with_price:
            cells.append(_per_million(figures, "price_per_million_pages", "{:,.2f}"))
        return cells

    rows = [
        [
            r["run_id"],
            f"{r['state']}: {r['cause']}" if r.get("cause") else r["state"],
            str(r["rows_ok"]),
            str(r["rows_failed"]),
            *money(r["cost"]),
        ]
        for r in status.runs
    ]
    if len(status.runs) > 1:
        ok = sum(r["rows_ok"] for r in status.runs)
        failed = sum(r["rows_failed"] for r in status.runs)
        rows.append(["all runs", "", str(ok), str(failed), *money(status.cost)])
    return format_table(header, rows)


def _per_million(figures: dict[str, Any], key: str, spec: str) -> str:
    return spec.format(figures[key]) if key in figures else "-"


def _short(text: str | None, width: int = 90) -> str:
    text = (text or "").replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"
