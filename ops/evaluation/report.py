"""The evaluation report: ``pages.parquet``, ``summary.json`` and ``index.html`` in one folder.

Everything here works on what the scoring tasks returned (page scores, coverage counts, the worst
pages), so the report can be rebuilt without scoring again. The summary keeps the integer counts
next to every rate, so two reports can be merged or checked by hand.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ops.evaluation.scoring import SCORE_SCHEMA, ShardScores
from ops.evaluation.truth import TruthIndex
from ops.passwords import Passwords
from ops.shards import write_atomically

TIE_TOLERANCE = 1e-9
COMPARE_PAGES_KEPT = 5000  # per-page rows handed to the HTML page's scatter plot
REPORT_IMAGE_SIDE = 900  # px, longest side of a worst page's image in index.html


@dataclass(slots=True)
class DocumentScores:
    """Scores of documents whose truth is one text for several pages."""

    scores: pa.Table = field(default_factory=SCORE_SCHEMA.empty_table)
    incomplete: int = 0  # documents not scored: a page failed or is missing
    worst: list[dict[str, Any]] = field(default_factory=list)


def coverage_of(
    shards: Sequence[ShardScores],
    documents: DocumentScores,
    truth: Any,
    sampled: bool,
    superseded: Mapping[str, int],
) -> dict[str, Any]:
    """What was and was not scored for one output, so that nothing is silently left out."""
    matched: set[tuple[str, int]] = set()
    for shard in shards:
        matched |= shard.matched
    missing = None
    if isinstance(truth, TruthIndex) and not sampled:  # a sample leaves truth unmatched by design
        missing = sum(1 for unit in truth.units() if unit not in matched)
    return {
        "shards": sum(shard.shards for shard in shards),
        "unreadable_shards": [
            {"shard": path, "reason": reason}
            for shard in shards
            for path, reason in sorted(shard.failures.items())
        ],
        "rows": sum(shard.rows for shard in shards),
        # Rows a run superseded but has not removed yet (the plan's count): skipped, by reason.
        "superseded_rows": sum(superseded.values()),
        "superseded_reasons": dict(superseded),
        "sampled_out": sum(shard.sampled_out for shard in shards),
        "scored_pages": sum(shard.scores.num_rows for shard in shards),
        "scored_documents": documents.scores.num_rows,
        "error_rows": sum(shard.error_rows for shard in shards),
        "error_rows_with_truth": sum(shard.error_rows_with_truth for shard in shards),
        "no_truth": sum(shard.no_truth for shard in shards),
        "truth_unreadable": sum(shard.truth_unreadable for shard in shards),
        "truth_errors": [error for shard in shards for error in shard.truth_errors][:20],
        "truth_missing_from_output": missing,
        "documents_incomplete": documents.incomplete,
    }


def build_summary(
    header: dict[str, Any],
    coverage: dict[str, dict[str, Any]],
    aggregates: dict[str, list[dict[str, Any]]],
    group_by: Sequence[str],
) -> dict[str, Any]:
    documents = [row for row in aggregates["documents"] if row["cer"] is not None]
    documents.sort(key=lambda row: (-row["cer"], row["output"], row["source_uri"]))
    return {
        **header,
        "coverage": coverage,
        "overall": aggregates["overall"],
        "by": {column: aggregates[column] for column in group_by},
        "documents_worst": [_document_row(row) for row in documents[:20]],
        "compare": None,
        "bench": None,
        "judge": None,
    }


def _document_row(row: dict[str, Any]) -> dict[str, Any]:
    keys = ("output", "source_uri", "pages", "cer", "wer", "ned", "bow_f1", "char_edits")
    return {key: row.get(key) for key in keys}


def compare(scores: pa.Table, labels: Sequence[str]) -> tuple[dict[str, Any], list[dict]]:
    """Page-by-page A versus B over the pages both scored (matched by file content and page):
    how often each is better, and the per-page CERs for the plot."""
    first, second = labels
    sides = []
    for label in labels:
        # doc_id (the file's sha256) names the same input in both outputs, wherever it was
        # read from, and two files sharing one truth name stay apart.
        side = scores.filter(pc.equal(scores["output"], label)).select(
            ["doc_id", "page_number", "source_uri", "char_edits", "truth_chars", "cer"]
        )
        side = side.filter(pc.is_valid(side["cer"]))
        # Whole-document scores have no page; nulls never join, so give them page 0 to match on.
        page = pc.fill_null(side["page_number"], 0)
        sides.append(side.set_column(1, "page_number", page))
    renamed = ["doc_id", "page_number", "uri_b", "edits_b", "chars_b", "cer_b"]
    joined = (
        sides[0]
        .join(sides[1].rename_columns(renamed), keys=["doc_id", "page_number"], join_type="inner")
        .sort_by([("source_uri", "ascending"), ("page_number", "ascending")])
    )
    cer_a = joined["cer"].to_numpy(zero_copy_only=False) if joined.num_rows else np.array([])
    cer_b = joined["cer_b"].to_numpy(zero_copy_only=False) if joined.num_rows else np.array([])
    delta = cer_b - cer_a
    summary = {
        "labels": [first, second],
        "pages": int(joined.num_rows),
        "a_better": int((delta > TIE_TOLERANCE).sum()),
        "b_better": int((delta < -TIE_TOLERANCE).sum()),
        "ties": int((np.abs(delta) <= TIE_TOLERANCE).sum()),
        "cer_a": _micro(joined, "char_edits", "truth_chars"),
        "cer_b": _micro(joined, "edits_b", "chars_b"),
        "median_delta": float(np.median(delta)) if delta.size else None,
    }
    rows = [
        {"source_uri": uri, "page_number": page or None, "cer_a": float(a), "cer_b": float(b)}
        for uri, page, a, b in zip(
            joined["source_uri"].to_pylist(),
            joined["page_number"].to_pylist(),
            cer_a,
            cer_b,
            strict=True,
        )
    ]
    return summary, rows


def _micro(table: pa.Table, edits: str, chars: str) -> float | None:
    total = pc.sum(table[chars]).as_py() if table.num_rows else None
    return pc.sum(table[edits]).as_py() / total if total else None


def write_report(
    report: str,
    summary: dict[str, Any],
    scores: pa.Table,
    worst: list[dict[str, Any]],
    labels: Sequence[str],
    judged: pa.Table | None = None,
    passwords: Passwords | None = None,
) -> dict[str, Any]:
    """Write the report files into ``report`` (a folder or an object-store URI; each file to a
    temporary name, then renamed) and return the summary as written; ``judge.parquet`` only when
    a judge ran. ``passwords`` open encrypted sources for the worst pages' images."""
    if judged is not None:
        write_atomically(report, "judge.parquet", lambda stream: pq.write_table(judged, stream))
    compare_rows = None
    if len(labels) == 2:
        summary["compare"], compare_rows = compare(scores, labels)
    write_atomically(report, "pages.parquet", lambda stream: pq.write_table(scores, stream))
    text = json.dumps(summary, indent=2, ensure_ascii=False, default=str).encode("utf-8")
    write_atomically(report, "summary.json", lambda stream: stream.write(text))
    from ops.evaluation.html import render_report

    cer_values = {
        label: [
            value
            for value in scores.filter(pc.equal(scores["output"], label))["cer"].to_pylist()
            if value is not None
        ]
        for label in labels
    }
    worst = [{"id": f"w{index}", **entry} for index, entry in enumerate(worst)]
    images = page_images(worst, passwords)
    page = render_report(summary, worst, cer_values, _thin(compare_rows), images)
    write_atomically(report, "index.html", lambda stream: stream.write(page.encode("utf-8")))
    return summary


def page_images(worst: list[dict[str, Any]], passwords: Passwords | None = None) -> dict[str, str]:
    """Small JPEG data URLs of the worst pages, rendered again from their sources (pages whose
    source is gone or is a whole document get none)."""
    from ops.evaluation.judging import page_png
    from ops.imaging import decode
    from ops.vlm.images import data_url

    images = {}
    for entry in worst:
        if entry.get("page_number") is None:
            continue
        kind = entry.get("source_kind") or "pdf"
        png = page_png(entry["source_uri"], kind, entry["page_number"], passwords)
        if png is None:
            continue
        image = decode(png)
        image.thumbnail((REPORT_IMAGE_SIDE, REPORT_IMAGE_SIDE))
        images[entry["id"]] = data_url(image, "jpeg")
    return images


def _thin(rows: list[dict] | None) -> list[dict] | None:
    """At most ``COMPARE_PAGES_KEPT`` rows, evenly spaced (deterministic)."""
    if rows is None or len(rows) <= COMPARE_PAGES_KEPT:
        return rows
    step = len(rows) / COMPARE_PAGES_KEPT
    return [rows[int(index * step)] for index in range(COMPARE_PAGES_KEPT)]
