"""Small PDFs built in code, for samples, tests and benchmarks.

A hand-written writer (not a PDF library) so that tests can also produce the odd files real life
brings: giant or tiny MediaBoxes, invisible text, text hidden under an image.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import pypdfium2 as pdfium


@dataclass(frozen=True)
class TextPage:
    lines: Sequence[str]
    width: float = 612.0
    height: float = 792.0
    render_mode: int = 0  # 3 = invisible text, as in OCR layers over scans
    font_size: float = 12.0


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def text_pdf(pages: Sequence[TextPage | Sequence[str]]) -> bytes:
    """A valid PDF with one Helvetica (WinAnsi) text block per page; the first line is a title."""
    normalised = [page if isinstance(page, TextPage) else TextPage(list(page)) for page in pages]
    objects: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    page_ids = [3 + 2 * index for index in range(len(normalised))]
    font_id = 3 + 2 * len(normalised)
    kids = " ".join(f"{pid} 0 R" for pid in page_ids)
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(normalised)} >>".encode())
    for page, page_id in zip(normalised, page_ids, strict=True):
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {page.width:g} {page.height:g}] "
            f"/Contents {page_id + 1} 0 R "
            f"/Resources << /Font << /F1 {font_id} 0 R >> >> >>".encode()
        )
        stream = _content_stream(page).encode("latin-1")
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects.append(
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
    )
    return serialise(objects)


def _content_stream(page: TextPage) -> str:
    size = page.font_size
    top = max(page.height - 72.0, size)
    body = [
        "BT",
        f"{page.render_mode} Tr",
        f"/F1 {size * 1.5:g} Tf",
        f"72 {top:g} Td",
        f"{size * 2:g} TL",
    ]
    for index, line in enumerate(page.lines):
        if index == 1:
            body += [f"/F1 {size:g} Tf", f"{size * 1.5:g} TL"]
        body.append(f"({_escape(line)}) Tj T*")
    body.append("ET")
    return "\n".join(body)


def serialise(
    objects: Sequence[bytes],
    *,
    version: bytes = b"1.4",
    trailer: bytes = b"",
    xref_offset_shift: int = 0,
    startxref_shift: int = 0,
) -> bytes:
    """A PDF whose object ``n`` (1-based) is ``objects[n - 1]``; object 1 is the catalog.

    ``trailer`` adds entries to the trailer dictionary. ``xref_offset_shift`` adds to every offset
    in the xref table and ``startxref_shift`` to the startxref value: non-zero values make a broken
    cross-reference table (for tests of damaged files).
    """
    out = io.BytesIO()
    out.write(b"%%PDF-%s\n%%\xe2\xe3\xcf\xd3\n" % version)
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % (offset + xref_offset_shift))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R %s>>\n" % (len(objects) + 1, trailer))
    out.write(b"startxref\n%d\n%%%%EOF\n" % (xref + startxref_shift))
    return out.getvalue()


def merge_pages(parts: Sequence[tuple[bytes, int]]) -> bytes:
    """One PDF made of page ``index`` of each ``(pdf bytes, index)``, in order."""
    merged = pdfium.PdfDocument.new()
    for data, index in parts:
        merged.import_pages(pdfium.PdfDocument(data), [index])
    return save(merged)


def repeat_pages(data: bytes, total_pages: int) -> bytes:
    """A PDF of ``total_pages`` pages cycling through the pages of ``data`` (for big-PDF tests)."""
    source = pdfium.PdfDocument(data)
    merged = pdfium.PdfDocument.new()
    count = len(source)
    while len(merged) < total_pages:
        take = min(count, total_pages - len(merged))
        merged.import_pages(source, list(range(take)))
    return save(merged)


def save(document: pdfium.PdfDocument) -> bytes:
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
