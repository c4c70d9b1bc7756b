"""The functions and actor class that Ray Data runs; thin adapters over ``ops``.

Every stage takes and returns pyarrow tables built against an explicit schema, so no batch can
change a column's type (Ray infers an all-null column as float and the Parquet write then fails).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from ops.backends import create
from ops.ocr import OcrRunner
from ops.pages import UNIT_FIELDS, ExtractOptions, RowContext, extract_unit, plan_document
from ops.schema import IMAGE_COLUMN, to_table

UNIT_SCHEMA = pa.schema(
    [
        pa.field("source_uri", pa.string()),
        pa.field("doc_id", pa.string()),
        pa.field("source_kind", pa.string()),
        pa.field("page_count", pa.int32()),
        pa.field("page_start", pa.int32()),
        pa.field("page_stop", pa.int32()),
        pa.field("error_type", pa.string()),
        pa.field("error_message", pa.string()),
        pa.field("error_stage", pa.string()),
    ]
)
assert tuple(UNIT_SCHEMA.names) == UNIT_FIELDS

# Output batches of the page stage are cut at whichever comes first, so that a unit of large
# rendered pages never sits in one oversized block.
MAX_ROWS_PER_PAGE_BATCH = 256
MAX_BYTES_PER_PAGE_BATCH = 32 * 1024 * 1024


def plan_batch(batch: pa.Table, options: ExtractOptions) -> pa.Table:
    units: list[dict[str, Any]] = []
    for uri in batch.column("source_uri").to_pylist():
        units.extend(plan_document(uri, options))
    return to_table(units, UNIT_SCHEMA)


def extract_batch(
    batch: pa.Table, options: ExtractOptions, context: RowContext
) -> Iterator[pa.Table]:
    rows: list[dict[str, Any]] = []
    size = 0
    for unit in batch.to_pylist():
        for row in extract_unit(unit, options, context):
            rows.append(row)
            size += len(row.get(IMAGE_COLUMN) or b"") + len(row.get("text") or "")
            if len(rows) >= MAX_ROWS_PER_PAGE_BATCH or size >= MAX_BYTES_PER_PAGE_BATCH:
                yield to_table(rows)
                rows, size = [], 0
    if rows:
        yield to_table(rows)


class OcrActor:
    """One loaded backend per actor process, reused for every batch it is given."""

    def __init__(
        self, backend: str, backend_options: dict[str, str], detect_orientation: bool
    ) -> None:
        self._runner = OcrRunner(
            create(backend, backend_options), detect_orientation=detect_orientation
        )
        self._runner.load()

    def __call__(self, batch: pa.Table) -> pa.Table:
        return self._runner.process(batch)
