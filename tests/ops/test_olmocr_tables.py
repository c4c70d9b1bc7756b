"""Table parsing (olmocr/bench/table_parsing.py semantics) and the approximate substring search
that stands in for fuzzysearch in order tests."""

from __future__ import annotations

import random

import pytest

from ops.metrics.olmocr_fuzzy import (
    NearMatch,
    _best_start,
    _consolidate,
    end_distances,
    find_near_matches,
)
from ops.metrics.olmocr_tables import (
    CellSpec,
    build_table,
    parse_html_tables,
    parse_markdown_tables,
    parse_tables,
)

# --- markdown -----------------------------------------------------------------------------------


def test_markdown_table_cells_and_headings() -> None:
    [table] = parse_markdown_tables("| a | b |\n|:--|--:|\n| c | d |\n| e | f |")
    assert dict(table.cell_text) == {
        (0, 0): "a",
        (0, 1): "b",
        (1, 0): "c",
        (1, 1): "d",
        (2, 0): "e",
        (2, 1): "f",
    }
    # First row and first column are headings in a markdown table.
    assert table.heading_cells == {(0, 0), (0, 1), (1, 0), (2, 0)}
    assert table.up[(2, 1)] == {(1, 1)}
    assert table.right[(1, 0)] == {(1, 1)}
    assert table.top_headings((2, 1)) == {(0, 1)}
    assert table.left_headings((2, 1)) == {(2, 0)}


def test_markdown_tables_end_at_a_line_without_pipes() -> None:
    content = "| a | b |\n|---|---|\n| 1 | 2 |\n\ntext\n| c | d |\n| 3 | 4 |\n\n| lone |"
    tables = parse_markdown_tables(content)
    assert [dict(t.cell_text) for t in tables] == [
        {(0, 0): "a", (0, 1): "b", (1, 0): "1", (1, 1): "2"},
        {(0, 0): "c", (0, 1): "d", (1, 0): "3", (1, 1): "4"},
    ]  # a single pipe line is not a table


def test_markdown_separator_with_crlf_line_ends() -> None:
    [table] = parse_markdown_tables("| a | b |\r\n|---|---|\r\n| c | d |\r\n")
    assert dict(table.cell_text) == {(0, 0): "a", (0, 1): "b", (1, 0): "c", (1, 1): "d"}


def test_markdown_empty_rows_are_skipped() -> None:
    [table] = parse_markdown_tables("| a | b |\n|---|---|\n| | |\n| c | d |")
    assert table.cell_text[(1, 0)] == "c"


# --- HTML ---------------------------------------------------------------------------------------


def test_html_colspan_and_rowspan_relations() -> None:
    [table] = parse_html_tables(
        "<table><tr><th colspan=2>H</th></tr>"
        "<tr><td rowspan=2>L</td><td>a</td></tr>"
        "<tr><td>b</td></tr></table>"
    )
    assert dict(table.cell_text) == {(0, 0): "H", (1, 0): "L", (1, 1): "a", (2, 1): "b"}
    assert table.down[(0, 0)] == {(1, 0), (1, 1)}  # the spanning heading sees both columns
    assert table.up[(1, 1)] == {(0, 0)}
    assert table.left[(2, 1)] == {(1, 0)}  # L spans into the third row
    assert table.top_headings((2, 1)) == {(0, 0)}
    assert table.left_headings((2, 1)) == {(1, 0)}  # no heading on the left: the edge cell


def test_html_rowspan_zero_reaches_the_last_row() -> None:
    [table] = parse_html_tables(
        "<table><tr><td rowspan='0'>L</td><td>a</td></tr>"
        "<tr><td>b</td></tr><tr><td>c</td></tr></table>"
    )
    assert table.left[(2, 1)] == {(0, 0)}


def test_html_text_br_entities_and_nested_markup() -> None:
    [table] = parse_html_tables(
        "<table><tr><td>Fish<br>&amp; <b>chips</b></td><td>x</td></tr></table>"
    )
    assert table.cell_text[(0, 0)] == "Fish\n& chips"


def test_html_thead_cells_are_headings() -> None:
    [table] = parse_html_tables(
        "<table><thead><tr><td>h</td></tr></thead><tbody><tr><td>v</td></tr></tbody></table>"
    )
    assert table.heading_cells == {(0, 0)}


