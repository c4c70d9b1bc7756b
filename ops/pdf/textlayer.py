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
from ops.layout.structure import LineStyle, PageStructure, heading_shape, headings_of
from ops.layout.tables import (
    PROBE_LINES,
    Glyph,
    TableBlock,
    candidate_blocks,
    looks_tabular,
    table_of,
)

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
    """The page's text (see :func:`layer_text`)."""
    textpage = page.get_textpage()
    try:
        return layer_text(textpage, keep_soft_breaks)
    finally:
        textpage.close()


def layer_text(textpage: pdfium.PdfTextPage, keep_soft_breaks: bool = False) -> str:
    """The text page's text with CRLF line ends made LF. pdfium's end-of-line hyphen mark
    becomes a hyphen, or stays for :mod:`ops.layout.hyphenation` with ``keep_soft_breaks``.
    A text page costs more to build than to read: callers that need more of it share one."""
    text = textpage.get_text_bounded().replace("\r\n", "\n")
    return text if keep_soft_breaks else text.replace(SOFT_BREAK, "-")


# Characters with no ink or made up by pdfium (line ends, hyphen marks): no part of a cell.
_NOT_GLYPHS = frozenset({0x02, 0x0A, 0x0D, 0x20, 0xA0, 0xFFFE, 0xFFFF})
_SPACES = frozenset({0x0A, 0x0D, 0x20, 0xA0})


def page_structure(textpage: pdfium.PdfTextPage) -> PageStructure:
    """The headings and tables of the page's text layer (:mod:`ops.layout.structure`).
    pdfium's text by character index is read once (cheap), each line's font from its first and
    last characters, character boxes only for the blocks that may be tables."""
    text = textpage.get_text_range()
    if len(text) != textpage.count_chars():  # text and character indexes out of step
        return PageStructure({})
    lines = text.split("\r\n")
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 2)
    styles = []
    for number, (line, start) in enumerate(zip(lines, starts, strict=False)):
        if heading_shape(line.strip()):
            styles.append(_style(textpage, line, start, weight=1))
        elif number % BODY_SAMPLE == 0 and line.strip():  # the body's size, from a sample
            styles.append(_style(textpage, line, start, weight=BODY_SAMPLE, bold=False))
    headings = headings_of(styles)
    return PageStructure(headings, _tables(textpage, lines, starts))


_BOLD = 600  # FPDFText_GetFontWeight: 400 regular, 700 bold


BODY_SAMPLE = 4  # one line in this many that cannot be a heading is read for the body size


def _style(
    textpage: pdfium.PdfTextPage, line: str, start: int, weight: int, bold: bool = True
) -> LineStyle:
    """The line's font: its first character's size, and (``bold``) whether its first and
    last characters are bold."""
    first = start + len(line) - len(line.lstrip())
    size = pdfium_c.FPDFText_GetFontSize(textpage.raw, first)
    if bold:
        last = start + len(line.rstrip()) - 1
        bold = all(pdfium_c.FPDFText_GetFontWeight(textpage.raw, i) >= _BOLD for i in (first, last))
    return LineStyle(line, size, bold, weight)


def _tables(textpage: pdfium.PdfTextPage, lines: list[str], starts: list[int]) -> list[TableBlock]:
    found = []
    for block in candidate_blocks(lines):
        probe = min(block.stop, block.start + PROBE_LINES)
        head = _glyphs(textpage, starts[block.start], starts[probe] - 2)
        if not looks_tabular(head):
            continue
        # The rest from the line break after the probe on: its space mark carries over.
        rest = _glyphs(textpage, starts[probe] - 2, starts[block.stop] - 2)
        table = table_of(head + rest)
        if table is not None:
            found.append(TableBlock(lines[block.start], lines[block.stop - 1], table))
    return found


def _glyphs(textpage: pdfium.PdfTextPage, start: int, stop: int) -> list[Glyph]:
    """The characters in ``[start, stop)`` with their loose boxes (the font's full height:
    commas and superscripts stay in their row). Two pdfium calls a character: this is the
    costly part of finding tables, done for candidate blocks only."""
    raw = textpage.raw
    box = pdfium_c.FS_RECTF()
    glyphs = []
    space = False
    size = None  # the font size of the line's first character stands for the line's
    for index in range(start, stop):
        code = pdfium_c.FPDFText_GetUnicode(raw, index)
        if code in _NOT_GLYPHS:
            space = space or code in _SPACES
            size = None if code == 0x0A else size
            continue
        if not pdfium_c.FPDFText_GetLooseCharBox(raw, index, ctypes.byref(box)):
            continue
        if size is None:
            size = pdfium_c.FPDFText_GetFontSize(raw, index)
        glyphs.append(Glyph(chr(code), box.left, box.right, box.bottom, box.top, size, space))
        space = False
    return glyphs


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
