"""Planning a partly done document covers only its missing pages."""

from __future__ import annotations

from ops.pages import ExtractOptions, plan_document, ranges
from ops.sources import fingerprint


def test_ranges_are_consecutive_runs_capped_at_the_unit_size():
    assert ranges([5, 0, 1, 2, 7, 8, 9, 10], step=3) == [(0, 3), (5, 6), (7, 10), (10, 11)]
    assert ranges([], step=4) == []


def test_plan_skips_done_pages_of_the_same_bytes_only(samples):
    uri = str(samples / "docs" / "tracemonkey.pdf")  # 14 pages
    options = ExtractOptions(pages_per_unit=4)
    doc_id = fingerprint(uri)
    units = plan_document(uri, options, done_doc_id=doc_id, done_pages=[0, 1, 2, 5, 13])
    assert [(u["page_start"], u["page_stop"]) for u in units] == [(3, 5), (6, 10), (10, 13)]
    assert plan_document(uri, options, done_doc_id=doc_id, done_pages=range(14)) == []
    changed = plan_document(uri, options, done_doc_id="other bytes", done_pages=range(14))
    assert (changed[0]["page_start"], changed[0]["page_stop"]) == (0, 4)
    assert len(changed) == 4
