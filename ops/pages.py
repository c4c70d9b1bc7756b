"""Documents to page rows, without Ray.

Two steps keep memory bounded for any document size: :func:`plan_document` reads a file once to
hash it and count its pages, and emits small *work units* (a page range each);
:func:`extract_unit` re-opens the file for one unit and yields one row per page: finished rows for
the text route, rows carrying an encoded page image for the OCR route. No step ever holds more than
one unit's pages.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pypdfium2 as pdfium

from ops import errors, image_documents
from ops.flight import Guard, Limits, Verdict, failure_message, guarded
from ops.imaging import DEFAULT_MAX_IMAGE_PIXELS, DEFAULT_MAX_PIXELS, encode
from ops.layout.furniture import Furniture
from ops.layout.hyphenation import SOFT_BREAK, Vocabulary, has_line_end_hyphens
from ops.layout.language import primary_language
from ops.layout.steps import MARKDOWN, TextSteps
from ops.layout.structure import PageStructure, to_markdown
from ops.passwords import Passwords
from ops.pdf.document import opened_pdf, page_load_error
from ops.pdf.render import render_page
from ops.pdf.textlayer import inspect_layer, layer_text, page_structure
from ops.routing import RouteDecision, RouteMode, RoutingPolicy, decide, decide_forced_ocr
from ops.schema import IMAGE_COLUMN, ROUTE_OCR, ROUTE_TEXT, STATUS_ERROR, STATUS_OK
from ops.sources import fingerprint, kind_from_name, open_stream
from ops.text_quality import assess

TEXT_BACKEND = "pdfium"
RENDER_STAGE = "render"  # page keys in the flight log
STATUS_PENDING = "pending"  # an OCR-route row on its way to a backend; never written
_STRUCTURE = "_structure"  # a text-route row's headings and tables, from reading to cleaning


@dataclass(frozen=True, slots=True)
class ExtractOptions:
    dpi: int = 150
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS
    routing: RoutingPolicy = field(default_factory=RoutingPolicy)
    passwords: Passwords = field(default_factory=Passwords)
    pages_per_unit: int = 16
    image_format: str = "png"  # how rendered pages travel to the OCR actors: png | jpeg
    text_steps: TextSteps = field(default_factory=TextSteps)  # clean-up of text-route pages


@dataclass(frozen=True, slots=True)
class RowContext:
    """Provenance stamped on every row of one run."""

    run_id: str
    pipeline_version: str
    node: str | None = None  # where the rows are made: set by each worker for itself


def plan_document(
    uri: str,
    options: ExtractOptions,
    done_doc_id: str | None = None,
    done_pages: Collection[int] = (),
) -> list[dict[str, Any]]:
    """Work units for one document, or a single unit carrying the reason it cannot be processed.

    ``done_pages`` of the document whose id is ``done_doc_id`` already have rows in the output
    (resume): units cover only the other pages. A file whose bytes changed since has another id
    and is planned whole.
    """
    kind = kind_from_name(uri)
    try:
        doc_id = fingerprint(uri)
    except OSError as exc:
        return [
            _failed_unit(uri, None, kind, "read", errors.UnreadableInput(f"cannot read: {exc}"))
        ]
    try:
        page_count = _count_pages(uri, kind, options)
    except Exception as exc:
        return [_failed_unit(uri, doc_id, kind, "open", exc)]
    step = max(1, options.pages_per_unit)
    if doc_id == done_doc_id and done_pages:
        done = set(done_pages)
        todo = ranges([index for index in range(page_count) if index not in done], step)
    else:
        todo = [(start, min(start + step, page_count)) for start in range(0, page_count, step)]
    return [
        {
            "source_uri": uri,
            "doc_id": doc_id,
            "source_kind": kind,
            "page_count": page_count,
            "page_start": start,
            "page_stop": stop,
        }
        for start, stop in todo
    ]


def ranges(pages: Iterable[int], step: int) -> list[tuple[int, int]]:
    """Page indexes as sorted ``[start, stop)`` runs of consecutive pages, each inside one of the
    aligned blocks ``[k * step, (k + 1) * step)`` a fresh run's units are: a resumed page is
    cleaned with the same window of pages around it (:func:`block_of`) as a fresh run's."""
    runs: list[tuple[int, int]] = []
    for index in sorted(pages):
        if runs and runs[-1][1] == index and index // step == runs[-1][0] // step:
            runs[-1] = (runs[-1][0], index + 1)
        else:
            runs.append((index, index + 1))
    return runs


