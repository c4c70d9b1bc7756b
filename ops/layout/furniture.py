"""Running headers, footers and page numbers: the page's furniture, kept apart from its body.

A line is furniture when it sits at an edge of the page's text (among its first or last
:data:`EDGE_LINES` lines) and either repeats at an edge of the document's other pages (a running
title, a journal line, a watermark such as "Create PDF files without this message ...") or reads
as a page number ("7", "- 7 -", "Page 7 of 12", "vii"). Repetition is judged on a line's
*signature*, its words with every number made ``#``, so "Page 3" and "Page 4" are the same line.

Position here is position in the page's text: pdfium gives a text layer in the order the page was
written, OCR engines top to bottom, and both put running heads and page numbers at the ends of a
page's text for the documents we have measured. Furniture is peeled from the outside in and the
first body line stops the peeling, so a repeated line in the middle of a page is never taken.
Nothing is dropped: what comes off a page goes to its ``header_text`` and ``footer_text``.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

EDGE_LINES = 3  # lines looked at on each end of a page's text
MAX_FURNITURE_CHARS = 120  # running heads are short; a longer line is body text
# A line must repeat on this share of the window's pages (and on two at least) to be furniture:
# odd and even pages often carry different heads, each on half of them.
MIN_REPEAT_SHARE = 0.2
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_SPACES = re.compile(r"\s+")
_LETTER = re.compile(r"[^\W\d_]")
_PAGE_NUMBER = re.compile(
    r"(?:(?:page|p\.|seite|pagina|página|стр\.?)\s*)?[-–—]?\s*"
    r"(?:\d{1,4}|[ivxlcdm]{1,7})"
    r"\s*[-–—]?(?:\s*(?:of|/|von|de|из)\s*\d{1,4})?",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Furnished:
    """A page's text split into its body and the furniture taken off either end."""

    text: str
    header: str | None = None
    footer: str | None = None


def signature(line: str) -> str:
    """What two pages' running heads share: the words, numbers made ``#``, case and spacing
    folded."""
    return _NUMBER.sub("#", _SPACES.sub(" ", line).strip().casefold())


def is_page_number(line: str) -> bool:
    return _PAGE_NUMBER.fullmatch(line.strip()) is not None


class Furniture:
    """What repeats at the edges of a window of one document's pages."""

    def __init__(self, texts: Iterable[str] = ()) -> None:
        pages_with: dict[str, set[int]] = {}  # line signature -> the texts of pages it is on
        at_foot: Counter[str] = Counter()  # seen last rather than first: a footer
        pages = 0
        for text in texts:
            pages += 1
            heads, tails = set(), set()
            for line, in_lower_half in _edge_lines(text):
                (tails if in_lower_half else heads).add(signature(line))
            for line in heads | tails:
                pages_with.setdefault(line, set()).add(hash(text))
            at_foot.update(tails - heads)
            at_foot.subtract(heads - tails)
        needed = max(2, math.ceil(MIN_REPEAT_SHARE * pages))
        # Counted on distinct pages: a document of identical pages has no furniture, only pages.
        self.repeated = frozenset(
            line for line, on in pages_with.items() if len(on) >= needed and _LETTER.search(line)
        )
        self.footers = frozenset(line for line in self.repeated if at_foot[line] > 0)

    def is_furniture(self, line: str, page_numbers: bool = True) -> bool:
        stripped = line.strip()
        if not stripped or len(stripped) > MAX_FURNITURE_CHARS:
            return False
        return (page_numbers and is_page_number(stripped)) or signature(stripped) in self.repeated

    def split(self, text: str) -> Furnished:
        """``text`` without the furniture at its ends; blank lines at the cut go with it. A
        repeated line the other pages end with is a footer wherever this page has it (a page
        holding nothing but its footer). A number alone on a page is its text, not its page
        number."""
        split = self._split(text, page_numbers=True)
        if split.text.strip() or not text.strip():
            return split
        return self._split(text, page_numbers=False)

    def _split(self, text: str, page_numbers: bool) -> Furnished:
        lines = text.split("\n")
        start, stop = 0, len(lines)
        header: list[str] = []
        footer: list[str] = []  # from the bottom up
        leading_footer: list[str] = []
        taken = 0
        while start < stop and taken < EDGE_LINES:
            line = lines[start].strip()
            if line and not self.is_furniture(line, page_numbers):
                break
            if line:
                taken += 1
                (leading_footer if signature(line) in self.footers else header).append(line)
            start += 1
        taken = 0
        while stop > start and taken < EDGE_LINES:
            line = lines[stop - 1].strip()
            if line and not self.is_furniture(line, page_numbers):
                break
            if line:
                taken += 1
                footer.append(line)
            stop -= 1
        if not header and not footer and not leading_footer:
            return Furnished(text)
        footer_lines = leading_footer + footer[::-1]
        return Furnished(
            "\n".join(lines[start:stop]),
            "\n".join(header) or None,
            "\n".join(footer_lines) or None,
        )


def _edge_lines(text: str) -> list[tuple[str, bool]]:
    """The first and the last :data:`EDGE_LINES` short non-blank lines of ``text``, each with
    whether it is in the lower half of them."""
    lines = [line for line in text.split("\n") if line.strip()]
    count = len(lines)
    edges = (
        range(count) if count <= 2 * EDGE_LINES else [*range(EDGE_LINES), *range(-EDGE_LINES, 0)]
    )
    return [
        (lines[index], (index % count) * 2 >= count)
        for index in edges
        if len(lines[index].strip()) <= MAX_FURNITURE_CHARS
    ]
