"""What a run produced, read back from its own Parquet rows (so the summary cannot disagree with
the output)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pyarrow.compute as pc
import pyarrow.dataset as pads

from ops.schema import PAGE_SCHEMA
from pipelines import outputs


@dataclass(frozen=True)
class RunSummary:
    inputs: int
    documents: int
    pages: int  # rows with a page index
    document_errors: int  # rows for documents that never opened
    by_route_status: dict[str, int] = field(default_factory=dict)  # "text/ok" -> n
    by_error_type: dict[str, int] = field(default_factory=dict)
    wall_seconds: float = 0.0
    # Engine calls: how many pages each call read (where the adaptive size settled), and for
    # model backends what the pages cost and how many the fallback engine had to read.
    batch_sizes: dict[int, int] = field(default_factory=dict)  # forward batch size -> pages
    fallback_pages: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    # Resume: what earlier runs had already done, so this run left it alone.
    documents_skipped: int = 0
    pages_skipped: int = 0
    # Seconds this run's pages took in the workers, per route (their latency_ms summed).
    route_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def pages_per_second(self) -> float:
        return self.pages / self.wall_seconds if self.wall_seconds > 0 else 0.0

    @property
    def error_rows(self) -> int:
        return sum(self.by_error_type.values())

    def route_pages(self) -> dict[str, int]:
        pages: Counter[str] = Counter()
        for key, count in self.by_route_status.items():
            pages[key.split("/", 1)[0]] += count
        return dict(pages)

    def as_dict(self) -> dict[str, Any]:
        return {
            "input_count": self.inputs,
            "documents": self.documents,
            "pages": self.pages,
            "document_errors": self.document_errors,
            "pages_by_route_status": self.by_route_status,
            "errors_by_type": self.by_error_type,
            "timings": {
                "wall_s": round(self.wall_seconds, 3),
                "pages_per_s": round(self.pages_per_second, 2),
            },
            "resume": {
                "documents_skipped": self.documents_skipped,
                "pages_skipped": self.pages_skipped,
            },
            "engine": {
                "pages_by_batch_size": {str(size): n for size, n in self.batch_sizes.items()},
                "fallback_pages": self.fallback_pages,
                "input_tokens": self.input_tokens,
                "output_tokens": self.output_tokens,
            },
        }


def summarise(
    output: str,
    run_id: str,
    inputs: int,
    wall_seconds: float,
    *,
    documents_skipped: int = 0,
    pages_skipped: int = 0,
) -> RunSummary:
    dataset = pads.dataset(outputs.pages_dir(output), format="parquet", schema=PAGE_SCHEMA)
    table = dataset.to_table(
        columns=[
            "source_uri",
            "page_index",
            "route",
            "status",
            "error_type",
            "batch_size",
            "is_fallback",
            "input_tokens",
            "output_tokens",
            "latency_ms",
        ],
        filter=pc.field("run_id") == run_id,
    )
    page_index = table.column("page_index")
    page_rows = table.filter(pc.is_valid(page_index))
    by_route_status = Counter(
        f"{route or 'unrouted'}/{status}"
        for route, status in zip(
            page_rows.column("route").to_pylist(),
            page_rows.column("status").to_pylist(),
            strict=True,
        )
    )
    latency = page_rows.filter(pc.is_valid(page_rows.column("route")))
    latency = latency.group_by("route").aggregate([("latency_ms", "sum")]).to_pydict()
    route_seconds = {
        route: total / 1000
        for route, total in zip(latency["route"], latency["latency_ms_sum"], strict=True)
        if total
    }
    errors = Counter(value for value in table.column("error_type").to_pylist() if value)
    batch_sizes = Counter(size for size in table.column("batch_size").to_pylist() if size)
    return RunSummary(
        inputs=inputs,
        documents=len(pc.unique(table.column("source_uri"))),
        pages=table.num_rows - page_index.null_count,
        document_errors=page_index.null_count,
        by_route_status=dict(sorted(by_route_status.items())),
        by_error_type=dict(errors.most_common()),
        wall_seconds=wall_seconds,
        batch_sizes=dict(sorted(batch_sizes.items())),
        fallback_pages=int(pc.sum(pc.cast(table.column("is_fallback"), "int64")).as_py() or 0),
        input_tokens=int(pc.sum(table.column("input_tokens")).as_py() or 0),
        output_tokens=int(pc.sum(table.column("output_tokens")).as_py() or 0),
        documents_skipped=documents_skipped,
        pages_skipped=pages_skipped,
        route_seconds=route_seconds,
    )
