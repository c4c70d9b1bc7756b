"""Planning work units and extracting page rows, without Ray."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from ops.pages import (
    STATUS_PENDING,
    ExtractOptions,
    RowContext,
    extract_unit,
    plan_document,
)
from ops.passwords import Passwords
from ops.pdf.synth import TextPage, merge_pages, repeat_pages, text_pdf
from ops.schema import IMAGE_COLUMN, IN_FLIGHT_SCHEMA, to_table
from tests.ops.test_hostile_inputs import page_order

CONTEXT = RowContext(run_id="test-run", pipeline_version="0.0")
PROSE = ["A title", *["the quick brown fox jumps over the lazy dog and runs away home"] * 4]


def rows_for(path, options: ExtractOptions | None = None):
    options = options or ExtractOptions()
    rows = []
    for unit in plan_document(str(path), options):
        rows.extend(extract_unit(unit, options, CONTEXT))
    return sorted(rows, key=page_order)


def test_units_cover_every_page_once_in_bounded_ranges(tmp_path):
    path = tmp_path / "long.pdf"
    path.write_bytes(repeat_pages(text_pdf([PROSE]), 70))
    units = plan_document(str(path), ExtractOptions(pages_per_unit=32))
    assert [(u["page_start"], u["page_stop"]) for u in units] == [(0, 32), (32, 64), (64, 70)]
    assert len({u["doc_id"] for u in units}) == 1


def test_mixed_document_routes_each_page(tmp_path, samples):
    rows = rows_for(samples / "docs" / "mixed.pdf")
    assert [row["route"] for row in rows] == ["text", "ocr", "text"]
    assert [row["page_number"] for row in rows] == [1, 2, 3]
    text_row, ocr_row, _ = rows
    assert text_row["status"] == "ok" and text_row["text"].startswith("Routing pages")
    assert IMAGE_COLUMN not in text_row
    assert ocr_row["status"] == STATUS_PENDING and ocr_row[IMAGE_COLUMN].startswith(b"\x89PNG")
    assert ocr_row["dpi"] == 150 and ocr_row["image_width"] == 1275


def test_jpeg_transport_is_available(samples):
    rows = rows_for(samples / "docs" / "mixed.pdf", ExtractOptions(image_format="jpeg"))
    assert rows[1][IMAGE_COLUMN].startswith(b"\xff\xd8")


def test_unopenable_document_becomes_one_error_row(shared_data):
    rows = rows_for(shared_data / "malformed/encrypted/r2-user-password.pdf")
    assert len(rows) == 1
    (row,) = rows
    assert row["status"] == "error" and row["error_type"] == "encrypted"
    assert row["error_stage"] == "open" and row["page_index"] is None
    assert "password" in row["error_message"]
    assert row["doc_id"]  # the bytes were read, so the id is known


def test_password_opens_encrypted_document(shared_data):
    options = ExtractOptions(passwords=Passwords("asdfzxcv"))
    rows = rows_for(shared_data / "malformed/encrypted/r2-user-password.pdf", options)
    assert [row["status"] for row in rows] == ["ok"]
    assert rows[0]["page_count"] == 1


def test_page_that_fails_to_load_is_an_error_row_and_others_survive(shared_data):
    rows = rows_for(shared_data / "malformed/broken_structure/Pages-tree-refs.pdf")
    assert [(row["page_number"], row["status"]) for row in rows] == [(1, "ok"), (2, "error")]
    assert rows[1]["error_type"] == "page_load_failed"


def test_missing_file_is_a_read_error(tmp_path):
    (row,) = rows_for(tmp_path / "gone.pdf")
    assert (row["error_type"], row["error_stage"], row["doc_id"]) == ("read_failed", "read", None)


def test_unsupported_extension(tmp_path):
    path = tmp_path / "notes.docx"
    path.write_bytes(b"PK\x03\x04whatever")
    (row,) = rows_for(path)
    assert row["error_type"] == "unsupported_type"


def test_image_document_pages(tmp_path):
    frames = [Image.new("L", (300, 200), 255), Image.new("L", (300, 200), 128)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="TIFF", save_all=True, append_images=frames[1:], dpi=(300, 300))
    path = tmp_path / "scan.tiff"
    path.write_bytes(buffer.getvalue())
    rows = rows_for(path)
    assert [(row["page_number"], row["route"], row["route_reason"]) for row in rows] == [
        (1, "ocr", "image_input"),
        (2, "ocr", "image_input"),
    ]
    assert rows[0]["dpi"] == 300 and rows[0]["page_width_pt"] == pytest.approx(72.0)


def test_same_bytes_same_doc_id_regardless_of_name(tmp_path):
    data = text_pdf([PROSE])
    (tmp_path / "a.pdf").write_bytes(data)
    (tmp_path / "b.pdf").write_bytes(data)
    ids = {
        plan_document(str(tmp_path / name), ExtractOptions())[0]["doc_id"]
        for name in ("a.pdf", "b.pdf")
    }
    assert len(ids) == 1


def test_rows_fit_the_schema_even_when_a_batch_is_all_errors(shared_data, tmp_path):
    rows = rows_for(shared_data / "malformed/zero_byte/empty.pdf")
    table = to_table(rows)
    assert table.schema == IN_FLIGHT_SCHEMA
    assert table.column("text").type == IN_FLIGHT_SCHEMA.field("text").type


def test_forced_text_route_on_a_scan_gives_empty_text(samples):
    from ops.routing import RouteMode, RoutingPolicy

    options = ExtractOptions(routing=RoutingPolicy(mode=RouteMode.TEXT))
    rows = rows_for(samples / "docs" / "scanned-letter.pdf", options)
    assert {(row["route"], row["status"], row["text"]) for row in rows} == {("text", "ok", "")}


def test_merge_helper_builds_mixed_documents():
    data = merge_pages([(text_pdf([PROSE]), 0), (text_pdf([TextPage(["x"])]), 0)])
    assert data.startswith(b"%PDF")


def test_text_layer_hyphenation_is_resolved_with_the_documents_words(samples):
    from ops.layout.steps import TextSteps

    tracemonkey = samples / "docs" / "tracemonkey.pdf"
    cleaned = " ".join(row["text"] for row in rows_for(tracemonkey))
    raw = " ".join(
        row["text"]
        for row in rows_for(tracemonkey, ExtractOptions(text_steps=TextSteps(frozenset())))
    )
    # pdfium drops the line break after a line-end hyphen and marks it; the marks never show.
    assert "\x02" not in cleaned and "\x02" not in raw
    assert "difficult to com-pile than" in raw and "difficult to compile than" in cleaned
    assert "an al-ternative compilation" in raw and "an alternative compilation" in cleaned
    # Compounds the paper writes with a hyphen elsewhere keep it.
    assert "type-unstable" in cleaned
    rows = rows_for(tracemonkey)
    assert all(row["char_count"] == len(row["text"]) for row in rows)
