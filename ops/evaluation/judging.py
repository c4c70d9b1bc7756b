"""An LLM/VLM judge over a sample of scored pages: the page image is rendered again from the
source file (the output does not keep images), and the judge grades the output text against it
and the truth (:mod:`ops.judges`). Judging is optional and slow (seconds per page), so only a
bounded sample is judged: the scored pages with the lowest stable hash (a bottom-k sample over the
pages that had truth, the same pages in every output of --compare).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from ops.imaging import DEFAULT_MAX_IMAGE_PIXELS, DEFAULT_MAX_PIXELS, encode
from ops.judges import JudgeItem, LlmJudge
from ops.judges import to_table as judge_table
from ops.passwords import Passwords

JUDGE_DPI = 100  # enough for a model to read body text; the judge scales images down anyway
TEXT_CHARS = 20_000
# Columns that say which page a verdict is about, added after the judge's own.
IDENTITY = (
    ("output", pa.string()),
    ("source_uri", pa.string()),
    ("page_number", pa.int32()),
    ("route", pa.string()),
    ("backend", pa.string()),
)


def candidate(row: dict[str, Any], key: str, truth_text: str | None) -> dict[str, Any]:
    """What a judge task needs to know of one scored page."""
    return {
        "output": None,
        "source_uri": row["source_uri"],
        "source_kind": row["source_kind"],
        "page_number": row["page_number"],
        "truth_key": key,
        "route": row["route"],
        "backend": row["backend"],
        "text": (row["text"] or "")[:TEXT_CHARS],
        "truth": None if truth_text is None else truth_text[:TEXT_CHARS],
    }


def page_png(
    source_uri: str, source_kind: str, page_number: int, passwords: Passwords | None = None
) -> bytes | None:
    """The page rendered again (PDF) or read again (image), greyscale PNG; None if it cannot be."""
    from ops.sources import open_stream

    try:
        if source_kind == "pdf":
            from ops.pdf.document import opened_pdf
            from ops.pdf.render import render_page

            password = passwords.for_uri(source_uri) if passwords else None
            with opened_pdf(source_uri, password) as document:
                page = document[page_number - 1]
                return render_page(page, JUDGE_DPI, DEFAULT_MAX_PIXELS).data
        from ops.image_documents import frames, open_image

        with open_stream(source_uri) as stream:
            image = open_image(stream, DEFAULT_MAX_IMAGE_PIXELS)
            limits = (DEFAULT_MAX_PIXELS, DEFAULT_MAX_IMAGE_PIXELS)
            ((_, frame),) = frames(image, page_number - 1, page_number, *limits)
            return None if isinstance(frame, Exception) else encode(frame, "png")
    except Exception:
        return None


def judge_pages(
    judge: LlmJudge, candidates: list[dict[str, Any]], passwords: Passwords | None = None
) -> pa.Table:
    """Judge results for ``candidates``, with their identifying columns in front."""
    items = [
        JudgeItem(
            text=entry["text"],
            image_png=page_png(
                entry["source_uri"], entry["source_kind"], entry["page_number"], passwords
            ),
            truth=entry["truth"],
            key=f"{entry['source_uri']}#{entry['page_number']}",
        )
        for entry in candidates
    ]
    try:
        results = judge.evaluate(items)
    finally:
        judge.close()
    table = judge_table(results)
    for name, kind in IDENTITY:
        table = table.append_column(
            pa.field(name, kind), pa.array([entry[name] for entry in candidates], kind)
        )
    return table


def judge_summary(table: pa.Table) -> dict[str, Any]:
    """Mean score per output over the valid verdicts, and the invalid ones counted by reason."""
    rows = table.to_pylist()
    summary: dict[str, Any] = {}
    for label in sorted({row["output"] for row in rows}):
        mine = [row for row in rows if row["output"] == label]
        valid = [row["score"] for row in mine if row["invalid_reason"] is None]
        reasons: dict[str, int] = {}
        for row in mine:
            if row["invalid_reason"] is not None:
                reason = row["invalid_reason"].split(":", 1)[0]
                reasons[reason] = reasons.get(reason, 0) + 1
        summary[label] = {
            "pages": len(mine),
            "valid": len(valid),
            "mean_score": sum(valid) / len(valid) if valid else None,
            "invalid_reasons": reasons,
            "model": mine[0]["model"] if mine else None,
            "prompt_version": mine[0]["prompt_version"] if mine else None,
        }
    return summary
