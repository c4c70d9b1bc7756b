"""Opening PDFs so that every failure has a name and a reason a user can act on.

pdfium reports failures as bare codes ("Data format error", and "Success" for a valid PDF with an
empty page tree); this module turns them into :mod:`ops.errors` types with actionable messages.
"""

from __future__ import annotations

import ctypes
import io
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from ops import errors
from ops.sources import (
    PDF_HEADER_SEARCH_BYTES,
    is_remote,
    looks_like_text,
    open_stream,
    pdf_header_offset,
    sniff_foreign_format,
    with_article,
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
# A page tree may claim this many pages that do not exist (each becomes an error row) before the
# document is refused as corrupt; see _check_page_tree.
MAX_MISSING_PAGES = 1_000
_PROBE_EVERY_PAGE = 256
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
                f"not a PDF: the file is named .pdf but its bytes are {with_article(foreign)}; "
                "rename it with the right extension to process it"
            )
        window = PDF_HEADER_SEARCH_BYTES // 1024
        kind = "; the file is plain text" if looks_like_text(head) else ""
        raise errors.NotAPdf(f"not a PDF: no %PDF- header in the first {window} KiB{kind}")
    return offset


def open_pdf(data: bytes, password: str | None = None) -> pdfium.PdfDocument:
    """Open a PDF held in memory, or raise a :class:`~ops.errors.PageError` that says why not."""
    offset = header_offset(data[:PDF_HEADER_SEARCH_BYTES])
    body = data[offset:] if offset else data
    return _load(body, password, lambda: body, len(body))


@contextmanager
def opened_pdf(uri: str, password: str | None = None) -> Iterator[pdfium.PdfDocument]:
    """Open a PDF by URI. A small file is read whole (pdfium parses from memory ~5 % faster than
    through file reads, and a remote file then costs one request); a large one is not: pdfium reads
    the parts it needs, so a 10,000-page file costs the memory of the pages being processed."""
    with open_stream(uri) as stream:
        head = stream.read(PDF_HEADER_SEARCH_BYTES)
        offset = header_offset(head)
        size = _size(stream)
        if size <= WHOLE_FILE_BYTES:
            stream.seek(len(head))
            body = head[offset:] + stream.read()
            document = _load(body, password, lambda: body, len(body))
        else:
            source: Any = uri  # pdfium reads local files natively
            if offset:  # junk before %PDF-: pdfium reads from the header on, with no copy
                source = _Tail(stream, offset, size)
            elif is_remote(uri):
                stream.seek(0)
                source = stream
            document = _load(source, password, lambda: _diagnosis_bytes(uri), size - offset)
        try:
            yield document
        finally:
            document.close()


def _size(stream: Any) -> int:
    stream.seek(0, 2)
    return int(stream.tell())


class _Tail(io.RawIOBase):
    """The bytes of ``stream`` from ``offset`` on, for pdfium to read piece by piece: a big PDF
    behind junk bytes is neither copied into memory nor handed over with the junk."""

    def __init__(self, stream: Any, offset: int, size: int) -> None:
        super().__init__()
        self._stream, self._offset, self._size, self._position = stream, offset, size - offset, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, position: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + position)
        return self._position

    def tell(self) -> int:
        return self._position

    def readinto(self, buffer: Any) -> int:
        self._stream.seek(self._offset + self._position)
        count = self._stream.readinto(buffer) or 0
        self._position += count
        return count


def _load(
    source: Any, password: str | None, body: Callable[[], bytes], size: int
) -> pdfium.PdfDocument:
    try:
        document = pdfium.PdfDocument(source, password=password)
    except pdfium.PdfiumError as exc:
        raise _classify_open_error(exc, body(), password) from None
    try:
        if len(document) == 0:
            raise errors.ZeroPages("the PDF opened but has no pages (its page tree is empty)")
        _check_page_tree(document, size)
    except BaseException:
        document.close()
        raise
    return document


def _check_page_tree(document: pdfium.PdfDocument, size: int) -> None:
    """Refuse a page count that the page tree does not back.

    pdfium takes the root's /Count at its word (up to 2^20 - 1), so an 800-byte file can claim a
    million pages, each of which would become a work unit's error row. A page costs at least a
    few bytes of file even in a compressed object stream; only a count above one page per byte, or
    a missing first page, makes us look for the pages themselves (cheaply: their dictionaries
    are found, not parsed).
    """
    claimed = len(document)
    if claimed <= size and _has_page(document, 0):
        return
    if claimed <= _PROBE_EVERY_PAGE:
        found = sum(_has_page(document, index) for index in range(claimed))
        if found == 0:
            raise errors.ZeroPages(
                f"the PDF has no pages: its page tree claims {claimed:,} but not one of them exists"
            )
    else:
        found = _leading_pages(document, claimed)
    if claimed - found > max(found, MAX_MISSING_PAGES):
        raise errors.CorruptPdf(
            f"corrupt PDF: its page tree claims {claimed:,} pages but only {found:,} exist (a "
            "damaged or forged /Count); repair the file (e.g. qpdf) to read those pages"
        )


def _leading_pages(document: pdfium.PdfDocument, claimed: int) -> int:
    """How many pages exist, taking the existing ones to come first: the first missing page is
    found by bisection, so a tree claiming a million pages costs 20 look-ups."""
    if _has_page(document, claimed - 1):
        return claimed
    low, high = 0, claimed - 1  # pages before `low` exist; page `high` does not
    while low < high:
        middle = (low + high) // 2
        if _has_page(document, middle):
            low = middle + 1
        else:
            high = middle
    return low


def page_load_error(
    document: pdfium.PdfDocument, index: int, exc: BaseException
) -> errors.PageLoadFailed:
    """The error for a page pdfium would not load, saying why where the file shows it (pdfium
    itself only says "Failed to load page.")."""
    if not _has_page(document, index):
        return errors.PageLoadFailed(
            f"page {index + 1} is missing from the PDF's page tree (the tree is damaged: it "
            "loops back on itself or lists objects that are not pages)"
        )
    return errors.PageLoadFailed(f"pdfium cannot load page {index + 1}: {exc}")


def _has_page(document: pdfium.PdfDocument, index: int) -> bool:
    """Whether page ``index`` has a page dictionary (found without loading the page)."""
    size = pdfium_c.FS_SIZEF()
    return bool(pdfium_c.FPDF_GetPageSizeByIndexF(document.raw, index, ctypes.byref(size)))


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
            "encrypted PDF: it needs a password; pass --password, --password-file or --password-map"
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
