"""Tables in a text layer, found from where its characters sit, written as markdown.

A text layer gives a table as lines of words (``Austria 8.9 83,879 Vienna German``): the cell
boundaries are only in the geometry, as gaps wider than a word space. Looking at every
character's box costs several times reading the page, so geometry is fetched only for
*candidate* blocks, found from the text alone: three or more consecutive short lines that
each hold a number, with up to two short lines above them for the heading row. A candidate is
a table when its characters fall into rows (by their vertical centre) whose gaps line up in
the same columns on most rows; anything else (a references list, a paragraph full of numbers)
stays text.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

MIN_ROWS = 3  # rows with numbers, at least, for a table
MIN_NUMBERS = 2  # on each of those rows
MAX_HEADING_LINES = 2  # lines above the rows that may be its heading row
MAX_ROW_CHARS = 160
CELL_GAP_EM = 0.8  # a gap this many font sizes wide separates cells; word spaces are ~0.3 em
# Two columns are as often a code listing with its comments or a list with its labels as a
# table: a text-layer table has three at least.
MIN_COLUMNS = 3
TOUCHING_EM = 0.1  # characters closer than this are one word, whatever the text says
MIN_FITTING_ROWS = 0.75  # of the rows must fill two columns or more of the table's
PROBE_LINES = 4  # of a candidate, read first: prose full of numbers shows no cells there
MAX_BLOCK_LINES = 80  # longer candidates are pages of numbers, not tables: not looked at
_NUMBER_TOKEN = re.compile(r"(?<!\w)[-+(]?\$?\d[\d,.]*%?\)?(?!\w)")
_CAPTION = re.compile(r"\s*(?:table|tab\.)\s*\d", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Glyph:
    """One character and its box in page points (y grows upwards), with its font size."""

    char: str
    left: float
    right: float
    bottom: float
    top: float
    size: float
    space_before: bool = False  # the text has a space (a word break) before this character


@dataclass(frozen=True, slots=True)
class Cell:
    text: str
    left: float
    right: float


@dataclass(frozen=True, slots=True)
class Table:
    """A table found in a block of the page's lines, as rows of cell texts."""

    rows: list[list[str]]

    def markdown(self) -> str:
        width = max(len(row) for row in self.rows)
        lines = []
        for index, row in enumerate(self.rows):
            cells = [_escape(cell) for cell in row] + [""] * (width - len(row))
            lines.append("| " + " | ".join(cells) + " |")
            if index == 0:
                lines.append("|" + "|".join(["---"] * width) + "|")
        return "\n".join(lines)


def candidate_blocks(lines: Sequence[str]) -> list[range]:
    """Ranges of line indexes that may hold a table (see the module's docstring)."""
    blocks: list[range] = []
    index = 0
    while index < len(lines):
        stop = index
        while stop < len(lines) and _row_like(lines[stop]):
            stop += 1
        if MIN_ROWS <= stop - index <= MAX_BLOCK_LINES:
            start = index
            while (
                start > 0
                and index - start < MAX_HEADING_LINES
                and _heading_like(lines[start - 1])
                and (not blocks or start - 1 >= blocks[-1].stop)
            ):
                start -= 1
            blocks.append(range(start, stop))
        index = max(stop, index + 1)
    return blocks


def looks_tabular(glyphs: Sequence[Glyph]) -> bool:
    """Whether the first lines of a candidate (:data:`PROBE_LINES`) have cells enough to be
    worth reading all of its character boxes."""
    wide = sum(1 for row in _rows(glyphs) if len(_cells(row)) >= MIN_COLUMNS)
    return wide >= 2


def table_of(glyphs: Sequence[Glyph]) -> Table | None:
    """The table these characters form, or None when their gaps do not line up in columns."""
    rows = [_cells(row) for row in _rows(glyphs)]
    rows = [row for row in rows if row]
    if len(rows) < MIN_ROWS:
        return None
    counts = Counter(len(row) for row in rows if len(row) >= MIN_COLUMNS)
    if not counts:
        return None
    width = max(count for count, seen in counts.items() if seen == max(counts.values()))
    anchor = next(row for row in rows if len(row) == width)
    grid: list[list[str]] = []
    fitting = 0
    for row in rows:
        placed = _placed(row, anchor)
        if placed is None:
            return None
        fitting += sum(1 for cell in placed if cell) >= 2
        grid.append(placed)
    if fitting < MIN_FITTING_ROWS * len(rows):
        return None
    return Table(grid)


