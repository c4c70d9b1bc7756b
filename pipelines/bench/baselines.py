"""What users write by hand: single-process loops over the same files with the same engines.

The pipeline's figures are reported as ratios against these, measured in the same run.
"""

from __future__ import annotations

import time
from pathlib import Path

import pypdfium2 as pdfium

from ops.backends import create
from ops.imaging import DEFAULT_MAX_PIXELS, capped_scale


def text_loop(files: list[Path]) -> tuple[int, float]:
    """``(pages, seconds)`` for a plain pypdfium2 text-layer loop."""
    began = time.perf_counter()
    pages = 0
    for path in files:
        document = pdfium.PdfDocument(path.read_bytes())
        for index in range(len(document)):
            page = document[index]
            textpage = page.get_textpage()
            textpage.get_text_bounded()
            textpage.close()
            page.close()
            pages += 1
        document.close()
    return pages, time.perf_counter() - began


def ocr_loop(files: list[Path], backend: str, dpi: int) -> tuple[int, float]:
    """``(pages, seconds)`` for render-then-OCR, one page at a time, in this process, handing the
    rendered bitmap straight to the engine (no encoding: the hand-written loop needs none)."""
    engine = create(backend)
    engine.load()
    began = time.perf_counter()
    pages = 0
    try:
        for path in files:
            document = pdfium.PdfDocument(path.read_bytes())
            for index in range(len(document)):
                page = document[index]
                width, height = page.get_size()
                scale = capped_scale(width, height, dpi / 72.0, DEFAULT_MAX_PIXELS)
                image = page.render(scale=scale, grayscale=True).to_pil()
                engine.predict_batch([image])
                page.close()
                pages += 1
            document.close()
    finally:
        engine.close()
    return pages, time.perf_counter() - began