def block_of(start: int, step: int, page_count: int) -> range:
    """The aligned block of pages a unit starting at ``start`` lies in: the window its text
    steps see."""
    first = start // step * step
    return range(first, min(first + step, page_count))


def _count_pages(uri: str, kind: str, options: ExtractOptions) -> int:
    if kind == "pdf":
        with opened_pdf(uri, options.passwords.for_uri(uri)) as document:
            return len(document)
    if kind == "image":
        with open_stream(uri) as stream:
            return image_documents.frame_count(
                image_documents.open_image(stream, options.max_image_pixels)
            )
    raise errors.PageError(
        "unsupported file type (expected .pdf, .png, .jpg, .tif)", error_type="unsupported_type"
    )


def _failed_unit(
    uri: str, doc_id: str | None, kind: str, stage: str, exc: BaseException
) -> dict[str, Any]:
    error_type, message = errors.describe(exc)
    return failed_unit(uri, error_type, message, doc_id=doc_id, kind=kind, stage=stage)


def failed_unit(
    uri: str,
    error_type: str,
    message: str,
    *,
    doc_id: str | None = None,
    kind: str | None = None,
    stage: str = "open",
) -> dict[str, Any]:
    """A unit that stands for the document's error row."""
    return {
        "source_uri": uri,
        "doc_id": doc_id,
        "source_kind": kind or kind_from_name(uri),
        "page_count": None,
        "page_start": 0,
        "page_stop": 0,
        "error_type": error_type,
        "error_message": message,
        "error_stage": stage,
    }


def page_key(stage: str, uri: str, index: int) -> str:
    """A page's name in the flight log (:mod:`ops.flight`)."""
    return f"{stage}:{uri}#{index}"


def extract_unit(
    unit: dict[str, Any],
    options: ExtractOptions,
    context: RowContext,
    guard: Guard | None = None,
    verdicts: Mapping[str, Verdict] | None = None,
    limits: Limits = Limits(),  # noqa: B008 (frozen)
) -> Iterator[dict[str, Any]]:
    """Rows for the pages of one work unit (or the document's error row).

    With a ``guard`` every page runs under the hard deadline and memory ceiling ``limits``; pages
    that killed workers before (``verdicts``) are read alone, or become error rows once they have
    done it too often.
    """
    base = {
        "doc_id": unit["doc_id"],
        "source_uri": unit["source_uri"],
        "source_kind": unit["source_kind"],
        "page_count": unit["page_count"],
        "run_id": context.run_id,
        "pipeline_version": context.pipeline_version,
        "node": context.node,
    }
    if unit.get("error_type"):
        yield _error_row(base, None, unit["error_stage"], unit["error_type"], unit["error_message"])
        return
    start, stop = int(unit["page_start"]), int(unit["page_stop"])
    pages = _pdf_pages if unit["source_kind"] == "pdf" else _image_pages
    watch = _PageWatch(unit["source_uri"], limits, guard, verdicts or {})
    done = start
    text_rows: list[dict[str, Any]] = []  # cleaned together, with the unit's vocabulary
    try:
        for row in pages(unit["source_uri"], start, stop, base, options, watch):
            done = row["page_index"] + 1
            if options.text_steps.any and row.get("route") == ROUTE_TEXT and row.get("text"):
                text_rows.append(row)
            else:
                yield row
    except Exception as exc:  # the file changed, vanished or broke since planning
        error_type, message = errors.describe(exc)
        for index in range(done, stop):
            yield _error_row(base, index, "read", error_type, message)
    if text_rows:
        context = _context_texts(unit, options, watch) if unit["source_kind"] == "pdf" else []
        yield from _cleaned(text_rows, context, options.text_steps)


def _context_texts(unit: dict[str, Any], options: ExtractOptions, watch: _PageWatch) -> list[str]:
    """The text layers of the text-route pages of the unit's block that the unit does not hold:
    none in a fresh run (its units are the blocks), the pages done before on resume. Pages that
    ever failed a worker are left out; a document that fails now gives no context."""
    start, stop = int(unit["page_start"]), int(unit["page_stop"])
    step = max(1, options.pages_per_unit)
    others = [i for i in block_of(start, step, int(unit["page_count"])) if not start <= i < stop]
    others = [i for i in others if page_key(RENDER_STAGE, watch.uri, i) not in watch.verdicts]
    if not others:
        return []
    texts: list[str] = []
    try:
        with opened_pdf(watch.uri, options.passwords.for_uri(watch.uri)) as document:
            for index in others:
                text = _text_route_text(document, index, options, watch)
                if text:
                    texts.append(text)
    except Exception:  # the file changed or vanished since: the unit's own pages suffice
        pass
    return texts


