"""olmOCR-bench test files, matching pagemill rows to test pages, and scoring (semantics of
allenai/olmocr olmocr/bench/tests.py, benchmark.py and utils.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ops.metrics import olmocr_load as load
from ops.metrics import olmocr_score as scoring
from ops.metrics.olmocr_tests import (
    PAGE_MISSING,
    BaselineTest,
    BenchTest,
    BenchTestError,
    MathTest,
    OrderTest,
    PresenceTest,
    TableTest,
    TestOutcome,
)


def line(**fields: Any) -> str:
    base = {"pdf": "arxiv_math/2503_00001.pdf", "page": 1, "id": "t", "type": "present"}
    return json.dumps({**base, **fields})


VALID_LINES = [
    line(id="p1", text="Theorem 1", max_diffs=1),
    line(id="a1", type="absent", text="arXiv:2503.00001", last_n=100),
    line(id="o1", type="order", before="Introduction", after="Conclusion", page=2),
    line(id="t1", type="table", cell="0.91", top_heading="F1", checked="verified"),
    line(id="b1", type="baseline", max_length=10),
    line(id="m1", type="math", math="\\int_0^1 x\\,dx", url="https://example.org"),
]


# --- loading ------------------------------------------------------------------------------------


def test_load_tests_builds_typed_tests() -> None:
    tests = load.load_tests(VALID_LINES)
    assert [type(t) for t in tests] == [
        PresenceTest,
        PresenceTest,
        OrderTest,
        TableTest,
        BaselineTest,
        MathTest,
    ]
    order = tests[2]
    assert isinstance(order, OrderTest)
    assert (order.pdf, order.page, order.before, order.max_diffs) == (
        "arxiv_math/2503_00001.pdf",
        2,
        "Introduction",
        0,
    )
    assert load.test_key(order) == ("arxiv_math/2503_00001.pdf", 2)


def test_load_tests_from_a_file_skips_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "arxiv_math.jsonl"
    path.write_text("\n".join([VALID_LINES[0], "", VALID_LINES[1]]) + "\n", encoding="utf-8")
    assert [t.id for t in load.load_tests(path)] == ["p1", "a1"]
    assert [t.id for t in load.load_tests(str(path))] == ["p1", "a1"]


def test_malformed_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "old_scans.jsonl"
    path.write_text(VALID_LINES[0] + "\n" + '{"pdf": "x.pdf", "page": 1,\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"old_scans\.jsonl, line 2: not valid JSON"):
        load.load_tests(path)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (line(type="sparkle"), "Unknown test type: 'sparkle'"),
        (line(type="format", text="x", format="bold"), "'format' is not supported"),
        (line(text="x", frist_n=3), r"unknown field\(s\) for a present test: \['frist_n'\]"),
        (line(), r"missing field\(s\) for a present test: \['text'\]"),
        (line(text="x", page="1"), "field 'page' must be int"),
        (line(text="x", max_diffs=True), "field 'max_diffs' must be int"),
        (line(text="x", page=0), "page must be >= 1"),
        (line(text="x", max_diffs=-1), "Max diffs must be positive"),
        (line(text="x", pdf=""), "PDF filename cannot be empty"),
        (line(text="x", first_n="3"), "field 'first_n' must be int or null"),
        (json.dumps([1, 2]), "must be a JSON object"),
    ],
)
def test_invalid_tests_are_rejected(bad: str, message: str) -> None:
    with pytest.raises(BenchTestError, match=message):
        load.load_tests([VALID_LINES[0], bad])


def test_duplicate_ids_are_rejected() -> None:
    with pytest.raises(BenchTestError, match="line 2: Test with duplicate id p1"):
        load.load_tests([VALID_LINES[0], VALID_LINES[0]])


def test_bad_lines_can_be_collected_instead() -> None:
    skipped: list[BenchTestError] = []
    tests = load.load_tests(
        [VALID_LINES[0], "{oops", line(type="sparkle"), VALID_LINES[1]], skipped=skipped
    )
    assert [t.id for t in tests] == ["p1", "a1"]
    assert [str(e).split(":")[0] for e in skipped] == ["<lines>, line 2", "<lines>, line 3"]


def test_load_bench_makes_one_category_per_file(tmp_path: Path) -> None:
    (tmp_path / "arxiv_math.jsonl").write_text(VALID_LINES[0] + "\n", encoding="utf-8")
    (tmp_path / "tables.jsonl").write_text(VALID_LINES[3] + "\n", encoding="utf-8")
    bench = load.load_bench(tmp_path.glob("*.jsonl"))
    assert {name: [t.id for t in tests] for name, tests in bench.items()} == {
        "arxiv_math": ["p1"],
        "tables": ["t1"],
    }
    (tmp_path / "more.jsonl").write_text(VALID_LINES[0] + "\n", encoding="utf-8")
    with pytest.raises(BenchTestError, match="test id 'p1' also in"):
        load.load_bench(tmp_path.glob("*.jsonl"))


# --- matching pagemill rows ---------------------------------------------------------------------

BENCH_PDFS = ["arxiv_math/2503_00001.pdf", "tables/doc.pdf", "old_scans/doc.pdf", "x.pdf"]


@pytest.mark.parametrize(
    ("source_uri", "expected"),
    [
        ("/data/bench/pdfs/arxiv_math/2503_00001.pdf", "arxiv_math/2503_00001.pdf"),
        ("s3://bucket/olmocr/pdfs/arxiv_math/2503_00001.pdf", "arxiv_math/2503_00001.pdf"),
        ("file:///tmp/flat%20copy/2503_00001.pdf", "arxiv_math/2503_00001.pdf"),  # unique name
        ("C:\\bench\\pdfs\\tables\\doc.pdf", "tables/doc.pdf"),
        ("/elsewhere/doc.pdf", None),  # two bench PDFs are called doc.pdf
        ("/bench/pdfs/old_scans/doc.pdf", "old_scans/doc.pdf"),
        ("/any/where/x.pdf", "x.pdf"),
        ("/bench/pdfs/arxiv_math/other.pdf", None),
    ],
)
def test_pdf_matcher(source_uri: str, expected: str | None) -> None:
    assert load.PdfMatcher(BENCH_PDFS).resolve(source_uri) == expected


def test_collect_pages_gathers_repeats() -> None:
    uri = "/b/pdfs/arxiv_math/2503_00001.pdf"
    rows: list[dict[str, Any]] = [
        {"source_uri": uri, "page_number": 1, "text": "run one"},
        {"source_uri": uri, "page_number": 1, "text": None, "status": "error"},
        {"source_uri": uri, "page_number": 2, "text": "page two"},
        {"source_uri": "/b/pdfs/not_in_bench.pdf", "page_number": 1, "text": "ignored"},
        {"source_uri": uri, "page_number": None, "text": None},  # a document-level error row
    ]
    assert load.collect_pages(rows, load.PdfMatcher(BENCH_PDFS)) == {
        ("arxiv_math/2503_00001.pdf", 1): ["run one", None],
        ("arxiv_math/2503_00001.pdf", 2): ["page two"],
    }


# --- repeats and scores -------------------------------------------------------------------------

PASS, FAIL = TestOutcome(True), TestOutcome(False, "nope")


def a_test(test_id: str = "t", pdf: str = "a/doc.pdf") -> BenchTest:
    return PresenceTest(id=test_id, pdf=pdf, page=1, type="present", text="hello")


@pytest.mark.parametrize(
    ("outcomes", "passed"),
    [
        ([PASS], True),
        ([FAIL], False),
        ([PASS, PASS, FAIL], True),
        ([PASS, FAIL, FAIL], False),
        ([PASS, PASS, FAIL, FAIL], False),  # exactly half is not a majority
        ([], False),
    ],
)
def test_majority_of_repeats(outcomes: list[TestOutcome], passed: bool) -> None:
    result = scoring.combine_repeats(a_test(), outcomes)
    assert result.passed is passed
    assert result.repeats == len(outcomes)
    assert result.explanation == ("nope" if FAIL in outcomes else "")


def test_run_repeats_on_a_missing_page() -> None:
    result = scoring.run_repeats(a_test(), [])
    assert (result.passed, result.repeats, result.explanation) == (False, 1, PAGE_MISSING)
    assert scoring.run_repeats(a_test(), ["hello world", "hello", "bye"]).passed


def results(passed: list[bool], test_type: str = "present") -> list[scoring.TestResult]:
    return [scoring.TestResult(f"t{i}", test_type, ok, int(ok), 1) for i, ok in enumerate(passed)]


def test_overall_is_the_mean_of_category_pass_rates() -> None:
    score = scoring.score(
        {"small": results([True, False]), "large": results([True] * 4, "table"), "empty": []}
    )
    assert score.categories["small"] == scoring.CategoryScore(passed=1, total=2)
    assert score.categories["large"].pass_rate == 1.0
    assert score.overall == pytest.approx(0.75)  # not 5/6 over all tests
    assert score.n_tests == 6
    assert score.type_rates == {"present": 0.5, "table": 1.0}


def test_bootstrap_ci_is_deterministic_and_contains_the_estimate() -> None:
    data = {
        "a": results([True] * 30 + [False] * 10),
        "b": results([True] * 5 + [False] * 15),
        "c": results([True, False, True]),
    }
    first, again = scoring.score(data, seed=3), scoring.score(data, seed=3)
    assert (first.ci_low, first.ci_high) == (again.ci_low, again.ci_high)
    assert first.ci_low < first.overall < first.ci_high
    assert first.ci_low >= 0.0 and first.ci_high <= 1.0
    narrower = scoring.score(data, ci_level=0.5, seed=3)
    assert first.ci_low <= narrower.ci_low <= narrower.ci_high <= first.ci_high


def test_bootstrap_ci_edge_cases() -> None:
    assert scoring.bootstrap_ci([]) == (0.0, 0.0)
    assert scoring.bootstrap_ci([[1.0, 1.0], [1.0]]) == (1.0, 1.0)
    with pytest.raises(ValueError, match="ci_level"):
        scoring.bootstrap_ci([[1.0]], ci_level=1.0)


def test_default_baselines_are_added_per_pdf() -> None:
    existing = BaselineTest(id="own", pdf="b/two.pdf", page=1, type="baseline")
    bench = {"cat": [a_test("t1", "a/one.pdf"), a_test("t2", "a/one.pdf"), existing]}
    extended = scoring.with_default_baselines(bench)
    assert [t.id for t in extended["cat"]] == ["t1", "t2", "own"]
    [added] = extended["baseline"]
    assert (added.id, added.pdf, added.page, type(added)) == (
        "a/one.pdf_baseline",
        "a/one.pdf",
        1,
        BaselineTest,
    )


def test_evaluate_end_to_end() -> None:
    bench = scoring.with_default_baselines(
        {
            "arxiv_math": load.load_tests(
                [
                    line(id="p1", text="Theorem 1"),
                    line(id="m1", type="math", math="x^2"),
                    line(id="p2", text="Lemma 2", page=2),
                ]
            )
        }
    )
    rows = [
        {"source_uri": "/in/arxiv_math/2503_00001.pdf", "page_number": 1, "text": text}
        for text in ("Theorem 1 holds: $x^2$.", "Theorem 1 holds.", "Theorem 1 holds: $x^2$.")
    ]
    pages = load.collect_pages(rows, load.PdfMatcher(t.pdf for ts in bench.values() for t in ts))
    score, per_test = scoring.evaluate(bench, pages)
    by_id = {r.test_id: r for rs in per_test.values() for r in rs}
    assert (by_id["p1"].repeats_passed, by_id["p1"].passed) == (3, True)
    assert (by_id["m1"].repeats_passed, by_id["m1"].passed) == (2, True)
    assert by_id["p2"].explanation == PAGE_MISSING  # page 2 was never produced
    assert by_id["arxiv_math/2503_00001.pdf_baseline"].passed
    assert score.categories == {
        "arxiv_math": scoring.CategoryScore(passed=2, total=3),
        "baseline": scoring.CategoryScore(passed=1, total=1),
    }
    assert score.overall == pytest.approx((2 / 3 + 1.0) / 2)
