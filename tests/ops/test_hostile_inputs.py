"""Hostile and odd input files, end to end through plan_document + extract_unit (no Ray).

For every file the outcome must be correct pages or error rows whose error_type and message say
what is wrong (never "internal", never a bare pdfium code), nothing may raise, and each file must
finish in bounded time. Files are built in code (tests/hostile_files.py); memory is measured in a
fresh subprocess where it matters (decompression bombs, a 10,000-page PDF).
"""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest
from PIL import Image

from ops import errors
from ops.imaging import MAX_SIDE_PX
from ops.pages import STATUS_PENDING, ExtractOptions, RowContext, extract_unit, plan_document
from ops.passwords import Passwords
from ops.pdf import document as pdf_document
from ops.pdf.document import open_pdf, page_load_error
from ops.pdf.render import largest_image, render_page
from ops.pdf.synth import save
from ops.routing import RouteMode, RoutingPolicy
from ops.schema import IMAGE_COLUMN
from tests import hostile_files as hostile

REPO = Path(__file__).resolve().parents[2]
CONTEXT = RowContext(run_id="hostile", pipeline_version="0.0")
OCR = ExtractOptions(routing=RoutingPolicy(mode=RouteMode.OCR))
TIME_LIMIT_S = 5.0  # per file; every file here takes milliseconds when it behaves
# What a useful message never contains: pdfium's bare codes, Python reprs, tracebacks.
UNHELPFUL = ("PDFium:", "Data format error", "<_io.", "object at 0x", "Traceback")


def rows_for(path: Path, options: ExtractOptions | None = None) -> list[dict[str, Any]]:
    """Every row of the document, asserting that planning and extraction stay in time."""
    options = options or ExtractOptions()
    began = time.perf_counter()
    rows = [
        row
        for unit in plan_document(str(path), options)
        for row in extract_unit(unit, options, CONTEXT)
    ]
    elapsed = time.perf_counter() - began
    assert elapsed < TIME_LIMIT_S, f"{path.name} took {elapsed:.1f} s"
    return sorted(rows, key=page_order)


def page_order(row: dict[str, Any]) -> int:
    """Rows in page order (a unit yields its OCR-route rows before its text-route rows, which
    wait for the unit's vocabulary); a document's error row first."""
    return -1 if row["page_index"] is None else row["page_index"]


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def assert_error(row: dict[str, Any], error_type: str, *needles: str) -> None:
    assert row["status"] == "error", row
    assert row["error_type"] == error_type, row
    message = row["error_message"]
    assert message and not any(bad in message for bad in UNHELPFUL), message
    for needle in needles:
        assert needle in message, message


def assert_document_error(rows: list[dict[str, Any]], error_type: str, *needles: str) -> None:
    """One document-level error row (no page), as for a file that cannot be opened."""
    assert len(rows) == 1, rows
    (row,) = rows
    assert row["page_index"] is None and row["error_stage"] == "open"
    assert_error(row, error_type, *needles)


def assert_text_pages(rows: list[dict[str, Any]], count: int, text: str = "Page text") -> None:
    assert [row["page_number"] for row in rows] == list(range(1, count + 1))
    for row in rows:
        assert (row["status"], row["route"]) == ("ok", "text"), row
        assert text in row["text"]
        assert row["page_count"] == count


def assert_sane_image(row: dict[str, Any], max_pixels: int) -> Image.Image:
    """A pending OCR row whose image decodes to the size it claims, within the caps."""
    assert row["status"] == STATUS_PENDING, row
    image = Image.open(io.BytesIO(row[IMAGE_COLUMN]))
    image.load()
    assert image.size == (row["image_width"], row["image_height"])
    assert 1 <= image.width <= MAX_SIDE_PX and 1 <= image.height <= MAX_SIDE_PX
    assert image.width * image.height <= max_pixels
    return image


