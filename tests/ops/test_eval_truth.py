"""Truth sources: folder conventions, tables, and which output document each entry belongs to."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ops.evaluation.truth import DOCUMENT, candidate_names, load_folder, load_table


def write(path, text=""):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_folder_conventions(tmp_path):
    write(tmp_path / "letter.txt", "whole letter")
    write(tmp_path / "scan.gt.txt", "whole scan")
    write(tmp_path / "photo.gold.txt", "whole photo")
    write(tmp_path / "report" / "0001.txt", "page one")
    write(tmp_path / "report" / "12.gt.txt", "page twelve")
    write(tmp_path / "sub" / "memo" / "0002.txt", "memo page two")
    write(tmp_path / "notes.md", "not truth")
    index = load_folder(tmp_path)
    assert sorted(index.units()) == [
        ("letter", DOCUMENT),
        ("photo", DOCUMENT),
        ("report", 1),
        ("report", 12),
        ("scan", DOCUMENT),
        ("sub/memo", 2),
    ]
    key, pages = index.match("s3://bucket/in/report.pdf", None)
    assert key == "report" and pages[12].read() == "page twelve"
    assert index.match("/data/x/sub/memo.pdf", None)[0] == "sub/memo"
    assert index.match("/data/scan.tif", None)[1][DOCUMENT].read() == "whole scan"
    assert index.match("/data/unknown.pdf", None) == ("", {})


def test_the_most_specific_name_wins(tmp_path):
    write(tmp_path / "a" / "doc.txt", "in a")
    write(tmp_path / "doc.txt", "top")
    index = load_folder(tmp_path)
    assert index.match("/in/a/doc.pdf", None)[0] == "a/doc"
    assert index.match("/in/b/doc.pdf", None)[0] == "doc"


def test_candidate_names_prefer_depth_and_keep_extensions():
    assert candidate_names("/in/sub/a.v2.pdf")[:4] == [
        "in/sub/a.v2.pdf",
        "in/sub/a.v2",
        "sub/a.v2.pdf",
        "sub/a.v2",
    ]


def test_an_empty_or_missing_folder_says_what_is_expected(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_folder(tmp_path / "nope")
    with pytest.raises(ValueError, match=r"NAME/0001\.txt per page"):
        load_folder(tmp_path)


@pytest.mark.parametrize("kind", ["parquet", "jsonl"])
def test_tables_by_name_page_and_doc_id(tmp_path, kind):
    rows = [
        {"source": "s3://b/in/a.pdf", "page_number": 1, "text": "a one", "doc_id": None},
        {"source": "a.pdf", "page_number": 2, "text": "a two", "doc_id": None},
        {"source": "whole.tif", "page_number": None, "text": "all of it", "doc_id": None},
        {"source": None, "page_number": 1, "text": "by hash", "doc_id": "f00d"},
    ]
    path = tmp_path / f"truth.{kind}"
    if kind == "parquet":
        pq.write_table(pa.Table.from_pylist(rows), path)
    else:
        path.write_text("\n".join(json.dumps(row) for row in rows))
    index = load_table(path)
    assert len(index) == 4
    assert index.match("s3://b/in/a.pdf", None)[1][1].read() == "a one"
    assert index.match("/local/a.pdf", None)[1][2].read() == "a two"
    assert index.match("/x/whole.tif", None)[1][DOCUMENT].read() == "all of it"
    assert index.match("/renamed.pdf", "f00d")[1][1].read() == "by hash"


def test_a_table_without_the_needed_columns_names_them(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps({"file": "a.pdf", "content": "x"}))
    with pytest.raises(ValueError, match="needs a `text` column"):
        load_table(path)


@pytest.mark.parametrize("page", [0, -1, 1.5])
def test_a_table_page_number_must_be_a_1_based_page(tmp_path, page):
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps({"source": "a.pdf", "page_number": page, "text": "x"}))
    with pytest.raises(ValueError, match="row 1: page_number"):
        load_table(path)
