"""Scoring one shard: which rows are scored, counted or deferred, against hand-made truth."""

from __future__ import annotations

import base64
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ops.evaluation.scoring import (
    JUDGE_SALT,
    TEXT_LAYER,
    ScoringSettings,
    ShardScores,
    draw,
    in_sample,
    judge_sample,
    score_documents,
    score_rows,
    score_shard,
    worst_pages,
)
from ops.evaluation.truth import DOCUMENT, TruthIndex, TruthRef
from ops.passwords import Passwords
from ops.pdf.document import open_pdf
from ops.pdf.textlayer import extract_text


def row(uri, page, text, status="ok", page_count=1, route="ocr", kind="pdf", doc_id=None):
    return {
        "doc_id": doc_id or f"id-{uri}",
        "source_uri": uri,
        "source_kind": kind,
        "page_number": page,
        "page_count": page_count,
        "route": route,
        "backend": "tesseract",
        "model": None,
        "status": status,
        "error_type": None if status == "ok" else "ocr_failed",
        "text": text,
    }


def index(entries):
    truth = TruthIndex("test")
    for name, page, text in entries:
        truth.add(name, None, page, TruthRef(text=text))
    return truth


def score(rows, truth, **settings):
    return score_rows(rows, truth, ScoringSettings(**settings), ShardScores("s"))


def test_pages_are_scored_counted_or_deferred():
    truth = index(
        [
            ("a", 1, "kitten"),
            ("a", 2, "page two"),
            ("b", DOCUMENT, "one page doc"),
            ("c", DOCUMENT, "two page doc"),
            ("gone", 1, "never converted"),
        ]
    )
    rows = [
        row("/in/a.pdf", 1, "sitting", page_count=2),
        row("/in/a.pdf", 2, None, status="error", page_count=2),
        row("/in/b.pdf", 1, "one page doc"),
        row("/in/c.pdf", 1, "two page", page_count=2),
        row("/in/c.pdf", 2, "doc", page_count=2),
        row("/in/untruthed.pdf", 1, "no truth here"),
    ]
    result = score(rows, truth)
    scored = result.scores.to_pylist()
    assert [(r["truth_key"], r["page_number"]) for r in scored] == [("a", 1), ("b", 1)]
    assert scored[0]["char_edits"] == 3 and scored[0]["cer"] == pytest.approx(3 / 6)
    assert scored[1]["cer"] == 0.0
    assert result.error_rows == result.error_rows_with_truth == 1
    assert result.no_truth == 1
    assert result.doc_parts.num_rows == 2  # c's pages wait for the document step
    assert result.matched == {("a", 1), ("a", 2), ("b", DOCUMENT), ("c", DOCUMENT)}

    documents, incomplete, worst = score_documents(result.doc_parts, truth, ScoringSettings())
    (document,) = documents.to_pylist()
    assert document["page_number"] is None and document["truth_key"] == "c"
    assert document["char_edits"] == 0  # "two page\n\ndoc" normalises to the truth
    assert incomplete == 0 and worst[0]["source_uri"] == "/in/c.pdf"


def test_a_document_with_a_failed_page_is_not_scored_whole():
    truth = index([("c", DOCUMENT, "two page doc")])
    rows = [
        row("/in/c.pdf", 1, "two page", page_count=2),
        row("/in/c.pdf", 2, None, status="error", page_count=2),
    ]
    result = score(rows, truth)
    assert result.error_rows == 1 and result.error_rows_with_truth == 1
    documents, incomplete, _ = score_documents(result.doc_parts, truth, ScoringSettings())
    assert documents.num_rows == 0 and incomplete == 1


def test_a_document_error_row_accounts_for_all_its_truth_pages():
    truth = index([("d", 1, "x"), ("d", 2, "y")])
    result = score([row("/in/d.pdf", None, None, status="error", page_count=None)], truth)
    assert result.matched == {("d", 1), ("d", 2)} and result.error_rows == 1


