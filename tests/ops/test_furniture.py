"""Running heads, footers and page numbers come off the page text and into their own columns."""

from __future__ import annotations

from ops.layout.furniture import Furniture, is_page_number
from ops.layout.steps import TextSteps
from ops.pages import ExtractOptions, extract_unit, plan_document
from ops.sources import fingerprint
from tests.ops.test_hostile_inputs import page_order
from tests.ops.test_pages import CONTEXT, rows_for

BODIES = [
    "Results on the first corpus were encouraging.\nWe go on with the second.",
    "The second corpus is larger.\nIts pages are scanned.",
    "Scanned pages need a model.\nThe text layer is empty.",
    "We conclude with a summary.\nEverything is measured.",
]


def journal_pages() -> list[str]:
    return [
        f"Journal of Page Studies, Vol. 12\n{body}\n- {number} -"
        for number, body in enumerate(BODIES, start=41)
    ]


def test_repeated_heads_and_page_numbers_leave_the_body():
    pages = journal_pages()
    furniture = Furniture(pages)
    split = furniture.split(pages[1])
    assert split.text == BODIES[1]
    assert split.header == "Journal of Page Studies, Vol. 12"
    assert split.footer == "- 42 -"


def test_numbers_inside_running_heads_do_not_hide_the_repetition():
    pages = [f"Page {n} of 4\n{body}" for n, body in enumerate(BODIES, start=1)]
    assert Furniture(pages).split(pages[2]).header == "Page 3 of 4"
    pages = [f"Annual report {2020 + n}\n{body}" for n, body in enumerate(BODIES)]
    assert Furniture(pages).split(pages[2]).text == BODIES[2]


def test_a_repeated_line_in_the_middle_of_a_page_stays():
    pages = [f"{body}\nsee the appendix\nand the tables\nthat follow\n{body}" for body in BODIES]
    furniture = Furniture(pages)
    assert all(furniture.split(page).text == page for page in pages)


def test_lines_repeated_on_one_page_only_or_on_identical_pages_are_text():
    lonely = ["Journal of Page Studies\n" + BODIES[0], BODIES[1], BODIES[2], BODIES[3]]
    assert Furniture(lonely).split(lonely[0]).text == lonely[0]
    same = ["A form to fill in\nName:\nDate:"] * 4
    assert Furniture(same).split(same[0]).text == same[0]


def test_a_page_holding_only_its_footer_gives_it_to_the_footer_column():
    footer = "Create PDF files without this message by purchasing novaPDF printer"
    pages = [f"{body}\n{footer}" for body in BODIES[:3]] + [footer]
    split = Furniture(pages).split(pages[3])
    assert (split.text, split.header, split.footer) == ("", None, footer)


def test_a_page_number_alone_on_a_page_is_its_text():
    assert Furniture().split("page 64").text == "page 64"
    assert Furniture().split("Body text\n\n7\n").text == "Body text"


def test_page_number_shapes():
    for line in ("7", "- 7 -", "Page 7", "page 7 of 12", "vii", "12/40", "— 3 —"):
        assert is_page_number(line), line
    for line in ("7 apples", "Figure 7", "2.5", "1999 was a year", "Chapter 1"):
        assert not is_page_number(line), line


def test_the_step_is_switchable():
    pages = journal_pages()
    furniture = Furniture(pages)
    kept = TextSteps.parse("dehyphenate").clean(pages[0], furniture=furniture)
    assert (kept.text, kept.header, kept.footer) == (pages[0], None, None)
    cut = TextSteps.parse("headers_footers").clean(pages[0], furniture=furniture)
    assert cut.text == BODIES[0] and cut.footer == "- 41 -"


def test_a_real_watermark_footer_goes_to_footer_text(shared_data):
    from ops.passwords import Passwords

    options = ExtractOptions(passwords=Passwords(default="test"))
    rows = rows_for(shared_data / "malformed" / "encrypted" / "password-example.pdf", options)
    assert len(rows) == 4
    for row in rows:
        assert row["footer_text"].startswith("Create PDF files without this message")
        assert "novaPDF" not in row["text"] and row["header_text"] is None
        assert row["char_count"] == len(row["text"])
    assert rows[3]["text"] == ""  # the last page holds nothing but the footer


def test_page_numbers_of_a_two_column_paper(shared_data):
    rows = rows_for(shared_data / "born_digital" / "papers" / "multicolumn.pdf")
    assert [row["footer_text"] for row in rows] == ["1", "2", "3"]
    assert not rows[0]["text"].rstrip().endswith("1")


def test_a_resumed_page_is_cleaned_with_the_window_of_a_fresh_run(tmp_path):
    from ops.pdf.synth import text_pdf

    pdf = tmp_path / "journal.pdf"
    pdf.write_bytes(text_pdf([page.split("\n") for page in journal_pages()]))
    options = ExtractOptions(pages_per_unit=4)
    fresh = rows_for(pdf, options)
    assert [row["header_text"] for row in fresh] == ["Journal of Page Studies, Vol. 12"] * 4
    # Three pages done: the fourth alone is planned, and still sees the other three.
    units = plan_document(str(pdf), options, fingerprint(str(pdf)), done_pages=[0, 1, 2])
    assert [(unit["page_start"], unit["page_stop"]) for unit in units] == [(3, 4)]
    (resumed,) = sorted(
        (row for unit in units for row in extract_unit(unit, options, CONTEXT)), key=page_order
    )
    columns = ("text", "header_text", "footer_text", "char_count")
    assert {c: resumed[c] for c in columns} == {c: fresh[3][c] for c in columns}