def test_html_unclosed_cell_swallows_the_next_like_beautifulsoup() -> None:
    # BeautifulSoup's html.parser builder never closes a <td> implicitly.
    [table] = parse_html_tables("<table><tr><td>a<td>b</tr></table>")
    assert dict(table.cell_text) == {(0, 0): "ab"}


def test_nested_tables_are_parsed_separately() -> None:
    tables = parse_html_tables(
        "<table><tr><td>outer<table><tr><td>inner</td></tr></table></td></tr></table>"
    )
    assert [t.cell_text[(0, 0)] for t in tables] == ["outerinner", "inner"]


def test_parse_tables_markdown_first_then_html() -> None:
    content = "<table><tr><td>h</td></tr></table>\n\n| m | n |\n|---|---|"
    assert [t.cell_text[(0, 0)] for t in parse_tables(content)] == ["m", "h"]
    assert [t.cell_text[(0, 0)] for t in parse_tables(content, markdown=False)] == ["h"]


def test_rowspan_past_the_last_row_adds_rows() -> None:
    table = build_table([[CellSpec("a", rowspan=3), CellSpec("b")]])
    assert table is not None
    assert table.down[(0, 1)] == set()
    assert table.left[(0, 1)] == {(0, 0)}


def test_a_deeply_malformed_table_does_not_recurse_too_deep() -> None:
    [table] = parse_html_tables("<table><tr>" + "<td>x" * 5000 + "</table>")
    assert table.cell_text[(0, 0)] == "x" * 5000


# --- approximate substring search ---------------------------------------------------------------


def _brute_force_end_distances(pattern: str, text: str) -> list[int]:
    previous = list(range(len(pattern) + 1))
    result = [len(pattern)]
    for char in text:
        current = [0]
        for i, p in enumerate(pattern, start=1):
            current.append(min(previous[i] + 1, current[i - 1] + 1, previous[i - 1] + (p != char)))
        previous = current
        result.append(current[-1])
    return result


def test_end_distances_match_dynamic_programming() -> None:
    rng = random.Random(7)
    for _ in range(500):
        pattern = "".join(rng.choice("abc") for _ in range(rng.randint(1, 70)))
        text = "".join(rng.choice("abcd") for _ in range(rng.randint(0, 90)))
        assert end_distances(pattern, text) == _brute_force_end_distances(pattern, text)


def test_windowed_search_equals_scanning_the_whole_text() -> None:
    rng = random.Random(11)
    words = ["the", "of", "a", "table", "cell", "row", "header", "value", "page", "order"]
    for _ in range(300):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(0, 60)))
        start = rng.randrange(max(1, len(text) - 30))
        chars = list(text[start : start + rng.randint(6, 30)].ljust(6, "x"))
        for _ in range(rng.randint(0, 3)):  # a few edits, so matches are approximate
            chars[rng.randrange(len(chars))] = rng.choice("xyz ")
        pattern, k = "".join(chars), rng.randint(1, max(1, len(chars) // 3))
        whole_text = [
            NearMatch(_best_start(pattern, text, end, dist), end, dist)
            for end, dist in enumerate(end_distances(pattern, text))
            if dist <= k
        ]
        assert find_near_matches(pattern, text, k) == _consolidate(whole_text)


def test_exact_search_reports_overlapping_occurrences() -> None:
    assert [m.start for m in find_near_matches("aa", "aaaa", 0)] == [0, 1, 2]


def test_fuzzy_search_consolidates_each_occurrence() -> None:
    text = "xx dolor sit amet yy dolor sat amet zz"
    assert find_near_matches("dolor sit amet", text, 1) == [
        NearMatch(3, 17, 0),
        NearMatch(21, 35, 1),
    ]
    assert find_near_matches("dolor sit amet", text, 0) == [NearMatch(3, 17, 0)]
    assert find_near_matches("lorem ipsum", text, 2) == []


def test_fuzzy_search_rejects_degenerate_requests() -> None:
    with pytest.raises(ValueError):
        find_near_matches("", "text", 0)
    with pytest.raises(ValueError):
        find_near_matches("ab", "text", 2)
