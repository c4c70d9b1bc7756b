"""Finishing OCR-route rows: decode the page image, make it upright, run the backend, fill the row.

This is everything an OCR actor does, kept free of Ray so it can be tested in a plain process.
Text-route rows pass through untouched. A page that fails becomes an error row; an engine that
fails on page after page is treated as dead and raises, so the job stops loudly instead of writing
thousands of error rows.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ops import errors, imaging
from ops.backends.base import Backend
from ops.orientation import OrientationDetector, upright
from ops.pages import STATUS_PENDING
from ops.schema import IMAGE_COLUMN, PAGE_SCHEMA, STATUS_ERROR, STATUS_OK, conform, to_table

DEFAULT_MAX_CONSECUTIVE_FAILURES = 25


class EngineDead(RuntimeError):
    """The backend failed on every page of a long run of pages; the cause is chained."""


class OcrRunner:
    def __init__(
        self,
        backend: Backend,
        *,
        detect_orientation: bool = True,
        max_consecutive_failures: int = DEFAULT_MAX_CONSECUTIVE_FAILURES,
    ) -> None:
        self.backend = backend
        self._detector: OrientationDetector | None = None
        self._detect_orientation = detect_orientation
        self._max_consecutive_failures = max_consecutive_failures
        self._consecutive_failures = 0

    def load(self) -> None:
        self.backend.load()
        if self._detect_orientation:
            self._detector = OrientationDetector()

    def close(self) -> None:
        self.backend.close()
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
        finished = to_table(self._recognise(rows), PAGE_SCHEMA)
        return pa.concat_tables([done, finished])

    def _recognise(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        prepared: list[tuple[dict[str, Any], Any, float]] = []
        for row in rows:
            row.update(backend=self.backend.name, model=self.backend.model)
            began = time.perf_counter()
            try:
                image = imaging.decode(row.pop(IMAGE_COLUMN))
                if self._detector is not None:
                    row["rotation"] = self._detector.detect(image).rotation
                    image = upright(image, row["rotation"])
            except Exception as exc:
                _fail(row, "orientation", exc)
                continue
            prepared.append((row, image, time.perf_counter() - began))
        if prepared:
            self._run_engine(prepared)
        return rows

    def _run_engine(self, prepared: list[tuple[dict[str, Any], Any, float]]) -> None:
        began = time.perf_counter()
        try:
            results = self.backend.predict_batch([image for _, image, _ in prepared])
            if len(results) != len(prepared):
                raise errors.OcrFailed(
                    f"backend returned {len(results)} results for {len(prepared)} pages"
                )
        except Exception:
            # Isolate the failing page(s): one page at a time, so the others still come out.
            for item in prepared:
                self._run_engine_single(*item)
            return
        per_page = (time.perf_counter() - began) / len(prepared)
        for (row, _image, prep_seconds), result in zip(prepared, results, strict=True):
            self._succeed(row, result.text, prep_seconds + per_page)

    def _run_engine_single(self, row: dict[str, Any], image: Any, prep_seconds: float) -> None:
        began = time.perf_counter()
        try:
            (result,) = self.backend.predict_batch([image])
        except Exception as exc:
            self._consecutive_failures += 1
            if self._consecutive_failures >= self._max_consecutive_failures:
                raise EngineDead(
                    f"backend {self.backend.name!r} failed on {self._consecutive_failures} "
                    f"pages in a row; last error: {type(exc).__name__}: {exc}"
                ) from exc
            _fail(row, "ocr", errors.OcrFailed(f"{type(exc).__name__}: {exc}"))
            return
        self._succeed(row, result.text, prep_seconds + time.perf_counter() - began)

    def _succeed(self, row: dict[str, Any], text: str, seconds: float) -> None:
        self._consecutive_failures = 0
        row.update(
            text=text,
            char_count=len(text),
            backend=self.backend.name,
            model=self.backend.model,
            status=STATUS_OK,
            latency_ms=(row.get("latency_ms") or 0.0) + seconds * 1000.0,
            processed_at=datetime.now(UTC),
        )


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
