"""Headings from the text layer's fonts and list items, written into the `markdown` column."""

from __future__ import annotations

from ops.layout.structure import LineStyle, PageStructure, headings_of, to_markdown
from tests.ops.test_pages import rows_for
from tests.ops.test_tables import structure_on


def headings_on(path, page_number: int) -> dict[str, int]:
    return dict(structure_on(path, page_number).headings)


def test_a_papers_title_sections_and_subsections(samples):
    paper = samples / "docs" / "tracemonkey.pdf"
    assert headings_on(paper, 1) == {
        "Trace-based Just-in-Time Type Specialization for Dynamic": 1,
        "Languages": 1,
        "Abstract": 2,
        "1. Introduction": 2,
    }  # not the authors (larger, not bold), not "Keywords JavaScript, ..." (a bold run-in label)
    # The same level on every page: set by size against the body's, not by rank on the page.
    assert headings_on(paper, 8)["6.1 Calling Compiled Traces"] == 3
    assert headings_on(paper, 9) == {
        "6.2 Trace Stitching": 3,
        "6.3 Trace Recording": 3,
        "6.4 Preemption": 3,
    }


def test_larger_type_is_a_heading_where_no_font_is_bold(samples, shared_data):
    assert headings_on(samples / "docs" / "born-digital-report.pdf", 1) == {
        "Page-level text extraction at scale": 2
    }
    multicolumn = shared_data / "born_digital" / "papers" / "multicolumn.pdf"
    assert headings_on(multicolumn, 1) == {"Two-Column Document with Lorem Ipsum": 1, "Abstract": 2}


def test_sentences_and_bold_bodies_give_no_headings():
    body = [LineStyle("an ordinary line of body text, set in the body size", 10.0, False)] * 8
    assert headings_of([*body, LineStyle("Larger but a sentence.", 16.0, False)]) == {}
    bold_body = [LineStyle(line.text, 10.0, True) for line in body]
    assert headings_of([*bold_body, LineStyle("Bold like the rest", 10.0, True)]) == {}
    assert headings_of([*body, LineStyle("Bold like a heading", 10.0, True)]) == {
        "Bold like a heading": 3
    }


def test_markdown_joins_a_heading_over_two_lines_and_marks_list_items():
    text = "A Long Title\nOver Two Lines\nBody starts here.\n• first item\n• second item"
    structure = PageStructure({"A Long Title": 1, "Over Two Lines": 1})
    assert to_markdown(text, structure) == (
        "# A Long Title Over Two Lines\n\nBody starts here.\n- first item\n- second item"
    )
    assert to_markdown("Just prose.\nMore prose.", PageStructure({})) is None


def test_markdown_column_of_a_paper(samples):
    rows = rows_for(samples / "docs" / "tracemonkey.pdf")
    first = rows[0]["markdown"]
    assert first.startswith(
        "# Trace-based Just-in-Time Type Specialization for Dynamic Languages\n"
    )
    assert "\n## Abstract\n" in first and "\n## 1. Introduction\n" in first
    assert "#" not in rows[0]["text"].split("\n")[0]  # text stays plain
    assert "\n- CSE (constant subexpression elimination)," in rows[7]["markdown"]
    # A page with no heading, list or table has no markdown of its own: read its text.
    assert rows[2]["markdown"] is None and rows[2]["text"]
