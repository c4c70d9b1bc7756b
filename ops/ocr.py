"""Finishing OCR-route rows: decode the page image, make it upright, run the backend, fill the row.

This is everything an OCR actor does, kept free of Ray so it can be tested in a plain process.
Text-route rows pass through untouched. Pages are read in forward batches whose size adapts
(:mod:`ops.batching`): an out-of-memory error splits the batch and retries the same pages. A page
that fails becomes an error row; an engine that fails on page after page is treated as dead and
raises, so the job stops loudly instead of writing thousands of error rows. A generative engine's
page whose output stays unusable after its retries (truncated, runaway, wrongly empty) is read
again by the fallback engine (Tesseract unless configured otherwise) and marked ``is_fallback``.

Orientation (``auto``, the default) is checked only when the upright read looks wrong: Tesseract
OSD costs about as much as reading the page, and nearly all pages are upright. Upside-down pages
read with low confidence or as nonsense, which is what triggers the check.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager, ExitStack, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from PIL import Image

from ops import errors, imaging
from ops.backends.base import Backend, EngineGone, OcrResult
from ops.batching import AdaptiveBatcher, BatchPolicy, is_out_of_memory
from ops.flight import Guard, Verdict, failure_message
from ops.layout.language import primary_language
from ops.layout.steps import TextSteps
from ops.orientation import OrientationDetector, upright
from ops.pages import STATUS_PENDING, page_key
from ops.schema import IMAGE_COLUMN, PAGE_SCHEMA, STATUS_ERROR, STATUS_OK, conform, to_table
from ops.text_quality import assess

DEFAULT_MAX_CONSECUTIVE_FAILURES = 25
OCR_STAGE = "ocr"  # page keys in the flight log
# An engine result below either bar sends the page to orientation detection (``auto``).
SUSPECT_CONFIDENCE = 70.0
SUSPECT_VISIBLE_CHARS = 20
SUSPECT_TEXT_SCORE = 0.5


class Orientation(enum.StrEnum):
    AUTO = "auto"  # detect when the upright read looks wrong
    ALWAYS = "always"  # detect on every page before reading it
    OFF = "off"


class EngineDead(RuntimeError):
    """The backend failed on every page of a long run of pages; the cause is chained."""


@dataclass(slots=True)
class _Page:
    row: dict[str, Any]
    image: Image.Image
    seconds: float  # time spent on this page in this actor so far


class OcrRunner:
    def __init__(
        self,
        backend: Backend,
        *,
        orientation: Orientation | str = Orientation.AUTO,
        max_consecutive_failures: int = DEFAULT_MAX_CONSECUTIVE_FAILURES,
        batch_policy: BatchPolicy | None = None,
        fallback: Backend | None = None,
        guard: Guard | None = None,
        page_timeout_s: float | None = None,
        node: str | None = None,
        text_steps: TextSteps | None = None,
    ) -> None:
        self.backend = backend
        # Clean-up of what the engine read; the page's own words are its vocabulary.
        self.text_steps = text_steps if text_steps is not None else TextSteps()
        self.node = node  # recorded on the rows this runner reads (where the engine ran)
        self.guard = guard
        self.page_timeout_s = page_timeout_s  # per page of an engine call
        self.fallback = fallback
        self._fallback_loaded = False
        self.batcher = AdaptiveBatcher(batch_policy or backend.batch_policy)
        self._orientation = Orientation(orientation)
        self._detector: OrientationDetector | None = None
        self._max_consecutive_failures = max_consecutive_failures
        self._consecutive_failures = 0

    def load(self) -> None:
        self.backend.load()
        if self._orientation is not Orientation.OFF:
            self._detector = OrientationDetector()

    def close(self) -> None:
        self.backend.close()
        if self.fallback is not None and self._fallback_loaded:
            self.fallback.close()
            self._fallback_loaded = False
        if self._detector is not None:
            self._detector.close()
            self._detector = None

    def process(self, table: pa.Table) -> pa.Table:
        """Rows of ``table`` in the output schema: OCR-route rows filled, the others unchanged."""
        pending = pc.fill_null(pc.equal(table.column("status"), STATUS_PENDING), False)
        if not pc.any(pending).as_py():
            return conform(table, PAGE_SCHEMA)
        done = conform(table.filter(pc.invert(pending)), PAGE_SCHEMA)
        rows = table.filter(pending).to_pylist()
        if self.node is not None:
            for row in rows:
                row["node"] = self.node
        verdicts = self._triage(rows)
        live = [row for row in rows if not self._given_up(row, verdicts)]
        pages = [page for page in map(self._prepare, live) if page is not None]
        suspects = [page for page in pages if _key(page.row) in verdicts]
        pages = [page for page in pages if _key(page.row) not in verdicts]
        results = self._read(pages) + [self._read_suspect(page) for page in suspects]
        for page, result in zip(pages + suspects, results, strict=True):
            if result is None:
                continue
            if result.problem:
                self._fall_back(page, result)
            else:
                self._finish(page, result, self.backend)
        return pa.concat_tables([done, to_table(rows, PAGE_SCHEMA)])

    def _triage(self, rows: list[dict[str, Any]]) -> dict[str, Verdict]:
        """Pages that took an engine process down before; raises if the engine keeps dying."""
        if self.guard is None:
            return {}
        verdicts, dead = self.guard.triage(OCR_STAGE, [_key(row) for row in rows])
        if dead:
            raise EngineDead(f"backend {self.backend.name!r} is dead: {dead}")
        return verdicts

    def _given_up(self, row: dict[str, Any], verdicts: dict[str, Verdict]) -> bool:
        """A page that has killed ``max_attempts`` engine processes (in the model's call, the
        fallback's or orientation detection) becomes an error row before anything touches it
        again."""
        verdict = verdicts.get(_key(row))
        if verdict is None or not verdict.failed:
            return False
        error_type, message = failure_message(verdict, "the engine call on this page")
        _fail(row, "ocr", errors.PageError(message, error_type=error_type))
        return True

    def _read_suspect(self, page: _Page) -> OcrResult | None:
        """A page that was in an engine call when its process died: read alone, so a second
        death names it."""
        page.row["batch_size"] = 1
        return self._read_one(page)

    def _engine_call(self, pages: Sequence[_Page]) -> AbstractContextManager[None]:
        """The hard deadline (and flight-log entry) for one engine call: the model's, the
        fallback engine's, or orientation detection's. Whatever hangs or kills the process in it
        is charged to its pages, so each of them can end as a ``timeout`` row."""
        if self.guard is None:
            return nullcontext()
        keys = [_key(page.row) for page in pages]
        seconds = self.page_timeout_s * len(pages) if self.page_timeout_s else None
        stack = ExitStack()
        stack.enter_context(self.guard.hold(OCR_STAGE, keys, alone=len(keys) == 1, seconds=seconds))
        stack.enter_context(self.guard.watch(keys[0] if len(keys) == 1 else None, seconds))
        return stack

    def _prepare(self, row: dict[str, Any]) -> _Page | None:
        """Decode (and with ``always``, turn upright); a failure makes ``row`` an error row."""
        row.update(backend=self.backend.name, model=self.backend.model)
        began = time.perf_counter()
        try:
            image = imaging.decode(row.pop(IMAGE_COLUMN))
            # Which page this is, for engines that log or (the fake one) inject faults by page.
            image.info.update(source_uri=row["source_uri"], page_number=row["page_number"])
            page = _Page(row, image, 0.0)
            if self._orientation is Orientation.ALWAYS:
                with self._engine_call([page]):
                    row["rotation"] = self._detect(image)
                page.image = upright(image, row["rotation"])
        except Exception as exc:
            _fail(row, "orientation", exc)
            return None
        page.seconds = time.perf_counter() - began
        return page

    def _read(self, pages: list[_Page]) -> list[OcrResult | None]:
        """One result per page (None where the page failed), in adaptive forward batches."""
        outcomes = self.batcher.run(pages, self._forward, cost=_pixels)
        results: list[OcrResult | None] = []
        for page, outcome in zip(pages, outcomes, strict=True):
            page.row["batch_size"] = outcome.batch_size
            if outcome.error is not None:
                self._count_failure(outcome.error)
                _fail(page.row, "ocr", _engine_failure(outcome.error))
            results.append(outcome.result)
        return results

    def _forward(self, pages: Sequence[_Page]) -> list[OcrResult | None]:
        """One engine call; a failure other than out-of-memory is isolated page by page, so the
        other pages of the batch still come out."""
        began = time.perf_counter()
        try:
            with self._engine_call(pages):
                results = self.backend.predict_batch([page.image for page in pages])
            if len(results) != len(pages):
                raise errors.OcrFailed(
                    f"backend returned {len(results)} results for {len(pages)} pages"
                )
        except EngineGone as exc:
            raise self._dead(exc) from exc
        except Exception as exc:
            _charge(pages, time.perf_counter() - began)
            if is_out_of_memory(exc):
                raise  # the batcher splits the batch and retries the same pages
            return [self._read_one(page) for page in pages]
        _charge(pages, time.perf_counter() - began)
        self._consecutive_failures = 0
        return list(results)

    def _read_one(self, page: _Page) -> OcrResult | None:
        began = time.perf_counter()
        try:
            with self._engine_call([page]):
                (result,) = self.backend.predict_batch([page.image])
        except EngineGone as exc:
            raise self._dead(exc) from exc
        except Exception as exc:
            self._count_failure(exc)
            _fail(page.row, "ocr", _engine_failure(exc))
            return None
        finally:
            page.seconds += time.perf_counter() - began
        self._consecutive_failures = 0
        return result

    def _dead(self, exc: EngineGone) -> EngineDead:
        return EngineDead(f"backend {self.backend.name!r} is dead: {exc}")

    def _count_failure(self, exc: BaseException) -> None:
        self._consecutive_failures += 1
        if self._consecutive_failures >= self._max_consecutive_failures:
            raise EngineDead(
                f"backend {self.backend.name!r} failed on {self._consecutive_failures} "
                f"pages in a row; last error: {type(exc).__name__}: {exc}"
            ) from exc

    def _fall_back(self, page: _Page, failed: OcrResult) -> None:
        """Read a page whose model output stayed unusable with the fallback engine, keeping what
        the model cost (attempts, tokens, its finish reason) on the row."""
        _record_generation(page.row, failed)
        what = f"the model's output was {failed.problem} after {failed.attempts} attempt(s)"
        if self.fallback is None:
            _fail(page.row, "ocr", errors.DegenerateOutput(f"{what}; no fallback engine is set"))
            return
        began = time.perf_counter()
        try:
            with self._engine_call([page]):
                if not self._fallback_loaded:
                    self.fallback.load()
                    self._fallback_loaded = True
                (result,) = self.fallback.predict_batch([page.image])
        except Exception as exc:
            _fail(page.row, "ocr", errors.OcrFailed(f"{what}; the fallback failed too: {exc}"))
            return
        finally:
            page.seconds += time.perf_counter() - began
        page.row.update(
            backend=self.fallback.name,
            model=self.fallback.model,
            is_fallback=True,
            attempts=failed.attempts + 1,
        )
        self._finish(page, result, self.fallback)

    def _finish(self, page: _Page, result: OcrResult, engine: Backend) -> None:
        if self._orientation is Orientation.AUTO and _looks_wrong(result):
            result = self._retry_upright(page, result, engine)
        if not page.row.get("is_fallback"):  # a fallback row keeps what the model reported
            _record_generation(page.row, result)
        cleaned = self.text_steps.clean(result.text) if result.text else None
        text = cleaned.text if cleaned else result.text
        page.row.update(
            rotation=page.row.get("rotation") or 0,
            text=text,
            header_text=cleaned.header if cleaned else None,
            footer_text=cleaned.footer if cleaned else None,
            primary_language=primary_language(text) if text else None,
            char_count=len(text),
            status=STATUS_OK,
            is_fallback=bool(page.row.get("is_fallback")),
            latency_ms=(page.row.get("latency_ms") or 0.0) + page.seconds * 1000.0,
            processed_at=datetime.now(UTC),
        )

    def _retry_upright(self, page: _Page, result: OcrResult, engine: Backend) -> OcrResult:
        began = time.perf_counter()
        try:
            with self._engine_call([page]):
                rotation = self._detect(page.image)
            if rotation:
                with self._engine_call([page]):
                    (turned,) = engine.predict_batch([upright(page.image, rotation)])
                page.row["rotation"] = rotation
                result = turned
        except Exception:  # keep the upright read: it is a result, if a doubtful one
            pass
        page.seconds += time.perf_counter() - began
        return result

    def _detect(self, image: Image.Image) -> int:
        assert self._detector is not None, "load() first"
        return self._detector.detect(image).rotation


def _key(row: dict[str, Any]) -> str:
    return page_key(OCR_STAGE, row["source_uri"], row["page_index"])


def _record_generation(row: dict[str, Any], result: OcrResult) -> None:
    row.update(
        attempts=result.attempts,
        finish_reason=result.finish_reason,
        input_tokens=result.input_tokens,
        output_tokens=result.output_tokens,
    )


def _engine_failure(exc: BaseException) -> errors.PageError:
    if is_out_of_memory(exc):
        return errors.PageTooBigForEngine(f"the engine ran out of memory on this page: {exc}")
    message = f"{type(exc).__name__}: {exc}"
    cause = exc.__cause__
    if cause is not None:  # engines wrap the reason (vLLM: "Failed to apply <processor>")
        message += f" (because {type(cause).__name__}: {cause})"
    return errors.OcrFailed(message)


def _charge(pages: Sequence[_Page], seconds: float) -> None:
    """Share one engine call's time among the pages it read."""
    for page in pages:
        page.seconds += seconds / len(pages)


def _pixels(page: _Page) -> float:
    return float(page.image.width * page.image.height)


def _looks_wrong(result: OcrResult) -> bool:
    if result.confidence is not None and result.confidence < SUSPECT_CONFIDENCE:
        return True
    quality = assess(result.text)
    return quality.visible_chars < SUSPECT_VISIBLE_CHARS or quality.score < SUSPECT_TEXT_SCORE


def _fail(row: dict[str, Any], stage: str, exc: BaseException) -> None:
    error_type, message = errors.describe(exc)
    row.pop(IMAGE_COLUMN, None)
    row.update(
        status=STATUS_ERROR,
        error_type=error_type,
        error_message=message,
        error_stage=stage,
        processed_at=datetime.now(UTC),
    )
