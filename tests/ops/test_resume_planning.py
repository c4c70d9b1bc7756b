"""Planning a partly done document covers only its missing pages."""

from __future__ import annotations

from ops.pages import ExtractOptions, plan_document, ranges
from ops.sources import fingerprint


def test_ranges_are_consecutive_runs_inside_the_aligned_blocks_of_a_fresh_run():
    # Blocks of 3: [0, 3), [3, 6), [6, 9), [9, 12): a resumed page sees a fresh run's window.
    assert ranges([5, 0, 1, 2, 7, 8, 9, 10], step=3) == [(0, 3), (5, 6), (7, 9), (9, 11)]
    assert ranges(range(10), step=4) == [(0, 4), (4, 8), (8, 10)]
    assert ranges([], step=4) == []


def test_plan_skips_done_pages_of_the_same_bytes_only(samples):
    uri = str(samples / "docs" / "tracemonkey.pdf")  # 14 pages
    options = ExtractOptions(pages_per_unit=4)
    doc_id = fingerprint(uri)
    units = plan_document(uri, options, done_doc_id=doc_id, done_pages=[0, 1, 2, 5, 13])
    assert [(u["page_start"], u["page_stop"]) for u in units] == [
        (3, 4),
        (4, 5),
        (6, 8),
        (8, 12),
        (12, 13),
    ]
    assert plan_document(uri, options, done_doc_id=doc_id, done_pages=range(14)) == []
    changed = plan_document(uri, options, done_doc_id="other bytes", done_pages=range(14))
    assert (changed[0]["page_start"], changed[0]["page_stop"]) == (0, 4)
    assert len(changed) == 4
