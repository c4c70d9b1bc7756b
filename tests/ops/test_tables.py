"""Tables in a text layer become markdown tables in the `markdown` column; prose stays text."""

from __future__ import annotations

import pypdfium2 as pdfium
import pytest

from ops.layout.steps import TextSteps
from ops.layout.tables import Glyph, Table, candidate_blocks, table_of, with_tables
from ops.pages import ExtractOptions
from ops.pdf.textlayer import page_structure
from tests.ops.test_pages import rows_for


def structure_on(path, page_number: int):
    document = pdfium.PdfDocument(path)
    textpage = document[page_number - 1].get_textpage()
    try:
        return page_structure(textpage)
    finally:
        textpage.close()
        document.close()


def tables_on(path, page_number: int):
    return list(structure_on(path, page_number).tables)


def test_a_ruled_table_of_a_two_column_paper(shared_data):
    (block,) = tables_on(shared_data / "born_digital" / "papers" / "multicolumn.pdf", 3)
    assert block.table.rows == [
        ["Country", "Population (millions)", "Area (km2)", "Capital", "Official Language"],
        ["Austria", "8.9", "83,879", "Vienna", "German"],
        ["Belgium", "11.5", "30,689", "Brussels", "Dutch, French, German"],
        ["Czech Republic", "10.7", "78,866", "Prague", "Czech"],
        ["Denmark", "5.8", "42,951", "Copenhagen", "Danish"],
        ["Finland", "5.5", "338,424", "Helsinki", "Finnish, Swedish"],
    ]


def test_a_wide_table_with_an_empty_corner(samples):
    (block,) = tables_on(samples / "docs" / "tracemonkey.pdf", 12)
    rows = block.table.rows
    assert rows[0][:3] == ["", "Loops", "Trees"] and rows[0][-1] == "Speedup"
    assert ["3d-cube", "25", "27", "29", "3", "0", "1.1", "1.1", "1.2", "2.20x"] in rows
    assert all(len(row) == 10 for row in rows) and len(rows) > 20


@pytest.mark.parametrize("page", range(1, 15))
def test_prose_code_listings_and_references_are_no_tables(samples, page):
    if page != 12:  # every other page of the paper: two columns of prose, code, references
        assert tables_on(samples / "docs" / "tracemonkey.pdf", page) == []


def test_candidates_are_runs_of_lines_with_numbers_and_their_heading():
    lines = [
        "Table 2: Results",
        "Method Speed Memory",
        "ours 1.5 20",
        "theirs 1.0 35",
        "baseline 0.7 50",
        "We see that ours is faster.",
    ]
    assert candidate_blocks(lines) == [range(1, 5)]
    assert candidate_blocks(["In 2020 we had 3 runs", "and then prose."]) == []


def glyph_row(y: float, cells: list[tuple[float, str]]) -> list[Glyph]:
    glyphs = []
    for x, text in cells:
        for offset, char in enumerate(text):
            glyphs.append(Glyph(char, x + 6 * offset, x + 6 * offset + 5, y, y + 10, 10.0))
    return glyphs


def test_cells_that_do_not_line_up_are_no_table():
    aligned = [glyph_row(700 - 12 * i, [(50, "ab"), (150, "12"), (250, "34")]) for i in range(4)]
    assert table_of([g for row in aligned for g in row]) == Table([["ab", "12", "34"]] * 4)
    # Two cells of one row falling in one column: wide gaps of justified prose, not columns.
    ragged = [*aligned[:3], glyph_row(652, [(50, "ab"), (160, "12"), (190, "34"), (250, "5")])]
    assert table_of([g for row in ragged for g in row]) is None


def test_the_markdown_column_carries_the_table_and_text_stays_plain(shared_data):
    rows = rows_for(shared_data / "born_digital" / "papers" / "multicolumn.pdf")
    markdown, text = rows[2]["markdown"], rows[2]["text"]
    assert "| Austria | 8.9 | 83,879 | Vienna | German |" in markdown
    assert markdown.startswith("Table 1: EU Countries Information\n\n| Country |")
    assert "|" not in text and "Austria 8.9 83,879 Vienna German" in text
    off = rows_for(
        shared_data / "born_digital" / "papers" / "multicolumn.pdf",
        ExtractOptions(text_steps=TextSteps.parse("headers_footers,dehyphenate")),
    )
    assert all(row.get("markdown") is None for row in off)


def test_a_table_not_found_in_the_cleaned_text_gives_no_markdown():
    block = type("Block", (), {"first_line": "x 1 2", "last_line": "z 5 6", "table": None})
    assert with_tables("nothing like it here", [block]) is None
