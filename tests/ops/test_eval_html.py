"""The evaluation report's index.html: sections, escaping, no external references, plot helpers
and a size that does not grow with the number of pages scored."""

from __future__ import annotations

import math
import re
from html.parser import HTMLParser
from typing import Any

import pytest

from ops.evaluation.html import MAX_FAILURES, MAX_MOVERS, render_report
from ops.evaluation.html_svg import (
    axis_ticks,
    histogram_counts,
    histogram_svg,
    nice_ceiling,
    scatter_points,
    scatter_svg,
)

VOID = {"meta", "img", "br", "hr", "input", "link", "wbr"}
MAIN_SECTIONS = {"overview", "coverage", "headline", "groups", "distributions", "documents"}
EVIL = "<script>alert('x')</script>"


class PageChecker(HTMLParser):
    """Collects ids and attributes, and every tag that is closed out of order or never closed."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.ids: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._record(tag, attrs)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._record(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()
        else:
            self.errors.append(f"</{tag}> closes {self.stack[-1:]} at {self.getpos()}")

    def _record(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self.ids += [value for name, value in attrs if name == "id" and value]


def check(page: str) -> PageChecker:
    checker = PageChecker()
    checker.feed(page)
    checker.close()
    assert checker.errors == []
    assert checker.stack == []
    assert len(checker.ids) == len(set(checker.ids)), "duplicate ids"
    assert page.startswith("<!DOCTYPE html>")
    return checker


def metrics(cer: float | None = 0.031) -> dict[str, Any]:
    return {
        "pages": 950, "pages_empty_truth": 2, "pages_unspaced": 0, "hallucinated_chars": 13,
        "cer": cer, "wer": 0.08, "ned": 0.02, "bow_precision": 0.97, "bow_recall": 0.96,
        "bow_f1": 0.965, "cer_macro": 0.04, "cer_p50": 0.01, "cer_p90": 0.09,
    }  # fmt: skip


def coverage(**overrides: Any) -> dict[str, Any]:
    counts = {
        "shards": 4, "unreadable_shards": [], "rows": 1000, "sampled_out": 0,
        "scored_pages": 950, "error_rows": 0, "error_rows_with_truth": 0, "no_truth": 35,
        "truth_missing_from_output": 0, "documents_incomplete": 0,
    }  # fmt: skip
    return {**counts, **overrides}


def summary(labels: tuple[str, ...] = ("A",), **extra: Any) -> dict[str, Any]:
    return {
        "pagemill_eval": 1,
        "created_at": "2026-11-23T07:00:00+00:00",
        "outputs": {label: f"/out/{label}" for label in labels},
        "truth": {"format": "folder", "description": "text files under /x", "entries": 123},
        "normalization": "n1.v1",
        "ned_normalization": "n2.v1",
        "settings": {"sample": None, "group_by": ["route"], "workers": 2},
        "coverage": {label: coverage() for label in labels},
        "overall": [{"output": label, **metrics()} for label in labels],
        "by": {
            "route": [
                {"output": label, "route": route, **metrics(0.1)}
                for label in labels
                for route in ("ocr", "text")
            ]
        },
        "documents_worst": [
            {
                "output": labels[0],
                "source_uri": "/d/a.pdf",
                "pages": 3,
                "cer": 0.4,
                "wer": 0.5,
                "ned": 0.3,
                "bow_f1": 0.6,
            }
        ],
        "compare": None,
        "bench": None,
        **extra,
    }


def worst_page(i: int = 0, text: str = "the qnick fox", truth: str = "the quick brown fox") -> dict:
    return {
        "id": f"w{i}", "output": "A", "source_uri": f"/d/{i}.pdf", "page_number": 3,
        "route": "ocr", "backend": "tesseract", "cer": 0.9, "truth_chars": 2000,
        "char_edits": 1800, "text": text, "truth": truth,
    }  # fmt: skip


def test_one_output_report_has_its_sections_and_is_well_formed() -> None:
    page = render_report(summary(), [worst_page()], {"A": [0.0, 0.1, 0.5]})
    checker = check(page)
    assert MAIN_SECTIONS | {"worst-pages"} <= set(checker.ids)
    assert "compare" not in checker.ids and "bench" not in checker.ids
    assert "2026-11-23T07:00:00+00:00" in page and "/out/A" in page
    assert "<strong>3.10%</strong>" in page  # the micro CER, in bold
    assert "micro" in page and "macro" in page
    assert page.count("<svg") == 2  # the CER histogram and the by-route bar chart
    assert 'class="warn"' not in page  # nothing went wrong, nothing to warn about


def test_same_inputs_give_the_same_bytes() -> None:
    args = (summary(("A", "B")), [worst_page()], {"A": [0.2], "B": [0.3]})
    assert render_report(*args) == render_report(*args)


def test_missing_metrics_render_as_dashes() -> None:
    empty = dict.fromkeys(metrics(), None)
    report = summary(overall=[{"output": "A", **empty}], by={"route": [{"output": "A", **empty}]})
    page = render_report(report, [], {"A": []})
    check(page)
    headline = re.search(r'<section id="headline">.*?</section>', page).group(0)
    assert headline.count("—") == len(metrics()) - 1  # all but pages_unspaced are shown
    assert "(none)" in page  # the group whose value is missing
    assert not re.search(r"\b(None|nan|NaN)\b", page)


def test_coverage_problems_are_visible() -> None:
    report = summary()
    report["coverage"]["A"] = coverage(
        unreadable_shards=[{"shard": "/p/x.parquet", "reason": "cannot read: bad footer"}],
        truth_missing_from_output=7,
        error_rows=10,
        error_rows_with_truth=5,
    )
    page = render_report(report, [], {"A": [0.1]})
    check(page)
    assert page.count('class="warn"') == 2
    assert "/p/x.parquet" in page and "cannot read: bad footer" in page
    assert "7 truth entries have no page in the output" in page
    assert '<span class="bad">10</span>' in page


def test_user_text_is_escaped() -> None:
    report = summary((EVIL,))
    report["coverage"][EVIL]["unreadable_shards"] = [{"shard": EVIL, "reason": EVIL}]
    report["by"]["route"][0]["route"] = EVIL
    page = render_report(
        report,
        [worst_page(text=f"x {EVIL} y", truth=EVIL) | {"source_uri": EVIL, "backend": EVIL}],
        {EVIL: [0.5]},
    )
    check(page)
    assert "<script" not in page.lower()
    assert "&lt;script&gt;" in page


def test_no_external_references() -> None:
    images = {"w0": "data:image/jpeg;base64,/9j/AAAA", "w1": "https://example.com/p.jpg"}
    pages = [worst_page(0), worst_page(1) | {"source_uri": "https://example.com/a.pdf"}]
    page = render_report(summary(), pages, {"A": [0.1]}, images=images)
    checker = check(page)
    sources = [attrs.get("src") or "" for tag, attrs in checker.tags if tag == "img"]
    assert sources == ["data:image/jpeg;base64,/9j/AAAA"]  # the URL is never loaded
    for tag, attrs in checker.tags:
        assert tag not in ("script", "link", "iframe", "object")
        for name in ("src", "href", "xlink:href"):
            value = attrs.get(name) or ""
            assert not re.match(r"\s*(https?:)?//", value), (tag, name, value)
    assert "https://example.com/a.pdf" in page  # shown as text


def test_worst_pages_side_by_side_with_a_diff() -> None:
    whole = worst_page(1) | {"page_number": None}
    page = render_report(summary(), [worst_page(0), whole], {"A": [0.9]})
    check(page)
    section = re.search(r'<section id="worst-pages">.*?</section>', page).group(0)
    assert section.count("<pre>") == 4
    assert "the q<ins>n</ins>ick fox" in section  # a short substitution: down to characters
    assert "the q<del>u</del>ick<del> brown</del> fox" in section
    assert "/d/1.pdf</code>, whole document" in section and "/d/0.pdf</code>, page 3" in section
    assert "CER <strong>90.00%</strong>" in section
    unlike = render_report(summary(), [worst_page(0, "xyz fox", "quick fox")], {})
    assert "<ins>xyz</ins> fox" in unlike and "<del>quick</del> fox" in unlike  # not refined


def test_long_texts_are_clipped() -> None:
    page = render_report(summary(), [worst_page(text="ж" * 10_000, truth="ш " * 5000)], {})
    assert page.count("ж") == 4000 and page.count("ш") == 2000
    assert page.count(" …</pre>") == 2


def test_compare_report() -> None:
    compare = {"labels": ["A", "B"], "pages": 900, "a_better": 300, "b_better": 500,
               "ties": 100, "cer_a": 0.05, "cer_b": 0.03, "median_delta": -0.01}  # fmt: skip
    pages = [
        {"source_uri": f"/d/{i}.pdf", "page_number": 1, "cer_a": (i % 101) / 100, "cer_b": 0.5}
        for i in range(300)
    ] + [{"source_uri": "/d/none.pdf", "page_number": 2, "cer_a": None, "cer_b": 0.1}]
    report = summary(("A", "B"), compare=compare)
    page = render_report(report, [], {"A": [0.1], "B": [0.2]}, compare_pages=pages)
    checker = check(page)
    assert "compare" in checker.ids
    section = re.search(r'<section id="compare">.*?</section>', page).group(0)
    for text in ("A better", "B better", "ties", "500", "5.00%", "3.00%", "-1.00 points"):
        assert text in section
    assert "300 of 301 pages drawn" in section
    tables = re.findall(r"<h3>Largest changes: (\w) better</h3><table>(.*?)</table>", section)
    assert [name for name, _ in tables] == ["B", "A"]
    for _, table in tables:
        assert table.count("<tr>") == MAX_MOVERS + 1  # the header row and 20 pages
    b_rows = re.findall(r"<tr>.*?</tr>", tables[0][1])
    assert "-50.00 points" in b_rows[1]  # the biggest B win first: 0.5 - 1.0
    assert page.count("<svg") == 3  # histogram, bar chart, scatter


def bench_result(overall: float, categories: dict[str, tuple[int, int]], **extra: Any) -> dict:
    return {
        "overall": overall, "ci_low": overall - 0.03, "ci_high": overall + 0.03, "tests": 1200,
        "categories": [
            {"name": name, "passed": passed, "total": total, "rate": passed / total}
            for name, (passed, total) in categories.items()
        ],
        "failures": [], **extra,
    }  # fmt: skip


def failure(i: int, explanation: str = "missing", pdf: str = "a.pdf") -> dict[str, Any]:
    return {"id": f"t{i}", "type": "present", "category": "arxiv_math", "pdf": pdf, "page": 1,
            "explanation": explanation}  # fmt: skip


def bench_section(page: str) -> str:
    return re.search(r'<section id="bench">.*?</section>', page).group(0)


def test_bench_report() -> None:
    failures = [failure(i, f"missing <b>{i}</b>") for i in range(60)]
    bench = bench_result(0.71, {"arxiv_math": (100, 150)}, failures=failures)
    page = render_report(summary(bench={"output": bench}), [], {})
    checker = check(page)
    assert "bench" in checker.ids
    section = bench_section(page)
    assert "<p>Pass rate <strong>71.0%</strong>" in section
    assert "68.0%" in section and "74.0%" in section and "1,200 tests" in section
    assert "arxiv_math" in section and "66.7%" in section and "<th>category</th>" in section
    assert "output" not in section  # one output: no label anywhere
    assert f"<h3>Failures (first {MAX_FAILURES} of 60)</h3>" in section
    assert "missing &lt;b&gt;49&lt;/b&gt;" in section and "missing &lt;b&gt;50" not in section


def test_bench_failure_count_is_the_total_not_the_kept() -> None:
    bench = bench_result(0.5, {}, failures=[failure(i) for i in range(60)], failures_total=900)
    section = bench_section(render_report(summary(bench={"A": bench}), [], {}))
    assert f"first {MAX_FAILURES} of 900" in section
    passing = bench_result(1.0, {}, failures_total=0)
    section = bench_section(render_report(summary(bench={"A": passing}), [], {}))
    assert "<h3>Failures (all)</h3>" in section and "None." in section
    assert "bench" not in check(render_report(summary(bench={}), [], {})).ids


def test_bench_report_of_two_outputs() -> None:
    a = bench_result(
        0.71, {"arxiv_math": (100, 150), "tables": (30, 40)},
        failures=[failure(i, f"a-miss {i}") for i in range(3)], failures_total=3,
    )  # fmt: skip
    b = bench_result(
        0.64, {"arxiv_math": (90, 150), "old_scans": (5, 20)},
        failures=[failure(i, f"{EVIL} {i}", pdf=EVIL) for i in range(70)], failures_total=70,
    )  # fmt: skip
    page = render_report(summary(("A", "B"), bench={"A": a, "B": b}), [], {})
    check(page)
    section = bench_section(page)
    assert "<strong>A</strong>: pass rate <strong>71.0%</strong>" in section
    assert "<strong>B</strong>: pass rate <strong>64.0%</strong>" in section
    assert section.count("<table>") == 3  # one categories table, then each output's failures
    categories = re.search(r"<table>.*?</table>", section).group(0)
    assert "<th class=n>A pass rate</th>" in categories
    assert "<th class=n>B pass rate</th>" in categories
    rows = dict(re.findall(r"<tr><td>(\w+)</td>(.*?)</tr>", categories))
    assert list(rows) == ["arxiv_math", "old_scans", "tables"]
    assert "66.7%" in rows["arxiv_math"] and "60.0%" in rows["arxiv_math"]
    assert rows["tables"].count("—") == 3 and "75.0%" in rows["tables"]  # B has no tables
    assert rows["old_scans"].count("—") == 3 and "25.0%" in rows["old_scans"]
    a_part, b_part = section.split("<h3>Failures of B")
    assert "<h3>Failures of A (all)</h3>" in a_part and "a-miss 2" in a_part
    assert EVIL not in section and "&lt;script&gt;" not in a_part
    assert f" (first {MAX_FAILURES} of 70)</h3>" in b_part and "a-miss" not in b_part
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; 49" in b_part
    assert "&lt;script&gt; 50" not in b_part
    assert b_part.count("<td>&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;</td>") == 50


def test_histogram_counts_known_values() -> None:
    values = [0.0, 0.04, 0.05, 0.5, 0.99, 1.0, 1.0001, 3.0, None, math.nan, math.inf]
    counts = histogram_counts(values, bins=20)
    assert len(counts) == 21
    assert counts[0] == 2 and counts[1] == 1 and counts[10] == 1 and counts[19] == 2
    assert counts[20] == 3  # above 1, infinity included
    assert sum(counts) == 9
    assert histogram_counts([], bins=4) == [0, 0, 0, 0, 0]


def test_histogram_svg_draws_one_bar_per_non_empty_bin() -> None:
    svg = histogram_svg({"A": [0.01, 0.02, 0.5, 2.0], "B": [0.01]})
    assert svg.count("<rect x") - 2 == 4  # less the two legend swatches: A 3 bins, B 1
    assert "A: CER 0–0.05: 2 pages (50.0%)" in svg
    assert "A: CER &gt; 1: 1 pages" in svg
    assert "A (n=4)" in svg and "B (n=1)" in svg


def test_axis_helpers_give_round_numbers() -> None:
    assert nice_ceiling(0.031) == pytest.approx(0.05)
    assert nice_ceiling(0.17) == pytest.approx(0.2)
    assert nice_ceiling(0.21) == pytest.approx(0.25)
    assert nice_ceiling(1.0) == 1.0 and nice_ceiling(0.0) == 1.0
    assert axis_ticks(0.05) == pytest.approx([0, 0.01, 0.02, 0.03, 0.04, 0.05])
    assert axis_ticks(0.2) == pytest.approx([0, 0.05, 0.1, 0.15, 0.2])


def test_scatter_is_capped_deterministic_and_clipped() -> None:
    pairs = [(i / 12_345 * 2, (i * 7 % 101) / 100) for i in range(12_345)] + [(None, 0.5)]
    points = scatter_points(pairs, cap=5000)
    assert len(points) == 5000
    assert points == scatter_points(pairs, cap=5000)
    assert all(0 <= a <= 1 and 0 <= b <= 1 for a, b in points)
    assert points[0] == (0.0, 0.0) and max(a for a, _ in points) == 1.0
    assert scatter_points([(0.1, None), (0.2, 0.3)]) == [(0.2, 0.3)]
    svg = scatter_svg(points, "A", "B")
    assert 0 < svg.count("h0") <= 5000  # one dot per occupied pixel
    assert "CER A" in svg and "CER B" in svg and "stroke-dasharray" in svg


def test_scatter_zooms_to_the_cers_drawn() -> None:
    # Good outputs: every page under 4% CER. On a 0-1 axis they were one dot in the corner.
    points = [(i / 500, i / 1000) for i in range(20)]
    svg = scatter_svg(points, "A", "B")
    assert svg.count("h0") == 20 and ">4%<" in svg and ">100%<" not in svg
    assert scatter_svg([(0.0, 0.0)], "A", "B").count("h0") == 1  # nothing to zoom into: 0-100%


def test_size_is_bounded_by_aggregation() -> None:
    large = {label: [(i * 7919 % 100_000) / 80_000 for i in range(100_000)] for label in "AB"}
    small = {label: values[:1000] for label, values in large.items()}
    pairs = [
        {"source_uri": f"/d/{i}.pdf", "page_number": 1, "cer_a": large["A"][i],
         "cer_b": large["B"][(i * 31) % 100_000]}
        for i in range(100_000)
    ]  # fmt: skip
    worst = [worst_page(i, "word " * 800, "ward " * 800) for i in range(20)]
    report = summary(("A", "B"))
    page = render_report(report, worst, large, compare_pages=pairs)
    check(page)
    assert len(page.encode()) < 300_000
    histogram = re.compile(r'<section id="distributions">.*?</section>')
    grown = len(histogram.search(render_report(report, [], large)).group(0))
    assert grown - len(histogram.search(render_report(report, [], small)).group(0)) < 300
