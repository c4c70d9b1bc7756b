"""Page rows turned into what other tools read: markdown per document, JSONL per page, Dolma.

Pure functions over rows (dicts in the page schema) of one document, pages in order; reading the
output and writing files is :mod:`pipelines.export`'s job. Dolma documents follow olmOCR's
layout (``id, text, source, added, created, metadata``, and ``attributes.pdf_page_numbers`` as
``[start, end, page_number]`` character spans, pages joined by a newline), so an olmOCR user can
switch without touching downstream code.
"""

from __future__ import annotations

import gzip
import json
import posixpath
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from ops.schema import STATUS_OK
from ops.shards import TEMPORARY_PREFIX
from ops.uris import from_listing, resolve

# Before every page of a markdown export: invisible when rendered, easy to split on.
DEFAULT_PAGE_MARKER = "<!-- page {page} -->"
MARKER_PATTERN = re.compile(r"^<!-- page (\d+)(?:: .*)? -->$", re.MULTILINE)
DOLMA_SOURCE = "pagemill"


def markdown_document(
    pages: Sequence[dict[str, Any]], page_marker: str = DEFAULT_PAGE_MARKER
) -> str:
    """One document's pages as markdown: a marker before each page, and a visible note where a
    page (or the whole document) could not be read, so nothing disappears silently."""
    first = pages[0]
    header = f"<!-- pagemill: {first['source_uri']} (doc {first['doc_id'] or 'unknown'}) -->"
    parts = [header]
    for row in pages:
        if row.get("page_number") is None:  # the document never opened
            parts.append(f"> **The document could not be read**: {_problem(row)}")
            continue
        marker = page_marker.format(page=row["page_number"])
        if row.get("status") == STATUS_OK:  # a page's tables as tables, where it has them
            body = row.get("markdown") or row.get("text") or ""
            parts.append(f"{marker}\n\n{body.strip()}")
        else:
            parts.append(
                f"{marker}\n\n> **Page {row['page_number']} could not be read**: {_problem(row)}"
            )
    return "\n\n".join(parts) + "\n"


def markdown_pages(text: str) -> dict[int, str]:
    """Page number -> text of a markdown export made with the default marker (the inverse of
    :func:`markdown_document` for readable pages; for tests and for users who split files)."""
    pieces = MARKER_PATTERN.split(text)
    pairs = zip(pieces[1::2], pieces[2::2], strict=True)
    return {int(number): body.strip() for number, body in pairs}


def _problem(row: dict[str, Any]) -> str:
    message = (row.get("error_message") or "").strip().splitlines()
    return f"{row.get('error_type') or 'error'}" + (f" ({message[0]})" if message else "")


def jsonl_line(row: dict[str, Any], columns: Sequence[str] | None = None) -> str:
    """One page row as a JSON line (timestamps in ISO 8601)."""
    picked = row if columns is None else {name: row.get(name) for name in columns}
    return json.dumps(picked, ensure_ascii=False, default=_json_value) + "\n"


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def dolma_document(
    pages: Sequence[dict[str, Any]], added: str, version: str
) -> dict[str, Any] | None:
    """One document as a Dolma record, or None when no page has text to give."""
    readable = [row for row in pages if row.get("status") == STATUS_OK and row.get("page_number")]
    if not readable:
        return None
    texts, spans, position = [], [], 0
    for index, row in enumerate(readable):
        text = row.get("text") or ""
        texts.append(text)
        spans.append([position, position + len(text), int(row["page_number"])])
        position += len(text) + (1 if index < len(readable) - 1 else 0)
    first = pages[0]
    created = max((row["processed_at"] for row in pages if row.get("processed_at")), default=None)
    return {
        "id": first["doc_id"],
        "text": "\n".join(texts),
        "source": DOLMA_SOURCE,
        "added": added,
        "created": created.date().isoformat() if created else added,
        "metadata": {
            "Source-File": first["source_uri"],
            "pagemill-version": version,
            "pdf-total-pages": first.get("page_count") or len(pages),
            "total-input-tokens": sum(row.get("input_tokens") or 0 for row in pages),
            "total-output-tokens": sum(row.get("output_tokens") or 0 for row in pages),
            "total-fallback-pages": sum(bool(row.get("is_fallback")) for row in pages),
            "error-pages": [
                row["page_number"]
                for row in pages
                if row.get("page_number") and row.get("status") != STATUS_OK
            ],
        },
        "attributes": {"pdf_page_numbers": spans},
    }


