"""olmOCR-bench checks, one type at a time, against hand-written pages (semantics of
allenai/olmocr olmocr/bench/tests.py)."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from ops.metrics.olmocr_load import parse_test
from ops.metrics.olmocr_normalize import normalize_text
from ops.metrics.olmocr_tests import (
    PAGE_MISSING,
    BenchTest,
    BenchTestError,
    TestOutcome,
    extract_formulas,
    run_test,
    trailing_repeats,
)


def make(type_: str, **fields: Any) -> BenchTest:
    return parse_test({"id": "t1", "pdf": "cat/doc.pdf", "page": 1, "type": type_, **fields})


def passes(test: BenchTest, page: str) -> bool:
    return run_test(test, page).passed


# --- normalisation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a<br>b<br/>c", "a b c"),
        ("**bold** and __strong__", "bold and strong"),
        ("<b>bold</b> <i>it</i>", "bold it"),
        ("*it* and _it_", "it and it"),
        ("snake_case_name", "snakecasename"),  # upstream strips the pair too
        ("a \n\t b", "a b"),
        ("caf\u0065\u0301", "café"),  # NFC
        ("‘q’ “qq” a–b—c−d 5 µm", "'q' \"qq\" a-b-c-d 5 μm"),
        ("a<br />b", "a<br />b"),  # upstream's pattern has no space before the slash
    ],
)
def test_normalize_matches_upstream(raw: str, expected: str) -> None:
    assert normalize_text(raw) == expected


# --- present / absent ---------------------------------------------------------------------------

PAGE = "Header line\n\nThe quick **brown** fox — jumps over the lazy dog.\n\nFooter 12"


def test_present_exact_and_normalised() -> None:
    assert passes(make("present", text="brown fox - jumps"), PAGE)
    assert not passes(make("present", text="purple fox"), PAGE)


def test_present_max_diffs_tolerance() -> None:
    # One substitution is two Indel edits: ratio 1 - 2/30 = 0.933.
    assert not passes(make("present", text="quick brown fax"), PAGE)
    assert passes(make("present", text="quick brown fax", max_diffs=2), PAGE)


def test_present_is_case_sensitive_by_default() -> None:
    assert not passes(make("present", text="BROWN FOX"), PAGE)
    assert passes(make("present", text="BROWN FOX", case_sensitive=False), PAGE)


def test_first_n_and_last_n_windows() -> None:
    assert passes(make("present", text="Header", first_n=12), PAGE)
    assert not passes(make("present", text="Footer 12", first_n=12), PAGE)
    assert passes(make("present", text="Footer 12", last_n=12), PAGE)
    assert not passes(make("present", text="Header", last_n=12), PAGE)
    both = make("present", text="Footer 12", first_n=12, last_n=10)
    assert passes(both, PAGE)


def test_absent() -> None:
    assert passes(make("absent", text="Page 7 of 9"), PAGE)
    outcome = run_test(make("absent", text="Footer 12"), PAGE)
    assert not outcome.passed
    assert "Expected absence" in outcome.explanation


def test_near_empty_page_neither_contains_nor_lacks_by_accident() -> None:
    # partial_ratio("a long phrase", " ") is 100; upstream's length guard handles it.
    outcome = run_test(make("present", text="a long phrase"), "\n")
    assert not outcome.passed and "too short" in outcome.explanation
    assert passes(make("absent", text="a long phrase"), "\n")


def test_empty_text_is_rejected() -> None:
    with pytest.raises(BenchTestError, match="Text field cannot be empty"):
        make("present", text="** **")


# --- order --------------------------------------------------------------------------------------

ORDERED = "Introduction. First paragraph of the article.\nSecond paragraph follows here."


def test_order_passes_and_fails() -> None:
    test = make("order", before="First paragraph", after="Second paragraph")
    assert passes(test, ORDERED)
    reversed_page = "Second paragraph follows here. First paragraph of the article."
    outcome = run_test(test, reversed_page)
    assert not outcome.passed and "appears before" in outcome.explanation


def test_order_uses_approximate_matches() -> None:
    typo = ORDERED.replace("First", "Frist")
    strict = run_test(make("order", before="First paragraph", after="Second paragraph"), typo)
    assert not strict.passed and "'before' text" in strict.explanation
    tolerant = make("order", before="First paragraph", after="Second paragraph", max_diffs=2)
    assert passes(tolerant, typo)


def test_order_any_before_match_ahead_of_any_after_match() -> None:
    test = make("order", before="alpha", after="omega")
    assert passes(test, "omega alpha omega")
    assert not passes(test, "omega omega alpha")


def test_order_rejects_max_diffs_over_half_the_string() -> None:
    with pytest.raises(BenchTestError, match="too large"):
        make("order", before="abcd", after="efghijkl", max_diffs=3)


# --- table --------------------------------------------------------------------------------------

MARKDOWN_TABLE = """Some text.