def _row_like(line: str) -> bool:
    stripped = line.strip()
    return (
        0 < len(stripped) <= MAX_ROW_CHARS and len(_NUMBER_TOKEN.findall(stripped)) >= MIN_NUMBERS
    )


def _heading_like(line: str) -> bool:
    stripped = line.strip()
    return (
        0 < len(stripped) <= MAX_ROW_CHARS
        and not stripped.endswith(".")
        and _CAPTION.match(stripped) is None
    )


def _rows(glyphs: Sequence[Glyph]) -> list[list[Glyph]]:
    """Characters grouped into visual rows: a character whose vertical centre lies inside a
    row's band belongs to it (superscripts included), rows top to bottom."""
    rows: list[list[Glyph]] = []
    bands: list[tuple[float, float]] = []  # each row's bottom and top
    for glyph in sorted(glyphs, key=lambda g: -g.top):
        centre = (glyph.bottom + glyph.top) / 2
        index = next((i for i, (low, high) in enumerate(bands) if low <= centre <= high), None)
        if index is None:
            rows.append([glyph])
            bands.append((glyph.bottom, glyph.top))
        else:
            rows[index].append(glyph)
            low, high = bands[index]
            bands[index] = (min(low, glyph.bottom), max(high, glyph.top))
    return rows


def _cells(row: list[Glyph]) -> list[Cell]:
    """A row's characters left to right, cut into cells at gaps wider than
    :data:`CELL_GAP_EM`; words inside a cell are spaced as the text spaces them."""
    cells: list[Cell] = []
    text: list[str] = []
    left = right = 0.0
    for glyph in sorted(row, key=lambda g: g.left):
        em = glyph.size or (glyph.top - glyph.bottom) or 1.0
        if text and glyph.left - right > CELL_GAP_EM * em:
            cells.append(Cell("".join(text), left, right))
            text = []
        if not text:
            left, right = glyph.left, glyph.right
        elif glyph.space_before and glyph.left - right > TOUCHING_EM * em:
            text.append(" ")  # not where pdfium broke a line between touching characters
        text.append(glyph.char)
        right = max(right, glyph.right)
    if text:
        cells.append(Cell("".join(text), left, right))
    return cells


def _placed(row: list[Cell], anchor: list[Cell]) -> list[str] | None:
    """The row's cells in the anchor row's columns (each by the column it overlaps most, or
    the nearest); None when two cells claim one column, as prose with wide gaps does."""
    placed = [""] * len(anchor)
    for cell in row:
        column = max(
            range(len(anchor)),
            key=lambda i: (_overlap(cell, anchor[i]), -_distance(cell, anchor[i])),
        )
        if placed[column]:
            return None
        placed[column] = cell.text
    return placed


def _overlap(a: Cell, b: Cell) -> float:
    return max(0.0, min(a.right, b.right) - max(a.left, b.left))


def _distance(a: Cell, b: Cell) -> float:
    return abs((a.left + a.right) / 2 - (b.left + b.right) / 2)


def _escape(text: str) -> str:
    return text.replace("|", "\\|").strip()


@dataclass(frozen=True, slots=True)
class TableBlock:
    """A table and the first and last lines of the text it was found in, to find it again in
    the page's text."""

    first_line: str
    last_line: str
    table: Table


def with_tables(text: str, blocks: Sequence[TableBlock]) -> str | None:
    """``text`` with each block's lines replaced by its markdown table; None when no block is
    found in it (the lines were cleaned away or read differently)."""
    lines = text.split("\n")
    replaced = False
    for block in blocks:
        first, last = block.first_line.strip(), block.last_line.strip()
        start = next((i for i, line in enumerate(lines) if line.strip().startswith(first)), None)
        if start is None:
            continue
        stop = next((i for i in range(start, len(lines)) if lines[i].strip().endswith(last)), None)
        if stop is None:
            continue
        lines[start : stop + 1] = ["", block.table.markdown(), ""]
        replaced = True
    if not replaced:
        return None
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")
