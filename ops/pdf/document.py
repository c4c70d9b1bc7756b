"""Opening PDFs so that every failure has a name and a reason a user can act on.

pdfium reports failures as bare codes ("Data format error", and "Success" for a valid PDF with an
empty page tree); this module turns them into :mod:`ops.errors` types with actionable messages.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pypdfium2 as pdfium

from ops import errors
from ops.sources import (
    PDF_HEADER_SEARCH_BYTES,
    is_remote,
    open_stream,
    pdf_header_offset,
    sniff_foreign_format,
)

# pdfium's FPDF_ERR_* codes (fpdfview.h).
_ERR_SUCCESS = 0
_ERR_FORMAT = 3
_ERR_PASSWORD = 4
_ERR_SECURITY = 5

_EMPTY_PAGE_TREE = re.compile(
    rb"/Type\s*/Pages\b[^>]*?/Count\s+0\b|/Count\s+0\b[^>]*?/Type\s*/Pages\b"
)


# Files up to this size are parsed from memory; larger ones are read by pdfium piece by piece.
WHOLE_FILE_BYTES = 16 << 20
# On a failed open, this much of the file's start (and its last bytes) is read to explain why.
_DIAGNOSIS_HEAD_BYTES = 4 << 20
_DIAGNOSIS_TAIL_BYTES = 64 << 10


def header_offset(head: bytes) -> int:
    """Where ``%PDF-`` starts in the file's first bytes; raises a PageError if this is not a PDF."""
    if not head:
        raise errors.EmptyFile("the file is empty (0 bytes)")
    offset = pdf_header_offset(head)
    if offset < 0:
        foreign = sniff_foreign_format(head)
        if foreign is not None:
            raise errors.NotAPdf(
                f"not a PDF: the file is named .pdf but its bytes are a {foreign}; "
                "rename it with the right extension to process it"
            )
        window = PDF_HEADER_SEARCH_BYTES // 1024
        raise errors.NotAPdf(f"not a PDF: no %PDF- header in the first {window} KiB")
    return offset


def open_pdf(data: bytes, password: str | None = None) -> pdfium.PdfDocument:
    """Open a PDF held in memory, or raise a :class:`~ops.errors.PageError` that says why not."""
    offset = header_offset(data[:PDF_HEADER_SEARCH_BYTES])
    body = data[offset:] if offset else data
    return _load(body, password, lambda: body)


@contextmanager
def opened_pdf(uri: str, password: str | None = None) -> Iterator[pdfium.PdfDocument]:
    """Open a PDF by URI. A small file is read whole (pdfium parses from memory ~5 % faster than
    through file reads, and a remote file then costs one request); a large one is not: pdfium reads
    the parts it needs, so a 10,000-page file costs the memory of the pages being processed."""
    with open_stream(uri) as stream:
        head = stream.read(PDF_HEADER_SEARCH_BYTES)
        offset = header_offset(head)
        if offset or _size(stream) <= WHOLE_FILE_BYTES:  # junk before %PDF- needs a copy anyway
            stream.seek(len(head))
            body = (head + stream.read())[offset:]
            document = _load(body, password, lambda: body)
        else:
            stream.seek(0)
            source: Any = stream if is_remote(uri) else uri  # pdfium reads local files natively
            document = _load(source, password, lambda: _diagnosis_bytes(uri))
        try:
            yield document
        finally:
            document.close()


def _size(stream: Any) -> int:
    stream.seek(0, 2)
    return int(stream.tell())


def _load(source: Any, password: str | None, body: Callable[[], bytes]) -> pdfium.PdfDocument:
    try:
        document = pdfium.PdfDocument(source, password=password)
    except pdfium.PdfiumError as exc:
        raise _classify_open_error(exc, body(), password) from None
    if len(document) == 0:
        document.close()
        raise errors.ZeroPages("the PDF opened but has no pages (its page tree is empty)")
    return document


def _diagnosis_bytes(uri: str) -> bytes:
    with open_stream(uri) as stream:
        head = stream.read(_DIAGNOSIS_HEAD_BYTES)
        if len(head) < _DIAGNOSIS_HEAD_BYTES:
            return head
        stream.seek(0, 2)
        size = stream.tell()
        stream.seek(max(len(head), size - _DIAGNOSIS_TAIL_BYTES))
        return head + stream.read()


def _classify_open_error(
    exc: pdfium.PdfiumError, body: bytes, password: str | None
) -> errors.PageError:
    # pdfium does not reset its last-error code on every failure, so the code can be stale: check
    # the bytes before trusting it.
    code = getattr(exc, "err_code", None)
    if _EMPTY_PAGE_TREE.search(body) and not _has_pages(body):
        return errors.ZeroPages(
            "the PDF has no pages (its page tree is empty; pdfium reports this as 'Success')"
        )
    if code == _ERR_PASSWORD and b"/Encrypt" in body:
        if password:
            return errors.EncryptedPdf("encrypted PDF: the password given does not open it")
        return errors.EncryptedPdf(
            "encrypted PDF: it needs a password; pass --password or --password-file"
        )
    if code == _ERR_SECURITY:
        return errors.EncryptedPdf("encrypted PDF with an unsupported security handler")
    if code in (_ERR_FORMAT, _ERR_SUCCESS, _ERR_PASSWORD):
        tail = body[-2048:]
        hint = "" if b"%%EOF" in tail else " (no %%EOF trailer: the file looks truncated)"
        return errors.CorruptPdf(f"corrupt PDF: pdfium cannot parse it{hint}")
    return errors.CorruptPdf(f"corrupt PDF: pdfium cannot open it ({exc})")


def _has_pages(body: bytes) -> bool:
    return re.search(rb"/Type\s*/Page\b", body) is not None