| Name | Qty | Price |
|------|-----|-------|
| Apple | 3 | 1.20 |
| Pear | 5 | 0.80 |

More text."""


def test_markdown_table_neighbours_and_headings() -> None:
    test = make(
        "table",
        cell="3",
        up="Qty",
        down="5",
        left="Apple",
        right="1.20",
        top_heading="Qty",
        left_heading="Apple",
    )
    assert passes(test, MARKDOWN_TABLE)
    assert passes(make("table", cell="5", top_heading="Qty", left_heading="Pear"), MARKDOWN_TABLE)
    # A heading cell is not its own heading.
    assert passes(make("table", cell="Pear", top_heading="Name"), MARKDOWN_TABLE)
    assert not passes(make("table", cell="Pear", top_heading="Pear"), MARKDOWN_TABLE)


def test_markdown_table_failures() -> None:
    outcome = run_test(make("table", cell="3", right="Pear"), MARKDOWN_TABLE)
    assert not outcome.passed and "relationships were not satisfied" in outcome.explanation
    assert not passes(make("table", cell="5", top_heading="Price"), MARKDOWN_TABLE)
    missing = run_test(make("table", cell="Banana"), MARKDOWN_TABLE)
    assert not missing.passed and "No cell matching" in missing.explanation
    assert run_test(make("table", cell="3"), "no tables here").explanation == (
        "No tables found in the content"
    )


def test_ignore_markdown_tables() -> None:
    assert not passes(make("table", cell="Apple", ignore_markdown_tables=True), MARKDOWN_TABLE)


HTML_TABLE = """<table>
<thead>
<tr><th>Region</th><th colspan="2">Fruit sales</th></tr>
<tr><th></th><th>Apples</th><th>Cherries</th></tr>
</thead>
<tbody>
<tr><td rowspan="2">North</td><td>1042</td><td>87</td></tr>
<tr><td>995</td><td>356</td></tr>
</tbody>
</table>"""


def test_html_table_with_spans_and_headings() -> None:
    test = make(
        "table",
        cell="995",
        up="1042",
        left="North",  # North spans rows 3 and 4
        right="356",
        top_heading="Apples",
        left_heading="North",
    )
    assert passes(test, HTML_TABLE)
    assert passes(make("table", cell="995", top_heading="Fruit sales"), HTML_TABLE)
    assert passes(make("table", cell="Cherries", up="Fruit sales"), HTML_TABLE)  # colspan
    assert passes(make("table", cell="Fruit sales", down="Apples"), HTML_TABLE)
    assert passes(make("table", cell="Fruit sales", down="Cherries"), HTML_TABLE)


def test_html_table_failures() -> None:
    assert not passes(make("table", cell="995", top_heading="Cherries"), HTML_TABLE)
    assert not passes(make("table", cell="995", left="Region"), HTML_TABLE)
    assert not passes(make("table", cell="87", down="995"), HTML_TABLE)


def test_table_cell_match_tolerates_max_diffs() -> None:
    assert not passes(make("table", cell="Cherries!!", up="Fruit sales"), HTML_TABLE)
    assert passes(make("table", cell="Cherries!!", up="Fruit sales", max_diffs=4), HTML_TABLE)


# --- baseline -----------------------------------------------------------------------------------


def test_baseline_passes_ordinary_text() -> None:
    assert passes(make("baseline"), PAGE)


def test_baseline_fails_without_alphanumerics() -> None:
    outcome = run_test(make("baseline"), "---- ** ....\n")
    assert not outcome.passed and "no alpha numeric" in outcome.explanation


def test_baseline_repeated_ngram_at_the_end() -> None:
    assert passes(make("baseline"), "Intro text. " + "ab " * 30)
    outcome = run_test(make("baseline"), "Intro text. " + "ab " * 31)
    assert not outcome.passed and "31 repeating 3-grams" in outcome.explanation
    # The same repetition earlier in the page is not degeneration at the end.
    assert passes(make("baseline"), "ab " * 31 + "and then a normal ending.")
    assert passes(make("baseline", max_repeats=40), "Intro text. " + "ab " * 31)


def test_trailing_repeats_counts_back_to_back_copies() -> None:
    assert trailing_repeats("xabab", 3) == [1, 2, 1]
    assert trailing_repeats("a", 3) == [1, 0, 0]
    assert trailing_repeats("x a\n\n a", 2) == [1, 2]  # whitespace runs are one space


def test_baseline_disallowed_characters() -> None:
    outcome = run_test(make("baseline"), "Hello 世界")
    assert not outcome.passed and "disallowed" in outcome.explanation
    assert not passes(make("baseline"), "Hello ひらがな")
    assert not passes(make("baseline"), "Hello 😀")
    assert passes(make("baseline", check_disallowed_characters=False), "Hello 世界")


def test_baseline_blank_page_with_max_length() -> None:
    blank = make("baseline", max_length=5)
    assert passes(blank, "  12 \n")
    assert passes(blank, "")  # a blank-page test does not require alphanumerics
    outcome = run_test(blank, "Lorem ipsum")
    assert not outcome.passed and "expected to be blank" in outcome.explanation
    figure = "![a large figure caption](img.png)"
    assert not passes(make("baseline", max_length=0), figure)
    assert passes(make("baseline", max_length=0, max_length_skips_image_alt_tags=True), figure)


# --- math ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("page", "formula"),
    [
        ("Energy $x^2$ here", "x^2"),
        ("Display:\n$$\n\\frac{a}{b}\n$$\n", "\\frac{a}{b}"),
        ("Inline \\(a+b\\) math", "a+b"),
        ("Block \\[E=mc^2\\] math", "E=mc^2"),
    ],
)
def test_math_exact_match_in_each_delimiter(page: str, formula: str) -> None:
    assert passes(make("math", math=formula), page)


def test_math_is_exact_only() -> None:
    # Upstream's KaTeX rendering would accept this; pagemill does not render.
    outcome = run_test(make("math", math="x^2"), "Energy $x^{2}$ here")
    assert not outcome.passed and "x^2" in outcome.explanation
    assert not passes(make("math", math="x^2"), "x^2 without delimiters")


def test_math_ignore_dollar_delimited() -> None:
    test = make("math", math="x^2", ignore_dollar_delimited=True)
    assert not passes(test, "$x^2$")
    assert passes(test, "\\(x^2\\)")


def test_extract_formulas_reads_double_dollars_before_single() -> None:
    assert extract_formulas("$$a$$ and $b$ and \\(c\\)") == ["c", "a", "b"]
    assert extract_formulas("$$a$$ and $b$", dollars=False) == []


# --- run_test -----------------------------------------------------------------------------------


def test_missing_page_fails() -> None:
    assert run_test(make("present", text="x"), None) == TestOutcome(False, PAGE_MISSING)
    assert run_test(make("absent", text="x"), None) == TestOutcome(False, PAGE_MISSING)


def test_a_check_that_raises_is_a_failure() -> None:
    class Boom(BenchTest):
        types: ClassVar[tuple[str, ...]] = ("boom",)

        def check(self, text: str) -> TestOutcome:
            raise RuntimeError("kaput")

    outcome = run_test(Boom(id="b", pdf="x.pdf", page=1, type="boom"), "text")
    assert outcome == TestOutcome(False, "RuntimeError while checking: kaput")


def test_a_table_upstream_cannot_lay_out_fails_every_table_test_on_the_page() -> None:
    # "X" spans three rows, but the second row's colspan takes its column over; upstream's
    # parser indexes past its grid there, so the benchmark fails the page's table tests.
    page = (
        "<table><tr><td>a</td><td rowspan=3>X</td></tr>"
        "<tr><td colspan=2>b</td></tr></table>"
        "<table><tr><th>fine</th></tr><tr><td>cell</td></tr></table>"
    )
    outcome = run_test(make("table", cell="cell", up="fine"), page)
    assert not outcome.passed
    assert outcome.explanation.startswith("Tables could not be parsed: the rowspan of cell 'X'")
    assert passes(make("table", cell="cell", up="fine"), page.split("</table>", 1)[1])
