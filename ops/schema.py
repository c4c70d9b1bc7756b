"""The Parquet schema: one row per page, and one row per document that could not be opened.

Every stage builds its output with :func:`to_table`, so column types never drift between shards
(an all-null column in one batch stays a string column, not a float one).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa

PAGE_FIELDS: list[pa.Field] = [
    pa.field("doc_id", pa.string()),  # sha256 of the file's bytes
    pa.field("source_uri", pa.string()),
    pa.field("source_kind", pa.string()),  # pdf | image
    pa.field("page_index", pa.int32()),  # 0-based; null on a document-level error row
    pa.field("page_number", pa.int32()),  # 1-based; null on a document-level error row
    pa.field("page_count", pa.int32()),
    pa.field("route", pa.string()),  # text | ocr; null when the document never opened
    pa.field("route_reason", pa.string()),
    pa.field("backend", pa.string()),
    pa.field("model", pa.string()),
    pa.field("text", pa.string()),
    # Running heads, page numbers and footers taken off the ends of `text` (null: none found).
    pa.field("header_text", pa.string()),
    pa.field("footer_text", pa.string()),
    pa.field("markdown", pa.string()),  # `text` with its structure (tables); null: same as text
    pa.field("primary_language", pa.string()),  # ISO 639-1, from script and words; null: unsure
    pa.field("char_count", pa.int32()),
    pa.field("text_layer_score", pa.float32()),
    pa.field("dpi", pa.int32()),
    pa.field("image_width", pa.int32()),
    pa.field("image_height", pa.int32()),
    pa.field("page_width_pt", pa.float32()),
    pa.field("page_height_pt", pa.float32()),
    pa.field("rotation", pa.int32()),  # degrees clockwise applied to the image before OCR
    pa.field("latency_ms", pa.float32()),
    pa.field("batch_size", pa.int32()),  # pages in the engine call that read this page
    pa.field("attempts", pa.int32()),  # engine reads of this page (VLM retries included)
    pa.field("is_fallback", pa.bool_()),  # read by the fallback engine after the model failed
    pa.field("finish_reason", pa.string()),  # as the generative engine reported it
    pa.field("input_tokens", pa.int32()),
    pa.field("output_tokens", pa.int32()),
    pa.field("status", pa.string()),  # ok | error
    pa.field("error_type", pa.string()),
    pa.field("error_message", pa.string()),
    pa.field("error_stage", pa.string()),  # read | open | page | render | orientation | ocr
    pa.field("run_id", pa.string()),
    pa.field("pipeline_version", pa.string()),
    pa.field("node", pa.string()),  # the machine that produced the row (host and Ray node id)
    pa.field("processed_at", pa.timestamp("us", tz="UTC")),
]

PAGE_SCHEMA = pa.schema(PAGE_FIELDS)

# Encoded page image (PNG) carried from rendering to the OCR actors; never written to Parquet.
IMAGE_COLUMN = "image"
IN_FLIGHT_SCHEMA = PAGE_SCHEMA.append(pa.field(IMAGE_COLUMN, pa.binary()))

# A work unit: one document's page range, or the reason the document cannot be processed.
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

STATUS_OK = "ok"
STATUS_ERROR = "error"
ROUTE_TEXT = "text"
ROUTE_OCR = "ocr"


def to_table(rows: Iterable[Mapping[str, Any]], schema: pa.Schema = IN_FLIGHT_SCHEMA) -> pa.Table:
    """Build a table with exactly ``schema``'s columns and types; missing keys become nulls."""
    rows = list(rows)
    columns = [
        pa.array([row.get(name) for row in rows], type=schema.field(name).type)
        for name in schema.names
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def conform(table: pa.Table, schema: pa.Schema = PAGE_SCHEMA) -> pa.Table:
    """Select and cast ``table`` to ``schema``, adding null columns for any that are missing."""
    arrays = []
    for field in schema:
        if field.name in table.column_names:
            arrays.append(table.column(field.name).cast(field.type))
        else:
            arrays.append(pa.nulls(table.num_rows, type=field.type))
    return pa.Table.from_arrays(arrays, schema=schema)