def _text_route_text(
    document: pdfium.PdfDocument, index: int, options: ExtractOptions, watch: _PageWatch
) -> str | None:
    """The page's text layer if the page takes the text route; None if not or if it fails."""
    try:
        with watch.page(index):
            page = document[index]
            try:
                text, _, decision, _ = _routed(page, options, find_structure=False)
            finally:
                page.close()
    except Exception:
        return None
    return text if decision.route == ROUTE_TEXT else None


def _cleaned(
    rows: list[dict[str, Any]], context: list[str], steps: TextSteps
) -> Iterator[dict[str, Any]]:
    """Text-route rows with their text cleaned with what the pages of their block share (the
    rows' own texts and ``context``, the block's other text-route pages)."""
    window = [row["text"] for row in rows] + context
    # Counting the words costs more than the rest: only for units with a word to put together.
    broken = any(has_line_end_hyphens(row["text"]) for row in rows)
    vocabulary = Vocabulary.of(window) if broken else Vocabulary()
    furniture = Furniture(window)
    for row in rows:
        began = time.perf_counter()
        cleaned = steps.clean(row["text"], vocabulary, furniture)
        structure = row.pop(_STRUCTURE, None)
        row.update(
            text=cleaned.text,
            markdown=to_markdown(cleaned.text, structure) if structure else None,
            header_text=cleaned.header,
            footer_text=cleaned.footer,
            char_count=len(cleaned.text),
        )
        row["latency_ms"] = (row.get("latency_ms") or 0.0) + (time.perf_counter() - began) * 1000
        yield row


@dataclass(frozen=True, slots=True)
class _PageWatch:
    uri: str
    limits: Limits
    guard: Guard | None
    verdicts: Mapping[str, Verdict]

    def failure(self, base: dict[str, Any], index: int) -> dict[str, Any] | None:
        """The error row of a page that has killed workers too often, else None."""
        verdict = self.verdicts.get(page_key(RENDER_STAGE, self.uri, index))
        if verdict is None or not verdict.failed:
            return None
        error_type, message = failure_message(verdict, f"page {index + 1}")
        return _error_row(base, index, "render", error_type, message)

    def page(self, index: int) -> AbstractContextManager[None]:
        key = page_key(RENDER_STAGE, self.uri, index)
        return guarded(self.guard, RENDER_STAGE, key, self.verdicts.get(key), self.limits)


def _pdf_pages(
    uri: str,
    start: int,
    stop: int,
    base: dict[str, Any],
    options: ExtractOptions,
    watch: _PageWatch,
) -> Iterator[dict[str, Any]]:
    with opened_pdf(uri, options.passwords.for_uri(uri)) as document:
        for index in range(start, stop):
            failed = watch.failure(base, index)
            if failed is not None:
                yield failed
                continue
            with watch.page(index):
                row = _pdf_page(document, index, base, options)
            yield row  # outside the deadline: the consumer's time is not the page's


def _pdf_page(
    document: pdfium.PdfDocument, index: int, base: dict[str, Any], options: ExtractOptions
) -> dict[str, Any]:
    began = time.perf_counter()
    try:
        page = document[index]
    except Exception as exc:
        error_type, message = errors.describe(page_load_error(document, index, exc))
        return _error_row(base, index, "page", error_type, message)
    try:
        width_pt, height_pt = page.get_size()
        row = _page_row(base, index)
        row.update(page_width_pt=width_pt, page_height_pt=height_pt)
        text, score, decision, structure = _routed(page, options)
        if structure is not None and structure.any:
            row[_STRUCTURE] = structure  # for _cleaned, which writes the markdown; never written
        row.update(route=decision.route, route_reason=decision.reason, text_layer_score=score)
        if decision.route == ROUTE_TEXT:
            row.update(
                text=text,
                char_count=len(text),
                primary_language=primary_language(text),
                backend=TEXT_BACKEND,
                model=_PDFIUM_VERSION,
                status=STATUS_OK,
            )
        else:
            rendered = render_page(
                page,
                options.dpi,
                options.max_pixels,
                options.image_format,
                options.max_image_pixels,
            )
            row.update(
                {
                    IMAGE_COLUMN: rendered.data,
                    "dpi": rendered.dpi,
                    "image_width": rendered.width,
                    "image_height": rendered.height,
                    "status": STATUS_PENDING,
                }
            )
    except Exception as exc:
        error_type, message = errors.describe(exc)
        stage = "render" if isinstance(exc, errors.RenderFailed) else "page"
        return _error_row(base, index, stage, error_type, message)
    finally:
        page.close()
    row["latency_ms"] = (time.perf_counter() - began) * 1000.0
    return row


