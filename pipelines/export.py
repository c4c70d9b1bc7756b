"""``pagemill export``: an output's pages as markdown per document, JSONL per page, or Dolma.

Two streaming passes: DuckDB reads the selected rows (``--where``) shard by shard and each goes
to a bucket file by a hash of its document (:mod:`ops.spill_groups`); then each bucket, sized
to the memory budget from the shards' footers, is sorted by document and page and its documents
are written: markdown as one file each, JSONL/Dolma lines straight into shard files of bounded
size. Memory is one bucket, whatever the output's size. Documents come out sorted by source
within a bucket (an output that fits one bucket is sorted throughout), in the same order every
time; names are deterministic, so a rerun rewrites the same files, and files an earlier export
wrote that this one did not are removed: no duplicates, however often it runs.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pyarrow import fs

from ops import __version__
from ops.exports import (
    DEFAULT_PAGE_MARKER,
    LineShards,
    dolma_document,
    jsonl_line,
    markdown_document,
    markdown_names,
)
from ops.schema import PAGE_SCHEMA
from ops.shards import TEMPORARY_PREFIX, write_atomically
from ops.spill_groups import BUCKET_COLUMN, SpilledGroups, bucket_count
from ops.uris import check_no_credentials, join, resolve
from pipelines import outputs
from pipelines.sql import check_read_only, connect

FORMATS = ("markdown", "jsonl", "dolma")
FOLDERS = {"markdown": "markdown", "jsonl": "jsonl", "dolma": "dolma/documents"}
MANIFEST = "_export.json"
BATCH_ROWS = 2_000
# Within a bucket (see ops.spill_groups): document and page order; where a page has several
# rows (superseded ones a killed run left before it reconciled), the one a run's reconciliation
# keeps comes first: ok over error, then the newest.
ORDER = [
    ("source_uri", "ascending"),
    ("_doc", "ascending"),
    ("_page", "ascending"),  # -1 for a document-level row: first
    ("_ok", "descending"),
    ("processed_at", "descending"),
]
SORT_COLUMNS = (
    "coalesce(doc_id, '') AS _doc, coalesce(page_index, -1) AS _page, status = 'ok' AS _ok"
)
# Share of --memory-mb one bucket of rows may take (it is copied once while sorted).
BUCKET_SHARE = 4


@dataclass(frozen=True)
class ExportConfig:
    output: str
    dest: str
    formats: tuple[str, ...] = ("markdown",)
    where: str | None = None  # a SQL condition on the pages view, e.g. "status = 'ok'"
    columns: tuple[str, ...] | None = None  # jsonl: these columns only
    page_marker: str = DEFAULT_PAGE_MARKER  # markdown: before each page; {page} is its number
    shard_mb: int = 128  # jsonl and dolma shards: uncompressed MB per file
    memory_mb: int = 512  # DuckDB's memory limit while sorting; beyond it, it spills to disk

    def check(self) -> None:
        unknown = sorted(set(self.formats) - set(FORMATS))
        if not self.formats or unknown:
            raise ValueError(
                f"--format takes {', '.join(FORMATS)} (comma-separated), not {','.join(unknown)}"
            )
        missing = sorted(set(self.columns or ()) - set(PAGE_SCHEMA.names))
        if missing:
            raise ValueError(f"--columns: no column {', '.join(missing)} in the page schema")
        if "{page}" not in self.page_marker:
            raise ValueError("--page-marker must contain {page}, where the page number goes")
        if self.shard_mb < 1 or self.memory_mb < 64:
            raise ValueError("--shard-mb must be at least 1 and --memory-mb at least 64")
        for location in (self.output, self.dest):
            check_no_credentials(location)
        if not outputs.has_pages(self.output):
            raise FileNotFoundError(f"no Parquet pages under {outputs.pages_dir(self.output)!r}")
        if _inside(self.dest, outputs.pages_dir(self.output)):
            raise ValueError(f"DEST must not be inside {outputs.pages_dir(self.output)}")


@dataclass
class ExportResult:
    documents: int = 0
    pages: int = 0
    error_rows: int = 0  # pages, or whole documents, that could not be read
    files: dict[str, list[str]] = field(default_factory=dict)
    dolma_skipped: int = 0  # documents without a readable page: no Dolma record
    removed: int = 0  # files of an earlier export that this one did not write
    seconds: float = 0.0
    manifest: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "documents": self.documents,
            "pages": self.pages,
            "error_rows": self.error_rows,
            "files": {name: len(files) for name, files in self.files.items()},
            "dolma_skipped_documents": self.dolma_skipped,
            "stale_files_removed": self.removed,
            "seconds": round(self.seconds, 3),
        }


def export(config: ExportConfig) -> ExportResult:
    config.check()
    began = time.perf_counter()
    result = ExportResult(files={name: [] for name in config.formats})
    with tempfile.TemporaryDirectory(prefix="pagemill-export-") as spill:
        connection = connect(config.output, memory_mb=config.memory_mb, spill_dir=spill)
        try:
            _export_rows(config, connection, result, spill)
        finally:
            connection.close()
    result.removed = _remove_stale(config, result.files)
    result.seconds = time.perf_counter() - began
    result.manifest = _write_manifest(config, result)
    return result


def _export_rows(config: ExportConfig, connection: Any, result: ExportResult, spill: str) -> None:
    names = {}
    if "markdown" in config.formats:
        # Named against every source of the output, not the selected ones: a file keeps its
        # name whatever --where picks.
        sources = connection.sql("SELECT DISTINCT source_uri FROM pages").fetchall()
        names = markdown_names(row[0] for row in sources)
    shards = _line_shards(config)
    added = datetime.now(UTC).date().isoformat()
    for pages in _documents(config, connection, spill):
        result.documents += 1
        result.pages += sum(row["page_number"] is not None for row in pages)
        result.error_rows += sum(row["status"] != "ok" for row in pages)
        if "markdown" in config.formats:
            result.files["markdown"].append(_write_markdown(config, names, pages))
        if "jsonl" in shards:
            for row in pages:
                shards["jsonl"].add(jsonl_line(row, config.columns))
        if "dolma" in shards:
            document = dolma_document(pages, added, __version__)
            if document is None:
                result.dolma_skipped += 1
            else:
                shards["dolma"].add(json.dumps(document, ensure_ascii=False) + "\n")
    for name, writer in shards.items():
        writer.close()
        result.files[name] = writer.written


def _documents(config: ExportConfig, connection: Any, spill: str) -> Iterator[list[dict]]:
    """One document's rows at a time, one row per page, pages in order: the selected rows are
    streamed into buckets by document (one pass, DuckDB filtering), then each bucket sorted."""
    budget = config.memory_mb * 1024 * 1024 // BUCKET_SHARE
    buckets = bucket_count(outputs.list_shards(config.output), budget)
    condition = f"WHERE ({config.where})" if config.where else ""
    query = (
        f"SELECT *, {SORT_COLUMNS}, hash(coalesce(source_uri, ''), coalesce(doc_id, '')) "
        f"% {buckets} AS {BUCKET_COLUMN} FROM pages {condition}"
    )
    check_read_only(connection, query)  # --where is SQL too
    groups = SpilledGroups(spill, buckets)
    for batch in connection.sql(query).to_arrow_reader(BATCH_ROWS):
        groups.add(batch)
    for table in groups.sorted_buckets(ORDER):
        yield from _split_documents(table.drop_columns(["_doc", "_page", "_ok"]))


def _split_documents(table: Any) -> Iterator[list[dict[str, Any]]]:
    pages: list[dict[str, Any]] = []
    for batch in table.to_batches(BATCH_ROWS):
        for row in batch.to_pylist():
            if pages and (row["source_uri"], row["doc_id"]) != (
                pages[0]["source_uri"],
                pages[0]["doc_id"],
            ):
                yield _one_row_per_page(pages)
                pages = []
            pages.append(row)
    if pages:
        yield _one_row_per_page(pages)


def _write_markdown(config: ExportConfig, names: dict[str, str], pages: list[dict]) -> str:
    folder, _, name = names[pages[0]["source_uri"]].rpartition("/")
    data = markdown_document(pages, config.page_marker).encode("utf-8")
    return write_atomically(
        join(config.dest, FOLDERS["markdown"], *filter(None, [folder])),
        name,
        lambda stream: stream.write(data),
    )


def _line_shards(config: ExportConfig) -> dict[str, LineShards]:
    limit = config.shard_mb * 1024 * 1024
    shards = {}
    if "jsonl" in config.formats:
        shards["jsonl"] = LineShards(join(config.dest, FOLDERS["jsonl"]), "pages", limit, False)
    if "dolma" in config.formats:
        shards["dolma"] = LineShards(join(config.dest, FOLDERS["dolma"]), "pagemill", limit, True)
    return shards


def _one_row_per_page(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The first row of each page (the best, by :data:`ORDER`); a document-level error row only
    while the document has no page rows, as reconciliation decides."""
    kept, seen = [], set()
    for row in rows:
        if row["page_index"] not in seen:
            seen.add(row["page_index"])
            kept.append(row)
    if len(kept) > 1 and kept[0]["page_index"] is None:
        kept = kept[1:]
    return kept