def test_the_sample_is_stable_and_independent_of_the_folder():
    rows = [row(f"/x/doc{i}.pdf", 1, "t") for i in range(2000)]
    kept = [r for r in rows if in_sample(r, 0.25)]
    assert 400 < len(kept) < 600
    moved = [dict(r, source_uri=r["source_uri"].replace("/x/", "s3://b/y/")) for r in rows]
    assert [in_sample(r, 0.25) for r in moved] == [in_sample(r, 0.25) for r in rows]


def test_worst_pages_keep_the_highest_cer_with_texts():
    truth = index([(f"p{i}", 1, "abcdefghij") for i in range(30)])
    rows = [row(f"/in/p{i}.pdf", 1, "abcdefghij"[: 10 - i % 10]) for i in range(30)]
    result = score(rows, truth, worst=5)
    merged = worst_pages([result.worst], 3)
    assert [entry["cer"] for entry in merged] == [0.9, 0.9, 0.9]
    assert merged[0]["truth"] == "abcdefghij" and merged[0]["text"] == "a"


def test_pages_that_match_their_truth_are_never_worst_pages():
    truth = index([(f"p{i}", 1, "abcdefghij") for i in range(4)])
    rows = [row(f"/in/p{i}.pdf", 1, "abcdefghij" if i else "abcdefghiX") for i in range(4)]
    merged = worst_pages([score(rows, truth, worst=5).worst], 20)
    assert [(entry["source_uri"], entry["cer"]) for entry in merged] == [("/in/p0.pdf", 0.1)]


def test_a_shard_that_cannot_be_read_is_a_failure_not_an_exception(tmp_path):
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 this is not parquet")
    result = score_shard(str(bad), index([]), ScoringSettings())
    assert result.failure and "cannot read the shard" in result.failure
    assert result.rows == 0


def test_a_real_shard_is_scored(tmp_path):
    rows = [row("/in/a.pdf", 1, "kitten")]
    path = tmp_path / "s.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    result = score_shard(str(path), index([("a", 1, "kitten")]), ScoringSettings(label="A"))
    assert result.scores.column("output").to_pylist() == ["A"]
    assert result.scores.column("cer").to_pylist() == [0.0]


def test_text_layer_truth_scores_ocr_pages_of_pdfs_only(samples: Path):
    pdf = samples / "docs" / "born-digital-report.pdf"
    document = open_pdf(pdf.read_bytes())
    layer = extract_text(document[0])
    rows = [
        row(str(pdf), 1, layer),  # OCR read exactly what the layer says
        row(str(pdf), 2, "garbage", page_count=3),
        row(str(pdf), 3, "whatever", route="text"),  # the text route *is* the layer
        row("/in/scan.tif", 1, "x", kind="image"),
    ]
    result = score(rows, TEXT_LAYER)
    scored = result.scores.to_pylist()
    assert [r["page_number"] for r in scored] == [1, 2]
    assert scored[0]["cer"] == 0.0 and scored[1]["cer"] > 0.5
    assert result.no_truth == 2


def test_text_layer_truth_has_its_line_end_hyphenation_resolved(samples: Path):
    from ops.layout.hyphenation import dehyphenate

    pdf = samples / "docs" / "tracemonkey.pdf"
    page = open_pdf(pdf.read_bytes())[0]
    repaired = dehyphenate(extract_text(page, keep_soft_breaks=True))
    assert "to compile than" in repaired and "com-pile" in extract_text(page)
    scored = score([row(str(pdf), 1, repaired, page_count=14)], TEXT_LAYER).scores.to_pylist()
    assert scored[0]["cer"] == 0.0  # an OCR read that joins the words is not charged for it


def test_worst_pages_get_images_rendered_again_from_their_sources(samples: Path):
    from ops.evaluation.report import REPORT_IMAGE_SIDE, page_images
    from ops.imaging import decode

    worst = [
        {"id": "w0", "source_uri": str(samples / "docs" / "mixed.pdf"), "page_number": 2},
        {
            "id": "w1",
            "source_uri": str(samples / "docs" / "fax.tif"),
            "page_number": 2,
            "source_kind": "image",
        },
        {"id": "w2", "source_uri": "/gone/away.pdf", "page_number": 1},
        {"id": "w3", "source_uri": str(samples / "docs" / "mixed.pdf"), "page_number": None},
    ]
    images = page_images(worst)
    assert sorted(images) == ["w0", "w1"]  # a missing source or a whole document: no image

    image = decode(base64.b64decode(images["w0"].split(",", 1)[1]))
    assert images["w0"].startswith("data:image/jpeg;base64,")
    assert max(image.size) <= REPORT_IMAGE_SIDE


