"""Keep exactly one row per page in an OUTPUT, whatever happened to earlier runs.

Rows can be superseded or doubled in four ways: ``--retry-failed`` writes a new row for a page
that has an error row; a page task killed after it handed pages on is retried by Ray and hands them
on again; a run killed between writing a page's new row and removing its old one; a file changed
in place since an earlier run (its old rows describe bytes that no longer exist). Every run
reconciles at its start and end: per page of each source file the best row is kept (``ok`` over
``error``, then the newest); a document-level error row goes once the document has page rows; a
file that cannot be read now keeps the rows it had. Only the shards that hold a dropped row are
rewritten (temp then rename, like every shard write); temporaries of killed writers are removed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.parquet as pq
from pyarrow import fs

from ops.schema import STATUS_OK
from ops.shards import COMPRESSION, TEMPORARY_PREFIX
from ops.uris import resolve

# What deciding which row of a page to keep needs of each row.
KEY_COLUMNS = ["doc_id", "source_uri", "page_index", "status", "processed_at"]


@dataclass
class Reconciliation:
    rows_dropped: int = 0
    shards_rewritten: int = 0
    temporaries_removed: int = 0
    reasons: dict[str, int] = field(default_factory=dict)  # why rows were dropped


def reconcile(pages_dir: str) -> Reconciliation:
    filesystem, root = resolve(pages_dir)
    outcome = Reconciliation()
    if filesystem.get_file_info(root).type != fs.FileType.Directory:
        return outcome
    outcome.temporaries_removed = _remove_temporaries(filesystem, root)
    dataset = pads.dataset(root, filesystem=filesystem, format="parquet")
    drops = _rows_to_drop(dataset, outcome)
    for path, positions in drops.items():
        _rewrite_without(filesystem, path, positions)
        outcome.shards_rewritten += 1
    return outcome


def _remove_temporaries(filesystem: fs.FileSystem, root: str) -> int:
    selector = fs.FileSelector(root, recursive=True)
    stale = [
        info.path
        for info in filesystem.get_file_info(selector)
        if info.type == fs.FileType.File and info.base_name.startswith(TEMPORARY_PREFIX)
    ]
    for path in stale:
        filesystem.delete_file(path)
    return len(stale)


def _rows_to_drop(dataset: pads.Dataset, outcome: Reconciliation) -> dict[str, list[int]]:
    """``shard path → row positions`` that another row of the same page supersedes."""
    parts = [
        (fragment.path, fragment.to_table(columns=KEY_COLUMNS))
        for fragment in dataset.get_fragments()
    ]
    drops, reasons = superseded_rows(parts)
    outcome.rows_dropped += sum(len(positions) for positions in drops.values())
    for reason, count in reasons.items():
        outcome.reasons[reason] = outcome.reasons.get(reason, 0) + count
    return drops


def superseded_rows(
    parts: Iterable[tuple[str, pa.Table]],
) -> tuple[dict[str, list[int]], dict[str, int]]:
    """``(shard path → row positions, reason → rows)`` of the rows another row of the same page
    supersedes, from each shard's :data:`KEY_COLUMNS`; reads and writes nothing, so ``pagemill
    eval`` uses it to score an output that a run is still writing as if it were reconciled."""
    tables = [
        table.select(KEY_COLUMNS)
        .append_column("path", pa.array([path] * table.num_rows, pa.string()))
        .append_column("position", pa.array(range(table.num_rows), pa.int64()))
        for path, table in parts
    ]
    if not tables:
        return {}, {}
    table = pa.concat_tables(tables)
    if table.num_rows == 0 or _clean(table):
        return {}, {}
    columns = [*KEY_COLUMNS, "path", "position"]
    rows = sorted(
        zip(*(table.column(name).to_pylist() for name in columns), strict=True), key=_best_first
    )
    # What each file is now: its newest doc id. A read failure (no doc id) never replaces rows
    # of content that was read: the file may be back, and the rows are still what it held.
    newest_doc: dict[str, str | None] = {}
    for row in sorted(rows, key=lambda row: (row[0] is not None, _stamp(row[4])), reverse=True):
        newest_doc.setdefault(row[1], row[0])
    opened = {row[1] for row in rows if row[2] is not None and row[0] == newest_doc[row[1]]}
    kept: set[tuple[str, int | None]] = set()
    drops: dict[str, list[int]] = defaultdict(list)
    reasons: dict[str, int] = {}
    for doc_id, uri, index, _status, _stamp_value, path, position in rows:
        if doc_id != newest_doc[uri]:
            reason = "row for an earlier version of a file that changed"
        elif index is None and uri in opened:
            reason = "document error row after the document opened"
        elif (uri, index) in kept:
            reason = "superseded row"
        else:
            kept.add((uri, index))
            continue
        drops[path].append(position)
        reasons[reason] = reasons.get(reason, 0) + 1
    return dict(drops), reasons


def _clean(table: pa.Table) -> bool:
    """True when no file has two versions, no page two rows, and no document both a document
    error row and page rows: the common case, decided without a Python loop over rows."""
    versions = table.group_by("source_uri").aggregate([("doc_id", "count_distinct")])
    if pc.max(versions.column("doc_id_count_distinct")).as_py() > 1:
        return False
    per_page = table.group_by(["source_uri", "page_index"]).aggregate([("status", "count")])
    if pc.max(per_page.column("status_count")).as_py() > 1:
        return False
    document_rows = table.filter(pc.is_null(table.column("page_index")))
    if document_rows.num_rows == 0:
        return True
    with_pages = table.filter(pc.is_valid(table.column("page_index"))).column("source_uri")
    return not pc.any(pc.is_in(document_rows.column("source_uri"), with_pages)).as_py()


def _stamp(value: datetime | None) -> float:
    return value.timestamp() if value is not None else 0.0


def _best_first(row: tuple) -> tuple:
    """``ok`` before ``error``, then newest first; path and position only break ties."""
    _doc_id, _uri, _index, status, stamp, path, position = row
    return (status != STATUS_OK, -_stamp(stamp), path, position)


def _rewrite_without(filesystem: fs.FileSystem, path: str, positions: list[int]) -> None:
    table = pq.read_table(path, filesystem=filesystem)
    keep = pc.invert(pc.is_in(pa.array(range(table.num_rows)), pa.array(positions)))
    kept = table.filter(keep)
    if kept.num_rows == 0:
        filesystem.delete_file(path)
        return
    folder, _, name = path.rpartition("/")
    temporary = f"{folder}/{TEMPORARY_PREFIX}{name}.tmp"
    with filesystem.open_output_stream(temporary) as stream:
        pq.write_table(kept, stream, compression=COMPRESSION)
    filesystem.move(temporary, path)