def _remove_stale(config: ExportConfig, files: dict[str, list[str]]) -> int:
    """Files under this export's format folders that it did not write (an earlier export of
    more documents, or with other names), and temporaries of a killed export; nothing else in
    DEST is touched."""
    removed = 0
    for name, written in files.items():
        filesystem, root = resolve(join(config.dest, FOLDERS[name]))
        if filesystem.get_file_info(root).type != fs.FileType.Directory:
            continue
        keep = {resolve(uri)[1] for uri in written}
        for info in filesystem.get_file_info(fs.FileSelector(root, recursive=True)):
            hidden = info.base_name.startswith(TEMPORARY_PREFIX)
            if info.type == fs.FileType.File and (info.path not in keep or hidden):
                filesystem.delete_file(info.path)
                removed += not hidden
    return removed


def _write_manifest(config: ExportConfig, result: ExportResult) -> str:
    manifest = {
        "exported_at": datetime.now(UTC).isoformat(),
        "output": config.output,
        "formats": list(config.formats),
        "where": config.where,
        "columns": list(config.columns) if config.columns else None,
        "pagemill_version": __version__,
        **result.as_dict(),
    }
    data = json.dumps(manifest, indent=1).encode("utf-8")
    return write_atomically(config.dest, MANIFEST, lambda stream: stream.write(data))


def _inside(dest: str, folder: str) -> bool:
    if "://" in dest or "://" in folder:
        return (dest.rstrip("/") + "/").startswith(folder.rstrip("/") + "/")
    dest_path, folder_path = os.path.abspath(dest), os.path.abspath(folder)
    return dest_path == folder_path or dest_path.startswith(folder_path + os.sep)