def test_a_truth_file_that_cannot_be_read_is_counted_not_fatal(tmp_path):
    bad = tmp_path / "a.txt"
    bad.write_bytes(b"\xff\xfe not utf-8 \x80")
    truth = TruthIndex("test")
    truth.add("a", None, 1, TruthRef(path=str(bad)))
    truth.add("b", None, 1, TruthRef(text="fine"))
    result = score([row("/in/a.pdf", 1, "x"), row("/in/b.pdf", 1, "fine")], truth)
    assert result.truth_unreadable == 1 and "UnicodeDecodeError" in result.truth_errors[0]
    assert result.scores.num_rows == 1


def test_whole_document_truth_is_sampled_by_document():
    truth = index([(f"d{i}", DOCUMENT, "a b c") for i in range(200)])
    rows = [row(f"/in/d{i}.pdf", p, "a", page_count=3) for i in range(200) for p in (1, 2, 3)]
    result = score(rows, truth, sample=0.5)
    kept = {}
    for part in result.doc_parts.to_pylist():
        kept.setdefault(part["source_uri"], []).append(part["page_number"])
    assert 60 < len(kept) < 140
    assert all(sorted(pages) == [1, 2, 3] for pages in kept.values())  # never a partial document


def test_a_document_error_row_with_truth_counts_as_an_error_with_truth():
    truth = index([("d", 1, "x"), ("e", DOCUMENT, "whole")])
    rows = [
        row("/in/d.pdf", None, None, status="error", page_count=None),
        row("/in/e.pdf", None, None, status="error", page_count=None),
        row("/in/f.pdf", None, None, status="error", page_count=None),  # no truth at all
    ]
    result = score(rows, truth)
    assert result.error_rows == 3 and result.error_rows_with_truth == 2


def test_the_judge_sample_is_the_lowest_draws_of_the_scored_pages():
    truth = index([(f"p{i}", 1, "same text") for i in range(0, 200, 4)])  # 50 pages have truth
    rows = [row(f"/in/p{i}.pdf", 1, "same text") for i in range(200)]
    halves = [score(rows[:100], truth, judge_pages=3), score(rows[100:], truth, judge_pages=3)]
    assert [len(half.judge_candidates) for half in halves] == [3, 3]
    merged = judge_sample([entry for half in halves for entry in half.judge_candidates], 3)
    with_truth = rows[::4]
    expected = sorted((draw(r, JUDGE_SALT), r["source_uri"]) for r in with_truth)[:3]
    assert [entry["source_uri"] for entry in merged] == [uri for _, uri in expected]
    assert {entry["truth"] for entry in merged} == {"same text"}
    assert score(rows, truth).judge_candidates == []  # no judge, no candidates


def test_text_layer_truth_and_page_images_open_encrypted_pdfs_with_their_password(tmp_path):
    from ops.evaluation.report import page_images
    from tests.hostile_files import encrypted_pdf

    pdf = tmp_path / "locked.pdf"
    pdf.write_bytes(encrypted_pdf("open-sesame", "owner"))
    layer = extract_text(open_pdf(pdf.read_bytes(), "open-sesame")[0])
    rows = [row(str(pdf), 1, layer, page_count=2)]
    passwords = Passwords(by_pattern=(("locked.pdf", "open-sesame"),))
    unlocked = score(rows, TEXT_LAYER, passwords=passwords)
    assert unlocked.scores.column("cer").to_pylist() == [0.0]
    assert score(rows, TEXT_LAYER).no_truth == 1  # without it, there is no layer to compare

    worst = [{"id": "w0", "source_uri": str(pdf), "page_number": 1}]
    assert list(page_images(worst, passwords)) == ["w0"] and page_images(worst) == {}
    assert "open-sesame" not in repr(ScoringSettings(passwords=passwords))
