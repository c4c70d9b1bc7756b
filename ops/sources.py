"""Where documents come from: bytes by URI, stable document ids, telling file kinds apart.

Local paths and ``s3://`` / ``gs://`` URIs are read through pyarrow filesystems, so the same code
runs on a laptop and on cluster workers.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any, BinaryIO

PDF_EXTENSIONS = frozenset({".pdf"})
IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff"})
DOCUMENT_EXTENSIONS = PDF_EXTENSIONS | IMAGE_EXTENSIONS
REMOTE_SCHEMES = ("s3://", "gs://", "gcs://")

# How far into a file we look for a "%PDF-" header that follows junk bytes. The spec allows 1 KiB;
# real files from broken mailers and web servers carry more, and pdfium gives up after 1 KiB.
PDF_HEADER_SEARCH_BYTES = 64 * 1024

_FORMAT_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"II*\x00", "TIFF image"),
    (b"MM\x00*", "TIFF image"),
    (b"GIF8", "GIF image"),
    (b"%PDF-", "PDF document"),
    (b"PK\x03\x04", "ZIP archive (e.g. DOCX/XLSX)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "legacy Microsoft Office file (DOC/XLS/PPT)"),
    (b"{\\rtf", "Rich Text Format (RTF) document"),
    (b"%!PS", "PostScript file"),
    (b"\x1f\x8b", "gzip archive"),
    (b"Rar!\x1a\x07", "RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "7-Zip archive"),
)
# Markup is recognised by its first tag, after any byte-order mark and whitespace.
_MARKUP_PREFIXES: tuple[tuple[bytes, str], ...] = (
    (b"<!doctype html", "HTML page (often an error or login page saved in place of the real file)"),
    (b"<html", "HTML page (often an error or login page saved in place of the real file)"),
    (b"<?xml", "XML document"),
)


def is_remote(uri: str) -> bool:
    return uri.startswith(REMOTE_SCHEMES)


def open_stream(uri: str) -> BinaryIO:
    """A seekable binary stream; the caller closes it. Nothing is read until asked for."""
    if not is_remote(uri):
        return open(uri, "rb")
    from ops.uris import resolve

    filesystem, path = resolve(uri)
    # Arrow's file lacks parts of Python's file protocol (readline, which Pillow's TIFF reader
    # uses): buffered over a raw adapter it has all of it, and reads stay ranged requests.
    return io.BufferedReader(_ArrowFile(filesystem.open_input_file(path)), 1 << 20)


class _ArrowFile(io.RawIOBase):
    """A random-access Arrow file as a raw Python stream."""

    def __init__(self, native: Any) -> None:
        self._native = native

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._native.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return int(self._native.seek(offset, whence))

    def tell(self) -> int:
        return int(self._native.tell())

    def close(self) -> None:
        if not self.closed:
            self._native.close()
        super().close()


def fingerprint(uri: str, chunk_bytes: int = 1 << 20) -> str:
    """The document id: sha256 of the bytes, streamed in chunks so big files never sit in memory.
    The same file gets the same id wherever it lives and whatever its name."""
    digest = hashlib.sha256()
    with open_stream(uri) as stream:
        while chunk := stream.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def kind_from_name(uri: str) -> str:
    """``pdf`` or ``image`` by file extension; ``unknown`` otherwise."""
    suffix = Path(uri.split("?", 1)[0]).suffix.lower()
    if suffix in PDF_EXTENSIONS:
        return "pdf"
    if suffix in IMAGE_EXTENSIONS:
        return "image"
    return "unknown"


def sniff_foreign_format(data: bytes) -> str | None:
    """Name of a well-known format the bytes start with, if any (PDF included: an image document
    may be a PDF with the wrong name)."""
    for magic, name in _FORMAT_MAGIC:
        if data.startswith(magic):
            return name
    text = data[:1024].removeprefix(b"\xef\xbb\xbf").lstrip().lower()
    for prefix, name in _MARKUP_PREFIXES:
        if text.startswith(prefix):
            return name
    return None


def with_article(name: str) -> str:
    """``name`` after "a" or "an", as it is read aloud ("an HTML page", "a PNG image")."""
    first = name.split(" ", 1)[0]
    spoken_vowel = first.isupper() and first[0] in "AEFHILMNOSX"  # "an HTML", "a RAR"
    return f"{'an' if spoken_vowel or first[0] in 'aeiou' else 'a'} {name}"


def looks_like_text(data: bytes) -> bool:
    """Whether the first KiB of ``data`` is printable UTF-8 text (a .txt or .csv, say)."""
    data = data[:1024]
    if not data:
        return False
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:  # may be a multi-byte character cut at the end
        text = data[:-3].decode("utf-8", errors="replace")
        if "\ufffd" in text:
            return False
    return all(char.isprintable() or char in "\t\n\r\f" for char in text)


def pdf_header_offset(data: bytes) -> int:
    """Offset of the ``%PDF-`` header within the search window, or -1 if there is none."""
    return data.find(b"%PDF-", 0, PDF_HEADER_SEARCH_BYTES)
