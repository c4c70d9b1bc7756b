"""Opening real malformed, encrypted and odd PDFs from the shared corpus."""

from __future__ import annotations

import pytest

from ops import errors
from ops.pdf import document as pdf_document
from ops.pdf.document import open_pdf, opened_pdf
from ops.pdf.synth import text_pdf
from ops.pdf.textlayer import extract_text

EXPECTED_OPEN_ERRORS = {
    "malformed/zero_byte/empty.pdf": errors.EmptyFile,
    "malformed/derived/png-renamed.pdf": errors.NotAPdf,
    "malformed/derived/zero-pages.pdf": errors.ZeroPages,
    "malformed/derived/tracemonkey.truncated-50pct.pdf": errors.CorruptPdf,
    "malformed/derived/libreoffice-form.truncated-tail.pdf": errors.CorruptPdf,
    "malformed/broken_structure/REDHAT-1531897-0.pdf": errors.CorruptPdf,
    "malformed/broken_structure/bug1020226.pdf": errors.CorruptPdf,
    "malformed/encrypted/issue6010_1.pdf": errors.EncryptedPdf,
    "malformed/encrypted/password-example.pdf": errors.EncryptedPdf,
    "malformed/encrypted/r2-user-password.pdf": errors.EncryptedPdf,
}


@pytest.mark.parametrize(("name", "expected"), sorted(EXPECTED_OPEN_ERRORS.items()))
def test_unopenable_files_raise_named_errors(shared_data, name, expected):
    with pytest.raises(expected) as caught:
        open_pdf((shared_data / name).read_bytes())
    assert str(caught.value)  # always a reason


def test_error_classification_ignores_stale_pdfium_error_codes(shared_data):
    # pdfium keeps its last error code; a zero-page PDF opened right after an encrypted one must
    # still be reported as zero pages, not as "needs a password".
    with pytest.raises(errors.EncryptedPdf):
        open_pdf((shared_data / "malformed/encrypted/r2-user-password.pdf").read_bytes())
    with pytest.raises(errors.ZeroPages):
        open_pdf((shared_data / "malformed/derived/zero-pages.pdf").read_bytes())


@pytest.mark.parametrize(
    ("name", "password", "pages"),
    [
        ("malformed/encrypted/r2-user-password.pdf", "asdfzxcv", 1),
        ("malformed/encrypted/password-example.pdf", "test", 4),
        ("malformed/encrypted/empty_protected.pdf", None, 1),  # owner password only
    ],
)
def test_encrypted_pdfs_open_with_the_right_password(shared_data, name, password, pages):
    document = open_pdf((shared_data / name).read_bytes(), password)
    assert len(document) == pages


def test_wrong_password_is_reported_as_such(shared_data):
    with pytest.raises(errors.EncryptedPdf, match="does not open"):
        open_pdf((shared_data / "malformed/encrypted/r2-user-password.pdf").read_bytes(), "nope")


def test_junk_before_the_header_is_skipped(shared_data):
    document = open_pdf((shared_data / "malformed/derived/junk-prefix-2kB.pdf").read_bytes())
    assert len(document) == 1


def test_non_pdf_bytes_without_known_magic():
    with pytest.raises(errors.NotAPdf, match="no %PDF- header"):
        open_pdf(b"hello, this is plain text and certainly not a PDF")


def test_generated_pdf_opens():
    assert len(open_pdf(text_pdf([["Title", "one line"], ["Second", "page"]]))) == 2


@pytest.fixture(params=["whole", "streamed"])
def read_mode(request, monkeypatch):
    """Small files are parsed from memory, big ones piece by piece: both must behave alike."""
    if request.param == "streamed":
        monkeypatch.setattr(pdf_document, "WHOLE_FILE_BYTES", 0)
    return request.param


def test_opened_pdf_reads_pages_either_way(shared_data, read_mode):
    with opened_pdf(str(shared_data / "malformed/encrypted/password-example.pdf"), "test") as doc:
        assert len(doc) == 4
        assert extract_text(doc[0]).strip()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("malformed/derived/zero-pages.pdf", errors.ZeroPages),
        ("malformed/derived/tracemonkey.truncated-50pct.pdf", errors.CorruptPdf),
        ("malformed/encrypted/r2-user-password.pdf", errors.EncryptedPdf),
    ],
)
def test_opened_pdf_names_failures_either_way(shared_data, read_mode, name, expected):
    with pytest.raises(expected), opened_pdf(str(shared_data / name)):
        pass


def test_opened_pdf_skips_junk_before_the_header_either_way(shared_data, read_mode):
    with opened_pdf(str(shared_data / "malformed/derived/junk-prefix-2kB.pdf")) as document:
        assert len(document) == 1