def _routed(
    page: pdfium.PdfPage, options: ExtractOptions, find_structure: bool = True
) -> tuple[str, float | None, RouteDecision, PageStructure | None]:
    """The page's text layer, its quality score, the route they decide and, for a text-route
    page with the ``markdown`` step on, the structure of its text layer."""
    if options.routing.mode is RouteMode.OCR:
        return "", None, decide_forced_ocr(), None
    width_pt, height_pt = page.get_size()
    textpage = page.get_textpage()
    try:
        text = layer_text(textpage, keep_soft_breaks=options.text_steps.any)
        quality = assess(text.replace(SOFT_BREAK, "-"))
        decision = decide(quality, inspect_layer(page, width_pt * height_pt), options.routing)
        wanted = find_structure and MARKDOWN in options.text_steps.enabled
        wanted = wanted and decision.route == ROUTE_TEXT
        structure = page_structure(textpage) if wanted else None
    finally:
        textpage.close()
    return text, quality.score, decision, structure


def _image_pages(
    uri: str,
    start: int,
    stop: int,
    base: dict[str, Any],
    options: ExtractOptions,
    watch: _PageWatch,
) -> Iterator[dict[str, Any]]:
    with open_stream(uri) as stream:
        frames = _image_frames(stream, start, stop, base, options)
        for index in range(start, stop):
            failed = watch.failure(base, index)
            if failed is not None:  # never decode it again: carry on after it
                yield failed
                stream.seek(0)
                frames = _image_frames(stream, index + 1, stop, base, options)
                continue
            with watch.page(index):  # a frame is decoded when the generator advances
                row = next(frames, None)
            if row is None:
                return
            yield row


def _image_frames(
    stream: Any, start: int, stop: int, base: dict[str, Any], options: ExtractOptions
) -> Iterator[dict[str, Any]]:
    image = image_documents.open_image(stream, options.max_image_pixels)
    dpi = _image_dpi(image.info)
    for index, frame in image_documents.frames(
        image, start, stop, options.max_pixels, options.max_image_pixels
    ):
        began = time.perf_counter()
        if isinstance(frame, Exception):
            error_type, message = errors.describe(frame)
            yield _error_row(base, index, "render", error_type, message)
            continue
        row = _page_row(base, index)
        row.update(
            {
                "route": ROUTE_OCR,
                "route_reason": "image_input",
                IMAGE_COLUMN: encode(frame, options.image_format),
                "dpi": dpi,
                "image_width": frame.width,
                "image_height": frame.height,
                "status": STATUS_PENDING,
            }
        )
        if dpi:
            row.update(
                page_width_pt=frame.width * 72.0 / dpi, page_height_pt=frame.height * 72.0 / dpi
            )
        row["latency_ms"] = (time.perf_counter() - began) * 1000.0
        yield row


def _image_dpi(info: dict[str, Any]) -> int | None:
    dpi = info.get("dpi")
    try:
        value = round(float(dpi[0])) if dpi else 0
    except (TypeError, ValueError, IndexError):
        return None
    return value if value > 0 else None


def _page_row(base: dict[str, Any], index: int) -> dict[str, Any]:
    row = dict(base)
    row.update(page_index=index, page_number=index + 1, rotation=0, processed_at=datetime.now(UTC))
    return row


def _error_row(
    base: dict[str, Any], index: int | None, stage: str, error_type: str, message: str
) -> dict[str, Any]:
    row = dict(base)
    row.update(
        page_index=index,
        page_number=None if index is None else index + 1,
        status=STATUS_ERROR,
        error_type=error_type,
        error_message=message,
        error_stage=stage,
        processed_at=datetime.now(UTC),
    )
    return row


_PDFIUM_VERSION = f"pdfium-{pdfium.PDFIUM_INFO.build}"
