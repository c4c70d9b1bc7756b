"""``pagemill show``: a document found by name, path or id; a page's text and metadata; its
image rendered again from the source."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from ops.schema import PAGE_SCHEMA, to_table
from pipelines.cli import EXIT_USAGE, main
from tests.pipelines.test_export import REPORT, make_output, row


@pytest.fixture
def output(tmp_path):
    return make_output(tmp_path / "out")


@pytest.mark.parametrize("doc", ["a/report.pdf", "/data/a/report.pdf", "sha-broken"])
def test_a_document_by_its_end_path_or_id(output, capsys, doc):
    if doc == "sha-broken":  # an id prefix
        assert main(["show", str(output), doc]) == 0
        assert capsys.readouterr().out.startswith("/data/a/broken.pdf\n")
        return
    assert main(["show", str(output), doc]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("/data/a/report.pdf\n")
    table = [line.split("|") for line in printed.splitlines() if line.startswith("    ")]
    assert [(cells[0].strip(), cells[2].strip()) for cells in table] == [
        ("1", "ok"),
        ("2", "ok"),  # the superseded error row is not shown
        ("3", "ok"),
    ]


def test_an_ambiguous_or_unknown_document_is_a_usage_error(output, capsys):
    assert main(["show", str(output), "report.pdf"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "'report.pdf' names 2 documents" in err
    assert "/data/a/report.pdf" in err and "/data/b/report.pdf" in err
    assert main(["show", str(output), "sha-report.pdf"]) == EXIT_USAGE  # same bytes, two paths
    assert "names 2 documents" in capsys.readouterr().err
    assert main(["show", str(output), "missing.pdf"]) == EXIT_USAGE
    assert "no document in" in capsys.readouterr().err
    assert main(["show", str(output), "a/report.pdf", "9"]) == EXIT_USAGE
    assert "has no row for page 9 (pages 1-3)" in capsys.readouterr().err


def test_a_page_with_its_metadata_and_text(output, capsys):
    assert main(["show", str(output), "a/report.pdf", "2"]) == 0
    printed = capsys.readouterr().out
    fields = dict(line.split(None, 1) for line in printed.split("-" * 72)[0].splitlines())
    assert fields["page_number"] == "2" and fields["status"] == "ok"
    assert fields["backend"] == "tesseract" and fields["route"] == "ocr"
    assert printed.split("-" * 72)[1].strip() == REPORT[2]
    assert main(["show", str(output), "b/report.pdf", "2", "--format", "json"]) == 0
    page = json.loads(capsys.readouterr().out)
    assert page["status"] == "error" and page["error_type"] == "ocr_failed"


def test_the_page_image_is_rendered_from_the_source(samples, tmp_path, capsys):
    pages = tmp_path / "out" / "pages"
    pages.mkdir(parents=True)
    source = str(samples / "docs" / "mixed.pdf")
    pq.write_table(to_table([row(source, 2, "text", 3)], PAGE_SCHEMA), pages / "part-1.parquet")
    image = tmp_path / "page.png"
    assert main(["show", str(tmp_path / "out"), "mixed.pdf", "2", "--image", str(image)]) == 0
    assert image.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") and image.stat().st_size > 5000
    assert main(["show", str(tmp_path / "out"), "mixed.pdf", "--image", str(image)]) == EXIT_USAGE
    assert "--image needs a PAGE" in capsys.readouterr().err
