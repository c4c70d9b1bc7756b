"""What an OUTPUT already holds, page by page: the basis of resume and ``--retry-failed``.

The Parquet rows themselves are the record of finished work (no side database that could disagree
with them): a page is *done* when it has a row. A rerun skips done pages; with ``retry_failed``
only pages with an ``ok`` row count as done, so error rows are redone (and replaced, see
:mod:`ops.reconcile`). Only the few key columns are read, so checking a million-page output costs
seconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.dataset as pads
from pyarrow import fs

from ops.schema import PAGE_SCHEMA, STATUS_OK
from ops.uris import resolve

KEY_COLUMNS = ["doc_id", "source_uri", "page_index", "page_count", "status", "processed_at"]


@dataclass(slots=True)
class DocumentRecord:
    """The rows one source file has in the output (for its newest content: ``doc_id``)."""

    doc_id: str | None
    page_count: int | None = None
    ok_pages: set[int] = field(default_factory=set)
    failed_pages: set[int] = field(default_factory=set)
    document_error: bool = False  # a row for the whole document: it never opened

    def done_pages(self, retry_failed: bool) -> set[int]:
        return set(self.ok_pages) if retry_failed else self.ok_pages | self.failed_pages

    def complete(self, retry_failed: bool) -> bool:
        """Nothing left to do for this document."""
        if self.document_error:
            return not retry_failed
        if self.page_count is None:
            return False
        return len(self.done_pages(retry_failed)) >= self.page_count

    def pending(self, retry_failed: bool) -> int | None:
        """Pages still to do, or None when the page count is unknown (never opened)."""
        if self.page_count is None:
            return None
        return self.page_count - len(self.done_pages(retry_failed) & set(range(self.page_count)))


def read_keys(pages_dir: str, columns: list[str] | None = None) -> pa.Table:
    """The key columns of every finished shard (temporary ``.``-names are never read)."""
    columns = columns or KEY_COLUMNS
    filesystem, root = resolve(pages_dir)
    if filesystem.get_file_info(root).type != fs.FileType.Directory:
        return pa.table({name: pa.array([], pa.string()) for name in columns})
    dataset = pads.dataset(root, filesystem=filesystem, format="parquet", schema=PAGE_SCHEMA)
    return dataset.to_table(columns=columns)


def load(pages_dir: str) -> dict[str, DocumentRecord]:
    """``source_uri → DocumentRecord``. If a file's bytes changed between runs its rows carry two
    doc ids; the newest one is what the file is now, so only its rows count."""
    table = read_keys(pages_dir)
    if table.num_rows == 0:
        return {}
    newest = _newest_doc_ids(table)
    records: dict[str, DocumentRecord] = {}
    for uri, doc_id, index, count, status in _rows(table):
        if newest.get(uri) != doc_id:
            continue
        record = records.get(uri)
        if record is None:
            record = records[uri] = DocumentRecord(doc_id)
        if count is not None:
            record.page_count = count
        if index is None:
            record.document_error = True
        elif status == STATUS_OK:
            record.ok_pages.add(index)
        else:
            record.failed_pages.add(index)
    for record in records.values():
        record.failed_pages -= record.ok_pages
    return records


def _rows(table: pa.Table) -> Iterator[tuple]:
    return zip(
        table.column("source_uri").to_pylist(),
        table.column("doc_id").to_pylist(),
        table.column("page_index").to_pylist(),
        table.column("page_count").to_pylist(),
        table.column("status").to_pylist(),
        strict=True,
    )


def _newest_doc_ids(table: pa.Table) -> dict[str, str | None]:
    grouped = (
        table.select(["source_uri", "doc_id", "processed_at"])
        .group_by(["source_uri", "doc_id"], use_threads=False)
        .aggregate([("processed_at", "max")])
    )
    newest: dict[str, tuple[tuple[bool, float], str | None]] = {}
    for uri, doc_id, stamp in zip(
        grouped.column("source_uri").to_pylist(),
        grouped.column("doc_id").to_pylist(),
        grouped.column("processed_at_max").to_pylist(),
        strict=True,
    ):
        # A read failure (no doc id) never hides rows of content that was read.
        rank = (doc_id is not None, stamp.timestamp() if stamp is not None else 0.0)
        seen = newest.get(uri)
        if seen is None or rank > seen[0]:
            newest[uri] = (rank, doc_id)
    return {uri: doc_id for uri, (_, doc_id) in newest.items()}
