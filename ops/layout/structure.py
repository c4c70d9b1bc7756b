"""A page's structure as markdown: headings from font size and weight, list items, tables.

The `markdown` column is the page's cleaned `text` with that structure written in; `text`
stays plain. Headings come from the text layer's fonts: a short line set well above the body
size, or wholly bold where the body is not (``5.1 Optimizations``), is a heading. A run-in
bold label the sentence continues (``Keywords JavaScript, ...``) is none: the line must be bold
to its last character. Lines one heading spans (a two-line title) become one heading. Levels
come from the size against the body's, so they agree from page to page: 1.6 times or more is a
title (``#``), larger than the body a section (``##``), bold at the body's size a subsection
(``###``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ops.layout.tables import TableBlock, with_tables

HEADING_SIZE = 1.3  # times the body size, for a heading in the body's weight
TITLE_SIZE = 1.6  # times the body size: a level-1 heading; larger than the body: level 2
BOLD_HEADING_SIZE = 1.05  # a bold heading below this is level 3 (``5.1 Optimizations``)
MAX_HEADING_CHARS = 100
_ENDS_SENTENCE = re.compile(r"[.,;:]$")
_LETTER = re.compile(r"[^\W\d_]")
_BULLET = re.compile(r"^(\s*)[•◦▪‣∙·●○■□–]\s+")


@dataclass(frozen=True, slots=True)
class LineStyle:
    """A text-layer line and the font it is set in (its first character's size; bold when
    its first and last characters are). ``weight`` is how many of the page's characters the
    line stands for in the body size's count (lines that cannot be headings are sampled)."""

    text: str
    size: float
    bold: bool
    weight: int = 1


@dataclass(frozen=True, slots=True)
class PageStructure:
    headings: Mapping[str, int]  # a heading line's text (stripped) -> its level, 1 = largest
    tables: Sequence[TableBlock] = ()

    @property
    def any(self) -> bool:
        return bool(self.headings or self.tables)


def headings_of(lines: Sequence[LineStyle]) -> dict[str, int]:
    """Heading lines and their levels (see the module's docstring)."""
    weights: Counter[float] = Counter()
    bold_chars = 0
    for line in lines:
        weights[round(line.size, 1)] += len(line.text) * line.weight
        bold_chars += len(line.text) * line.weight if line.bold else 0
    if not weights:
        return {}
    body, body_chars = weights.most_common(1)[0]
    total = sum(weights.values())
    body_is_bold = bold_chars * 2 > total
    sizes: dict[str, float] = {}
    for line in lines:
        text = line.text.strip()
        if not heading_shape(text):
            continue
        size = round(line.size, 1)
        if size >= body * HEADING_SIZE or (line.bold and not body_is_bold and size >= body):
            sizes.setdefault(text, size)
    if body_chars * 2 < total:  # no size is the body's: sizes say nothing here
        sizes = {text: size for text, size in sizes.items() if size >= body * HEADING_SIZE}
    return {text: _level(size / body) for text, size in sizes.items()}


def _level(ratio: float) -> int:
    """A heading's level from its size over the body's, the same on every page."""
    if ratio >= TITLE_SIZE:
        return 1
    return 2 if ratio >= BOLD_HEADING_SIZE else 3


def to_markdown(text: str, structure: PageStructure) -> str | None:
    """``text`` with its headings, list items and tables written as markdown; None when it
    has none of them (the page's markdown is its text)."""
    markdown = with_tables(text, structure.tables) if structure.tables else None
    lines = (markdown if markdown is not None else text).split("\n")
    out: list[str] = []
    changed = markdown is not None
    previous_level = None
    for line in lines:
        level = structure.headings.get(line.strip())
        if level is not None:
            if previous_level == level:  # the heading goes on over this line
                out[-1] = f"{out[-1]} {line.strip()}"
            else:
                if out and out[-1].strip():
                    out.append("")
                out.append(f"{'#' * level} {line.strip()}")
            previous_level = level
            changed = True
            continue
        if previous_level is not None and line.strip():
            out.append("")
        previous_level = None
        bullet = _BULLET.match(line)
        if bullet:
            line = f"{bullet.group(1)}- {line[bullet.end() :]}"
            changed = True
        out.append(line)
    return "\n".join(out) if changed else None


def heading_shape(text: str) -> bool:
    """Whether a line could be a heading at all, by its text."""
    return (
        1 < len(text) <= MAX_HEADING_CHARS
        and _LETTER.search(text) is not None
        and _ENDS_SENTENCE.search(text) is None
        and _BULLET.match(text) is None
    )
