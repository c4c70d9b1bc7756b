"""One row per page per source file, whatever earlier runs left behind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow.dataset as pads

from ops import ledger
from ops.reconcile import reconcile
from ops.schema import PAGE_SCHEMA, to_table
from ops.shards import write_shard

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def row(uri: str, index: int | None, status: str = "ok", *, doc: str = "d1", minutes: int = 0):
    return {
        "source_uri": uri,
        "doc_id": doc,
        "page_index": index,
        "page_count": None if index is None else 3,
        "status": status,
        "error_type": None if status == "ok" else "ocr_failed",
        "processed_at": T0 + timedelta(minutes=minutes),
    }


def write(directory, name, rows):
    write_shard(to_table(rows, PAGE_SCHEMA), str(directory), name)


def keys(directory) -> list[tuple]:
    table = pads.dataset(str(directory), format="parquet").to_table()
    return sorted(
        (r["source_uri"], r["page_index"] if r["page_index"] is not None else -1, r["status"])
        for r in table.to_pylist()
    )


def test_a_clean_output_is_left_alone(tmp_path):
    write(tmp_path, "a", [row("a.pdf", 0), row("a.pdf", 1), row("a.pdf", 2)])
    before = (tmp_path / "a.parquet").stat().st_mtime_ns
    outcome = reconcile(str(tmp_path))
    assert outcome.rows_dropped == 0 and outcome.shards_rewritten == 0
    assert (tmp_path / "a.parquet").stat().st_mtime_ns == before


def test_ok_beats_error_and_duplicates_collapse(tmp_path):
    write(tmp_path, "first", [row("a.pdf", 0), row("a.pdf", 1, "error"), row("a.pdf", 2)])
    write(tmp_path, "retry", [row("a.pdf", 1, minutes=5), row("a.pdf", 2, minutes=5)])
    outcome = reconcile(str(tmp_path))
    assert outcome.rows_dropped == 2
    assert keys(tmp_path) == [("a.pdf", 0, "ok"), ("a.pdf", 1, "ok"), ("a.pdf", 2, "ok")]
    assert reconcile(str(tmp_path)).rows_dropped == 0  # idempotent


def test_same_bytes_at_two_paths_keep_their_own_rows(tmp_path):
    write(tmp_path, "a", [row("a.pdf", 0), row("copy-of-a.pdf", 0)])
    assert reconcile(str(tmp_path)).rows_dropped == 0


def test_document_error_row_goes_once_pages_exist_and_old_versions_go(tmp_path):
    write(tmp_path, "locked", [row("locked.pdf", None, "error")])
    write(tmp_path, "opened", [row("locked.pdf", 0, minutes=1)])
    write(tmp_path, "v1", [row("changed.pdf", 0, doc="old"), row("changed.pdf", 1, doc="old")])
    write(tmp_path, "v2", [row("changed.pdf", 0, doc="new", minutes=9)])
    outcome = reconcile(str(tmp_path))
    assert keys(tmp_path) == [("changed.pdf", 0, "ok"), ("locked.pdf", 0, "ok")]
    assert not (tmp_path / "locked.parquet").exists() and not (tmp_path / "v1.parquet").exists()
    assert outcome.reasons == {
        "document error row after the document opened": 1,
        "row for an earlier version of a file that changed": 2,
    }


def test_a_file_unreadable_now_keeps_the_rows_it_had(tmp_path):
    write(tmp_path, "read", [row("gone.pdf", 0), row("gone.pdf", 1)])
    write(tmp_path, "later", [row("gone.pdf", None, "error", doc=None, minutes=9)])
    reconcile(str(tmp_path))
    assert keys(tmp_path) == [("gone.pdf", 0, "ok"), ("gone.pdf", 1, "ok")]
    (record,) = ledger.load(str(tmp_path)).values()
    assert record.doc_id == "d1" and record.ok_pages == {0, 1}


def test_temporaries_of_killed_writers_are_removed_and_never_read(tmp_path):
    write(tmp_path, "a", [row("a.pdf", 0)])
    (tmp_path / ".b.parquet.tmp").write_bytes(b"PAR1 half a shard")
    assert len(ledger.load(str(tmp_path))) == 1  # the temporary is invisible to readers
    assert reconcile(str(tmp_path)).temporaries_removed == 1
    assert not (tmp_path / ".b.parquet.tmp").exists()


def test_ledger_counts_what_is_done_per_mode(tmp_path):
    write(tmp_path, "a", [row("a.pdf", 0), row("a.pdf", 1, "error"), row("b.pdf", None, "error")])
    records = ledger.load(str(tmp_path))
    a, b = records["a.pdf"], records["b.pdf"]
    assert a.done_pages(retry_failed=False) == {0, 1} and a.done_pages(retry_failed=True) == {0}
    assert not a.complete(retry_failed=False) and a.pending(retry_failed=False) == 1
    assert b.complete(retry_failed=False) and not b.complete(retry_failed=True)