class LineShards:
    """Lines written straight to numbered shard files (``prefix-00000.jsonl[.gz]``) of bounded
    size under ``directory``: each goes to a hidden temporary and is renamed when full, so memory
    stays flat and a reader never sees half a shard. ``written`` lists the finished ones."""

    def __init__(self, directory: str, prefix: str, max_bytes: int, compress: bool) -> None:
        self._directory, self._prefix = directory, prefix
        self._max_bytes, self._compress = max_bytes, compress
        self._filesystem, self._root = resolve(directory)
        self._filesystem.create_dir(self._root, recursive=True)
        self._stream: Any = None
        self.written: list[str] = []

    def add(self, line: str) -> None:
        if self._stream is None:
            self._open()
        data = line.encode("utf-8")
        self._stream.write(data)
        self._size += len(data)
        if self._size >= self._max_bytes:
            self.close()

    def _open(self) -> None:
        suffix = ".jsonl.gz" if self._compress else ".jsonl"
        self._name = f"{self._prefix}-{len(self.written):05d}{suffix}"
        self._temporary = f"{self._root}/{TEMPORARY_PREFIX}{self._name}.tmp"
        self._raw = self._filesystem.open_output_stream(self._temporary)
        # mtime=0: the same lines give the same bytes, so a rerun rewrites identical shards.
        self._stream = (
            gzip.GzipFile(fileobj=self._raw, mode="wb", mtime=0) if self._compress else self._raw
        )
        self._size = 0

    def close(self) -> None:
        """Finish the open shard, if any."""
        if self._stream is None:
            return
        if self._compress:
            self._stream.close()
        self._raw.close()
        final = f"{self._root}/{self._name}"
        self._filesystem.move(self._temporary, final)
        self.written.append(from_listing(self._directory, final))
        self._stream = None


def markdown_names(sources: Iterable[str]) -> dict[str, str]:
    """A relative ``.md`` path per source: its path below the sources' common folder, the
    extension swapped (``a/report.pdf`` -> ``a/report.md``), or kept where two sources would
    meet (``scan.pdf`` and ``scan.tif`` -> ``scan.pdf.md``, ``scan.tif.md``)."""
    plain = {source: _path_of(source) for source in sorted(set(sources))}
    common = posixpath.commonpath([posixpath.dirname(path) for path in plain.values()] or ["/"])
    relative = {source: _safe(posixpath.relpath(path, common)) for source, path in plain.items()}
    stems: dict[str, list[str]] = {}
    for source, path in relative.items():
        stems.setdefault(posixpath.splitext(path)[0], []).append(source)
    names = {}
    for source, path in relative.items():
        stem = posixpath.splitext(path)[0]
        names[source] = (stem if len(stems[stem]) == 1 else path) + ".md"
    return names


def _path_of(source: str) -> str:
    """A source's absolute path without scheme or query (an object's is ``/bucket/key``)."""
    base = source.split("?", 1)[0] if "://" in source else source
    path = base.split("://", 1)[1] if "://" in base else base
    return posixpath.normpath("/" + path.lstrip("/"))


def _safe(path: str) -> str:
    parts = [re.sub(r"[^\w.\- ]", "_", part) for part in path.split("/") if part not in ("", ".")]
    return "/".join(part if part not in ("..",) else "_" for part in parts) or "document"
