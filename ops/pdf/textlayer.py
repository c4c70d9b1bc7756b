"""Reading a page's embedded text layer and the facts about it that decide whether to trust it.

The inspection samples page objects instead of walking them all: scanned pages with an OCR layer
can hold thousands of text objects, and the text route must stay near pdfium's raw speed.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from ops.layout.hyphenation import SOFT_BREAK

_INVISIBLE_RENDER_MODES = frozenset({3, 7})  # FPDF_TEXTRENDERMODE_INVISIBLE, _CLIP
MAX_SAMPLED_OBJECTS = 64
# An image covering this much of the page, drawn after text, hides that text (a scan pasted over
# an old OCR layer).
PAGE_COVERING_IMAGE = 0.9


@dataclass(frozen=True, slots=True)
class LayerFacts:
    """What the page's objects say about its text layer."""

    text_objects: int  # sampled text objects
    hidden_text_objects: int  # of those, invisible (render mode) or painted over by a page image
    image_coverage: float  # area of the page covered by image objects, 0..1 (capped)

    @property
    def hidden_fraction(self) -> float:
        return self.hidden_text_objects / self.text_objects if self.text_objects else 0.0


def extract_text(page: pdfium.PdfPage, keep_soft_breaks: bool = False) -> str:
    """The page's text with CRLF line ends made LF. pdfium's end-of-line hyphen mark becomes a
    hyphen, or stays for :mod:`ops.layout.hyphenation` with ``keep_soft_breaks``."""
    textpage = page.get_textpage()
    try:
        text = textpage.get_text_bounded()
    finally:
        textpage.close()
    text = text.replace("\r\n", "\n")
    return text if keep_soft_breaks else text.replace(SOFT_BREAK, "-")


def inspect_layer(page: pdfium.PdfPage, page_area_pt2: float) -> LayerFacts:
    raw = page.raw
    count = pdfium_c.FPDFPage_CountObjects(raw)
    step = max(1, count // MAX_SAMPLED_OBJECTS)
    text_objects = hidden = visible_before_image = 0
    image_area = 0.0
    left, bottom, right, top = (ctypes.c_float() for _ in range(4))
    for index in range(0, count, step):
        obj = pdfium_c.FPDFPage_GetObject(raw, index)
        kind = pdfium_c.FPDFPageObj_GetType(obj)
        if kind == pdfium_c.FPDF_PAGEOBJ_TEXT:
            text_objects += 1
            if pdfium_c.FPDFTextObj_GetTextRenderMode(obj) in _INVISIBLE_RENDER_MODES:
                hidden += 1
            else:
                visible_before_image += 1
        elif kind == pdfium_c.FPDF_PAGEOBJ_IMAGE and pdfium_c.FPDFPageObj_GetBounds(
            obj, ctypes.byref(left), ctypes.byref(bottom), ctypes.byref(right), ctypes.byref(top)
        ):
            area = max(0.0, right.value - left.value) * max(0.0, top.value - bottom.value)
            image_area += area
            if page_area_pt2 > 0 and area >= PAGE_COVERING_IMAGE * page_area_pt2:
                hidden += visible_before_image
                visible_before_image = 0
    coverage = min(1.0, image_area / page_area_pt2) if page_area_pt2 > 0 else 0.0
    return LayerFacts(text_objects, hidden, coverage)
