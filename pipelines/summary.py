"""What a run produced, read back from its own Parquet rows (so the summary cannot disagree with
the output)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pyarrow.compute as pc
import pyarrow.dataset as pads

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

    @property
    def pages_per_second(self) -> float:
        return self.pages / self.wall_seconds if self.wall_seconds > 0 else 0.0

    @property
    def error_rows(self) -> int:
        return sum(self.by_error_type.values())

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
        }


def summarise(output: str, run_id: str, inputs: int, wall_seconds: float) -> RunSummary:
    dataset = pads.dataset(outputs.pages_dir(output), format="parquet")
    table = dataset.to_table(
        columns=["source_uri", "page_index", "route", "status", "error_type"],
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
    errors = Counter(value for value in table.column("error_type").to_pylist() if value)
    return RunSummary(
        inputs=inputs,
        documents=len(pc.unique(table.column("source_uri"))),
        pages=table.num_rows - page_index.null_count,
        document_errors=page_index.null_count,
        by_route_status=dict(sorted(by_route_status.items())),
        by_error_type=dict(errors.most_common()),
        wall_seconds=wall_seconds,
    )