_MEASURE = """
import json, resource, sys
from ops.pages import ExtractOptions, RowContext, extract_unit, plan_document
from ops.pdf import document

path, spec = sys.argv[1], json.loads(sys.argv[2])
if "whole_file_bytes" in spec:
    document.WHOLE_FILE_BYTES = spec["whole_file_bytes"]
options = ExtractOptions()

def peak_mb():
    # VmHWM belongs to this process image; ru_maxrss also counts the parent's peak before exec.
    try:
        with open("/proc/self/status") as status:
            line = next(line for line in status if line.startswith("VmHWM:"))
        return int(line.split()[1]) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

before = peak_mb()
units = plan_document(path, options)
chosen = [units[len(units) // 2]] if spec.get("middle_unit") else units
keys = ("page_number", "page_count", "status", "error_type", "error_message", "image_width",
        "image_height")
rows = [{key: row.get(key) for key in keys}
        for unit in chosen for row in extract_unit(unit, options, RowContext("m", "0"))]
print(json.dumps({"before_mb": before, "peak_mb": peak_mb(), "units": len(units), "rows": rows}))
"""


def measure(path: Path, timeout_s: float = 60, **spec: Any) -> dict[str, Any]:
    """Plan and extract ``path`` in a fresh interpreter; its rows and peak RSS before and after."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(path), json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        cwd=REPO,
        env=env,
        check=True,
    )
    return json.loads(done.stdout)


# -- 1. truncated files --------------------------------------------------------------------------


@pytest.mark.parametrize("fraction", [0.1, 0.5])
def test_truncated_pdf_is_a_corrupt_pdf_error_that_says_truncated(tmp_path, fraction):
    path = write(tmp_path, "cut.pdf", hostile.truncated(hostile.simple_pdf(3), fraction))
    assert_document_error(rows_for(path), "corrupt_pdf", "truncated")


def test_pdf_missing_only_its_last_bytes_is_recovered(tmp_path):
    path = write(tmp_path, "cut.pdf", hostile.truncated(hostile.simple_pdf(3), 0.99))
    assert_text_pages(rows_for(path), 3)


@pytest.mark.parametrize(
    "name",
    [
        "malformed/derived/tracemonkey.truncated-50pct.pdf",
        "malformed/derived/libreoffice-form.truncated-tail.pdf",
    ],
)
def test_real_truncated_files(shared_data, name):
    assert_document_error(rows_for(shared_data / name), "corrupt_pdf", "truncated")


# -- 2. broken cross-reference tables -----------------------------------------------------------


@pytest.mark.parametrize("mode", ["offsets", "startxref", "missing"])
def test_broken_xref_is_recovered(tmp_path, mode):
    path = write(tmp_path, "xref.pdf", hostile.broken_xref_pdf(mode))
    assert_text_pages(rows_for(path), 2)


def test_real_file_with_broken_xref_offsets(shared_data):
    (row,) = rows_for(shared_data / "malformed/broken_structure/helloworld-bad.pdf")
    assert row["page_count"] == 1
    assert row["status"] == STATUS_PENDING  # 13 characters of text: too few, so it goes to OCR
    assert_sane_image(row, ExtractOptions().max_pixels)


# -- 3. page-tree loops --------------------------------------------------------------------------


def test_page_tree_that_contains_itself(tmp_path):
    rows = rows_for(write(tmp_path, "loop.pdf", hostile.page_tree_loop_pdf("self")))
    assert [row["page_number"] for row in rows] == [1, 2]
    assert rows[0]["status"] == "ok" and "Real page" in rows[0]["text"]
    assert_error(rows[1], "page_load_failed", "page 2")


def test_page_tree_whose_kid_is_its_ancestor(tmp_path):
    rows = rows_for(write(tmp_path, "loop.pdf", hostile.page_tree_loop_pdf("ancestor")))
    # pdfium stops at nodes it has seen; the loop reaches the one real page again.
    assert [(row["page_number"], row["status"]) for row in rows] == [
        (1, "ok"),
        (2, "ok"),
        (3, "ok"),
    ]
    assert all("Real page" in row["text"] for row in rows)


def test_forged_page_count_is_refused_instead_of_a_million_error_rows(tmp_path):
    path = write(tmp_path, "count.pdf", hostile.page_tree_loop_pdf("count"))
    rows = rows_for(path)
    assert_document_error(rows, "corrupt_pdf", "claims 1,000,000 pages", "only 1 exist")


def test_real_file_with_a_page_tree_loop(shared_data):
    rows = rows_for(shared_data / "malformed/broken_structure/Pages-tree-refs.pdf")
    assert [(row["page_number"], row["status"]) for row in rows] == [(1, "ok"), (2, "error")]
    assert_error(rows[1], "page_load_failed", "page 2")


def test_page_load_error_names_a_page_missing_from_the_tree():
    document = open_pdf(hostile.page_tree_loop_pdf("self"))
    with pytest.raises(pdfium.PdfiumError) as caught:
        document[1]
    error = page_load_error(document, 1, caught.value)
    assert isinstance(error, errors.PageLoadFailed)
    assert "page 2 is missing from the PDF's page tree" in str(error)


# -- 4. content-stream cycles --------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["self", "mutual"])
def test_form_xobject_cycles_render_in_bounded_time(tmp_path, mode):
    path = write(tmp_path, "cycle.pdf", hostile.form_cycle_pdf(mode))
    (text_row,) = rows_for(path)
    assert text_row["status"] == "ok" and "Before the forms" in text_row["text"]
    (ocr_row,) = rows_for(path, OCR)
    assert assert_sane_image(ocr_row, OCR.max_pixels).width == 1275  # 8.5 in at 150 dpi


@pytest.mark.xfail(
    strict=True,
    reason="pdfium parses a form XObject once per use, so 40 forms that each draw the next twice "
    "cost 2^40 parses inside FPDF_LoadPage: only the pipeline's watchdog (--page-timeout, "
    "--page-memory; tests/pipelines/test_hostile_pipeline.py) can stop it, not ops code",
)
def test_form_xobject_fanout_loads_in_bounded_time(tmp_path):
    path = write(tmp_path, "fanout.pdf", hostile.form_cycle_pdf("fanout"))
    try:
        measure(path, timeout_s=3)
    except subprocess.TimeoutExpired:
        pytest.fail("the page did not load within 3 s")


# -- 5. decompression bombs ----------------------------------------------------------------------


def test_flate_image_bomb_is_refused_before_decoding(tmp_path):
    # A 1 MB stream of zeros declared 33,000 x 33,000 px: 1.09 GB once inflated. Rendering it
    # used to take 1.2 GB of memory.
    path = write(tmp_path, "bomb.pdf", hostile.flate_image_bomb_pdf(33_000, 33_000))
    assert path.stat().st_size < 2 << 20
    began = time.perf_counter()
    result = measure(path)
    assert time.perf_counter() - began < TIME_LIMIT_S + 1
    (row,) = result["rows"]
    assert_error(row, "render_failed", "33000x33000 px", "pixel limit", "--max-image-pixels")
    assert result["peak_mb"] - result["before_mb"] < 100


def test_jbig2_bomb_is_refused_before_decoding(tmp_path):
    # 6 KB of JBIG2 (one MMR code bit per row) for a 40,000 x 40,000 px page: pdfium decodes it
    # whole, which used to take 500 MB.
    path = write(tmp_path, "jbig2.pdf", hostile.jbig2_bomb_pdf(40_000, 40_000))
    assert path.stat().st_size < 10_000
    result = measure(path)
    (row,) = result["rows"]
    assert_error(row, "render_failed", "40000x40000 px", "pixel limit")
    assert result["peak_mb"] - result["before_mb"] < 100


def test_jbig2_builder_makes_a_decodable_stream():
    # The bomb above is only a test if pdfium would really decode it: a small one must render.
    page = open_pdf(hostile.jbig2_bomb_pdf(800, 600))[0]
    assert largest_image(page) == (800, 600)
    rendered = render_page(page, dpi=72, max_pixels=10**6)
    image = Image.open(io.BytesIO(rendered.data))
    assert image.getextrema() == (255, 255)  # all white, as coded


def test_image_bomb_inside_a_form_xobject_is_found(tmp_path):
    image = hostile.stream_object(
        b"/Type /XObject /Subtype /Image /Width 30000 /Height 30000 /ColorSpace /DeviceGray "
        b"/BitsPerComponent 8 /Filter /FlateDecode",
        hostile.zeros_deflate(1000),  # what the stream holds does not matter: it is never read
    )
    form = hostile.stream_object(
        b"/Type /XObject /Subtype /Form /BBox [0 0 612 792] "
        b"/Resources << /XObject << /Im1 5 0 R >> >>",
        b"q 612 0 0 792 0 0 cm /Im1 Do Q",
    )
    data = hostile.simple_pdf(
        content=b"/Fm1 Do",
        resources_extra=b"/XObject << /Fm1 6 0 R >>",
        extra_objects=[image, form],
    )
    (row,) = rows_for(write(tmp_path, "form-bomb.pdf", data))
    assert_error(row, "render_failed", "30000x30000 px")


def test_large_embedded_image_under_the_limit_still_renders():
    page = open_pdf(hostile.flate_image_bomb_pdf(3000, 2000))[0]
    rendered = render_page(page, dpi=72, max_pixels=10**6, max_image_pixels=10**7)
    assert (rendered.width, rendered.height) == (612, 792)
    with pytest.raises(errors.RenderFailed, match="3000x2000 px"):
        render_page(page, dpi=72, max_pixels=10**6, max_image_pixels=5_000_000)


# -- 6. giant and degenerate MediaBoxes ----------------------------------------------------------


def test_page_two_to_the_31_points_tall(tmp_path):
    path = write(tmp_path, "tall.pdf", hostile.simple_pdf(1, media_box="0 0 612 2147483648"))
    (text_row,) = rows_for(path)
    assert text_row["status"] == "ok" and text_row["page_height_pt"] == pytest.approx(2**31)
    (ocr_row,) = rows_for(path, OCR)
    image = assert_sane_image(ocr_row, OCR.max_pixels)
    assert image.height == MAX_SIDE_PX  # not an 11.8-million-pixel strip
    (jpeg_row,) = rows_for(path, ExtractOptions(routing=OCR.routing, image_format="jpeg"))
    assert_sane_image(jpeg_row, OCR.max_pixels)  # JPEG cannot encode more than 65,500 px a side


@pytest.mark.parametrize(
    "media_box",
    ["0 0 612 -792", "612 792 0 0", "0 0 0 0", "0 0 612 0", "0 0 1e40 1e40", "0 0 612 nan"],
)
def test_negative_inverted_and_empty_media_boxes(tmp_path, media_box):
    path = write(tmp_path, "box.pdf", hostile.simple_pdf(1, media_box=media_box))
    for options in (ExtractOptions(), OCR):
        (row,) = rows_for(path, options)
        assert row["status"] in ("ok", STATUS_PENDING), row
        assert row["page_width_pt"] > 0 and row["page_height_pt"] > 0
        if row["status"] == STATUS_PENDING:
            assert_sane_image(row, options.max_pixels)


# -- 7. tiny and very wide pages -----------------------------------------------------------------


@pytest.mark.parametrize("media_box", ["0 0 3 3", "0 0 0.01 0.01"])
def test_tiny_pages_render_to_a_valid_image(tmp_path, media_box):
    (row,) = rows_for(write(tmp_path, "tiny.pdf", hostile.simple_pdf(1, media_box=media_box)), OCR)
    assert_sane_image(row, OCR.max_pixels)


@pytest.mark.parametrize("image_format", ["png", "jpeg"])
def test_very_wide_page(tmp_path, image_format):
    path = write(tmp_path, "wide.pdf", hostile.simple_pdf(1, media_box="0 0 14400 72"))
    options = ExtractOptions(routing=OCR.routing, image_format=image_format, max_pixels=2_000_000)
    (row,) = rows_for(path, options)
    image = assert_sane_image(row, 2_000_000)
    assert image.width / image.height == pytest.approx(200, rel=0.02)
    assert row["dpi"] < 150


# -- 8. empty files, other formats named .pdf, junk before the header ---------------------------


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "error_type", "needle"),
    [
        (b"", "empty_file", "0 bytes"),
        (hostile.image_bytes((40, 30)), "not_a_pdf", "a PNG image"),
        (_zip(), "not_a_pdf", "a ZIP archive"),
        (b"Quarterly report\nrevenue: 12\n" * 40, "not_a_pdf", "plain text"),
        (b"\n<!DOCTYPE html><html><title>403</title></html>", "not_a_pdf", "an HTML page"),
        (b"\x00\x01\x02 binary junk \xff" * 50, "not_a_pdf", "no %PDF- header"),
    ],
    ids=["empty", "png", "zip", "text", "html", "binary"],
)
def test_files_that_are_not_pdfs(tmp_path, data, error_type, needle):
    assert_document_error(rows_for(write(tmp_path, "doc.pdf", data)), error_type, needle)


@pytest.fixture(params=["whole", "streamed"])
def read_mode(request, monkeypatch):
    """Small files are parsed from memory, big ones piece by piece: both must behave alike."""
    if request.param == "streamed":
        monkeypatch.setattr(pdf_document, "WHOLE_FILE_BYTES", 0)
    return request.param


@pytest.mark.parametrize("junk_bytes", [2 << 10, 60 << 10])
def test_junk_before_the_header_is_skipped(tmp_path, read_mode, junk_bytes):
    junk = random.Random(junk_bytes).randbytes(junk_bytes).replace(b"%", b"#")
    data = junk + hostile.simple_pdf(2)
    assert_text_pages(rows_for(write(tmp_path, "junk.pdf", data)), 2)


def test_junk_beyond_the_search_window_is_not_a_pdf(tmp_path):
    data = b"J" * (70 << 10) + hostile.simple_pdf(1)
    assert_document_error(rows_for(write(tmp_path, "junk.pdf", data)), "not_a_pdf", "64 KiB")


def test_real_junk_prefixed_and_renamed_files(shared_data, read_mode):
    (row,) = rows_for(shared_data / "malformed/derived/junk-prefix-2kB.pdf")
    assert row["status"] == "ok"
    rows = rows_for(shared_data / "malformed/derived/png-renamed.pdf")
    assert_document_error(rows, "not_a_pdf", "a PNG image", "rename")


# -- 9. zero-page PDFs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pages_node", "needle"),
    [
        (b"<< /Type /Pages /Kids [] /Count 0 >>", "page tree is empty"),
        (b"<< /Type /Pages /Count 0 >>", "claims 1 but not one of them exists"),
        (b"<< /Type /Pages /Kids [] /Count 5 >>", "claims 5 but not one of them exists"),
    ],
    ids=["empty-kids", "no-kids", "count-lies"],
)
def test_zero_page_pdfs(tmp_path, pages_node, needle):
    data = hostile.write_pdf([b"<< /Type /Catalog /Pages 2 0 R >>", pages_node])
    assert_document_error(rows_for(write(tmp_path, "zero.pdf", data)), "zero_pages", needle)


def test_zero_page_pdf_written_by_pdfium(tmp_path, shared_data):
    data = save(pdfium.PdfDocument.new())  # pdfium refuses its own output with "Success"
    for path in (
        write(tmp_path, "zero.pdf", data),
        shared_data / "malformed/derived/zero-pages.pdf",
    ):
        assert_document_error(rows_for(path), "zero_pages", "no pages")


# -- 10. encrypted PDFs --------------------------------------------------------------------------

USER_PASSWORD = "Hunter2-user-secret"
OWNER_PASSWORD = "Owner-secret-42"
WRONG_PASSWORD = "Wr0ng-guess-77"


def assert_no_secret(rows: list[dict[str, Any]], *secrets: str) -> None:
    for row in rows:
        for value in row.values():
            text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
            assert not any(secret in text for secret in secrets), row


@pytest.mark.parametrize(
    ("password", "outcome"),
    [
        (None, "needs a password"),
        (WRONG_PASSWORD, "does not open"),
        (USER_PASSWORD, "ok"),
        (OWNER_PASSWORD, "ok"),
    ],
    ids=["missing", "wrong", "user", "owner"],
)
def test_user_password_pdf(tmp_path, password, outcome):
    path = write(tmp_path, "locked.pdf", hostile.encrypted_pdf(USER_PASSWORD, OWNER_PASSWORD))
    rows = rows_for(path, ExtractOptions(passwords=Passwords(password)))
    if outcome == "ok":
        assert_text_pages(rows, 2, "Secret page")
    else:
        assert_document_error(rows, "encrypted", outcome)
    units = plan_document(str(path), ExtractOptions(passwords=Passwords(password)))
    assert_no_secret(rows + units, USER_PASSWORD, OWNER_PASSWORD, WRONG_PASSWORD)


def test_owner_password_only_pdf_opens_without_a_password(tmp_path):
    path = write(tmp_path, "owner.pdf", hostile.encrypted_pdf("", OWNER_PASSWORD))
    assert pdfium_c.FPDF_GetSecurityHandlerRevision(open_pdf(path.read_bytes())) == 3
    rows = rows_for(path)
    assert_text_pages(rows, 2, "Secret page")
    assert_no_secret(rows, OWNER_PASSWORD)


def test_real_encrypted_files(shared_data):
    path = shared_data / "malformed/encrypted/password-example.pdf"
    rows = rows_for(path, ExtractOptions(passwords=Passwords("nope-not-it")))
    assert_document_error(rows, "encrypted", "does not open")
    assert_no_secret(rows, "nope-not-it")
    rows = rows_for(path, ExtractOptions(passwords=Passwords("test")))
    assert [row["status"] for row in rows] == ["ok"] * 4
    (row,) = rows_for(shared_data / "malformed/encrypted/empty_protected.pdf")
    assert row["page_count"] == 1 and row["status"] in ("ok", STATUS_PENDING)


# -- 11. JavaScript and attachments --------------------------------------------------------------


def test_pdf_with_javascript_gives_normal_rows(tmp_path):
    data = hostile.javascript_pdf()
    assert pdfium_c.FPDFDoc_GetJavaScriptActionCount(open_pdf(data)) == 1  # the JS is there
    path = write(tmp_path, "js.pdf", data)
    assert_text_pages(rows_for(path), 2)
    assert all(row["status"] == STATUS_PENDING for row in rows_for(path, OCR))


def test_pdf_with_an_attachment_gives_normal_rows(tmp_path):
    data = hostile.attachment_pdf()
    assert pdfium_c.FPDFDoc_GetAttachmentCount(open_pdf(data)) == 1
    path = write(tmp_path, "attached.pdf", data)
    assert_text_pages(rows_for(path), 1)
    (row,) = rows_for(path, OCR)
    assert_sane_image(row, OCR.max_pixels)


# -- 12. a 10,000-page PDF -----------------------------------------------------------------------


def test_ten_thousand_pages_are_planned_in_bounded_units(tmp_path):
    path = write(tmp_path, "long.pdf", hostile.many_pages_pdf(10_000))
    began = time.perf_counter()
    units = plan_document(str(path), ExtractOptions())
    assert time.perf_counter() - began < 1.0
    assert len(units) == 625 and {unit["page_count"] for unit in units} == {10_000}
    assert units[-1]["page_stop"] == 10_000


@pytest.mark.parametrize("mode", ["whole", "streamed"])
def test_a_unit_from_the_middle_of_ten_thousand_pages_stays_small(tmp_path, mode):
    path = write(tmp_path, "long.pdf", hostile.many_pages_pdf(10_000))
    spec: dict[str, Any] = {"middle_unit": True}
    if mode == "streamed":
        spec["whole_file_bytes"] = 0
    result = measure(path, **spec)
    assert result["units"] == 625
    assert [row["page_number"] for row in result["rows"]] == list(range(4993, 5009))
    assert {row["status"] for row in result["rows"]} == {"ok"}
    assert result["peak_mb"] < 400
    assert result["peak_mb"] - result["before_mb"] < 100


# -- 13. multi-page TIFFs ------------------------------------------------------------------------


def test_three_page_tiff(tmp_path):
    rows = rows_for(write(tmp_path, "scan.tif", hostile.multipage_tiff(3)))
    assert [(row["page_number"], row["status"]) for row in rows] == [
        (1, STATUS_PENDING),
        (2, STATUS_PENDING),
        (3, STATUS_PENDING),
    ]
    greys = [assert_sane_image(row, 10**6).getpixel((5, 5)) for row in rows]
    assert greys == [250, 190, 130]  # each row carries its own frame


def test_tiff_with_a_corrupt_frame(tmp_path):
    rows = rows_for(write(tmp_path, "scan.tif", hostile.tiff_with_corrupt_frame(3, corrupt=1)))
    assert [(row["page_number"], row["status"]) for row in rows] == [
        (1, STATUS_PENDING),
        (2, "error"),
        (3, STATUS_PENDING),
    ]
    assert_error(rows[1], "image_decode_failed", "frame 2 of 3")
    assert rows[1]["error_stage"] == "render"


def test_tiff_whose_frame_chain_loops(tmp_path):
    rows = rows_for(write(tmp_path, "loop.tif", hostile.tiff_with_looping_frames()))
    assert [row["status"] for row in rows] == [STATUS_PENDING, STATUS_PENDING]


# -- 14. huge images -----------------------------------------------------------------------------


def test_png_declaring_ten_gigapixels_is_refused_without_decoding(tmp_path):
    path = write(tmp_path, "huge.png", hostile.png_header_only(100_000, 100_000))
    assert path.stat().st_size < 1000
    result = measure(path)
    (row,) = result["rows"]
    assert_error(row, "image_decode_failed", "100000x100000 px", "pixel limit")
    assert result["peak_mb"] - result["before_mb"] < 20


@pytest.mark.parametrize("image_format", ["png", "jpeg"])
def test_big_but_allowed_image_is_downscaled_within_max_pixels(tmp_path, image_format):
    path = write(tmp_path, "big.png", hostile.image_bytes((6000, 4000)))
    options = ExtractOptions(max_pixels=2_000_000, image_format=image_format)
    (row,) = rows_for(path, options)
    image = assert_sane_image(row, 2_000_000)
    assert image.width / image.height == pytest.approx(1.5, rel=0.01)


def test_extremely_wide_image_fits_jpeg_transport(tmp_path):
    path = write(tmp_path, "strip.png", hostile.image_bytes((70_000, 10)))
    (row,) = rows_for(path, ExtractOptions(image_format="jpeg"))
    assert assert_sane_image(row, 10**6).width == MAX_SIDE_PX


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (hostile.simple_pdf(1), "a PDF document"),
        (b"just a note\n", "plain text"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "a damaged PNG image"),
    ],
    ids=["pdf", "text", "broken-png"],
)
def test_files_named_png_that_are_not_images(tmp_path, data, needle):
    rows = rows_for(write(tmp_path, "scan.png", data))
    assert_document_error(rows, "image_decode_failed", needle)
