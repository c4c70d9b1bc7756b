"""Resume and exactly-once output: reruns redo only what is missing, never duplicate a page."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pyarrow.dataset as pads
import pytest

from pipelines import RunConfig, run

pytestmark = pytest.mark.usefixtures("ray_cluster")


def rows(output: Path) -> list[dict]:
    return pads.dataset(output / "pages", format="parquet").to_table().to_pylist()


def page_keys(output: Path) -> Counter:
    return Counter((row["source_uri"], row["page_index"]) for row in rows(output))


def fake_config(source: Path, output: Path, **overrides) -> RunConfig:
    options = {"backend": "fake", "orientation": "off", "progress": False, "rows_per_file": 7}
    return RunConfig(input=str(source), output=str(output), **{**options, **overrides})


def test_rerun_of_a_finished_output_does_nothing_and_starts_no_ray_work(tmp_path, samples):
    output = tmp_path / "out"
    first = run(fake_config(samples / "docs", output))
    before = sorted(path.name for path in (output / "pages").iterdir())
    again = run(fake_config(samples / "docs", output))
    assert again.summary.pages == 0
    assert again.summary.pages_skipped == first.summary.pages == 27
    assert again.summary.documents_skipped == 8
    assert sorted(path.name for path in (output / "pages").iterdir()) == before
    assert max(page_keys(output).values()) == 1


def test_rerun_after_lost_shards_redoes_only_the_missing_pages(tmp_path, samples):
    output = tmp_path / "out"
    run(fake_config(samples / "docs", output))
    complete = page_keys(output)
    shards = sorted((output / "pages").glob("*.parquet"))
    lost = shards[::2]  # as if the job had died before writing these
    lost_rows = sum(pads.dataset(shard).count_rows() for shard in lost)
    for shard in lost:
        shard.unlink()
    again = run(fake_config(samples / "docs", output))
    assert page_keys(output) == complete  # every page exactly once
    redone = again.summary.pages + again.summary.document_errors
    assert redone == lost_rows


def test_overwrite_starts_clean(tmp_path, samples):
    output = tmp_path / "out"
    run(fake_config(samples / "docs", output))
    (output / "_eval").mkdir()  # an evaluation of the old pages: stale after an overwrite
    (output / "_eval" / "summary.json").write_text("{}")
    (output / "notes.txt").write_text("the user's own file")
    again = run(fake_config(samples / "docs", output, overwrite=True))
    assert again.summary.pages == 27 and again.summary.pages_skipped == 0
    assert {row["run_id"] for row in rows(output)} == {again.run_id}
    assert [path.name for path in (output / "_runs").glob("*.json")] == [f"{again.run_id}.json"]
    assert not (output / "_eval").exists()
    assert (output / "notes.txt").read_text() == "the user's own file"  # not the run's


def test_retry_failed_replaces_error_rows_and_plain_rerun_keeps_them(tmp_path, shared_data):
    source = tmp_path / "in"
    source.mkdir()
    shutil.copy(shared_data / "malformed/encrypted/r2-user-password.pdf", source / "locked.pdf")
    shutil.copy(shared_data / "malformed/zero_byte/empty.pdf", source / "empty.pdf")
    output = tmp_path / "out"
    run(fake_config(source, output))
    assert Counter(row["error_type"] for row in rows(output)) == {"encrypted": 1, "empty_file": 1}

    password = {"password": "asdfzxcv"}
    plain = run(fake_config(source, output, **password))
    assert plain.summary.pages == 0 and plain.summary.documents_skipped == 2

    retried = run(fake_config(source, output, retry_failed=True, **password))
    assert retried.summary.by_route_status == {"text/ok": 1}
    by_name = {}
    for row in rows(output):
        by_name.setdefault(Path(row["source_uri"]).name, []).append(row)
    (locked,) = by_name["locked.pdf"]  # the encrypted-error row is gone, the page row stayed
    assert locked["status"] == "ok" and locked["page_index"] == 0
    (empty,) = by_name["empty.pdf"]  # still empty: its error row is redone, not doubled
    assert empty["error_type"] == "empty_file" and empty["run_id"] == retried.run_id


def test_a_file_changed_in_place_is_redone(tmp_path, samples):
    source = tmp_path / "in"
    source.mkdir()
    shutil.copy(samples / "docs" / "scanned-letter.pdf", source / "doc.pdf")
    output = tmp_path / "out"
    run(fake_config(source, output))
    shutil.copy(samples / "docs" / "mixed.pdf", source / "doc.pdf")
    again = run(fake_config(source, output))
    assert again.summary.pages == 3 and again.summary.pages_skipped == 0
    latest = [row for row in rows(output) if row["run_id"] == again.run_id]
    assert sorted(row["page_index"] for row in latest) == [0, 1, 2]
