"""olmOCR-bench unit tests as a truth source: the tests run on pagemill's own page text.

A bench is a JSONL file of tests or a folder of them (one category per file, as the bench ships:
``arxiv_math.jsonl``, ``headers_footers.jsonl``, ...). Scoring tasks run every test whose page
they hold and return the outcomes; the driver adds a "page missing from output" failure for
tests no row reached, then scores categories exactly as olmOCR-bench does
(:mod:`ops.metrics.olmocr_score`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ops.metrics.olmocr_load import PageKey, PdfMatcher, load_bench, test_key
from ops.metrics.olmocr_score import combine_repeats, score, with_default_baselines
from ops.metrics.olmocr_tests import PAGE_MISSING, TEST_TYPES, BenchTest, TestOutcome, run_test

FAILURES_KEPT = 50


@dataclass
class BenchTruth:
    description: str
    categories: dict[str, list[BenchTest]]
    by_page: dict[PageKey, list[BenchTest]] = field(default_factory=dict)
    matcher: PdfMatcher | None = None
    # source_uri -> bench pdf, settled against the whole bench (a subset's own matcher could
    # resolve an ambiguous name differently: it sees fewer candidates)
    resolved: dict[str, str | None] | None = None

    def __post_init__(self) -> None:
        if self.resolved is not None:
            return
        for tests in self.categories.values():
            for test in tests:
                self.by_page.setdefault(test_key(test), []).append(test)
        self.matcher = PdfMatcher(pdf for pdf, _ in self.by_page)

    def subset(self, source_uris: Iterable[str]) -> BenchTruth:
        """The tests of these sources' pages only: what one scoring task needs. Categories stay
        with the driver, which scores them."""
        resolved = {uri: self._resolve(uri) for uri in source_uris}
        pdfs = {pdf for pdf in resolved.values() if pdf is not None}
        by_page = {key: tests for key, tests in self.by_page.items() if key[0] in pdfs}
        return BenchTruth(self.description, {}, by_page, resolved=resolved)

    def _resolve(self, source_uri: str) -> str | None:
        if self.resolved is not None:
            return self.resolved.get(source_uri)
        return self.matcher.resolve(source_uri) if self.matcher and source_uri else None

    def __len__(self) -> int:
        return sum(len(tests) for tests in self.categories.values())

    def run(self, source_uri: str, page: int | None, text: str | None) -> list[tuple[str, Any]]:
        """``(test id, outcome)`` for every test of this page (none if the page has none)."""
        pdf = self._resolve(source_uri)
        if pdf is None or page is None:
            return []
        return [(test.id, run_test(test, text)) for test in self.by_page.get((pdf, page), [])]


def is_bench(path: Path) -> bool:
    """A JSONL file whose first test looks like olmOCR-bench's, or a folder of them."""
    files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
    if not files or (path.is_dir() and any(path.rglob("*.txt"))):
        return False
    try:
        with files[0].open(encoding="utf-8") as lines:
            first = json.loads(next(line for line in lines if line.strip()))
    except (OSError, StopIteration, ValueError):
        return False
    return (
        isinstance(first, dict)
        and {"pdf", "page", "id"} <= first.keys()
        and (first.get("type") in TEST_TYPES)
    )


def load_bench_truth(path: str | Path) -> BenchTruth:
    path = Path(path)
    files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
    if not files:
        raise ValueError(f"no olmOCR-bench test files (*.jsonl) in {path}")
    categories = with_default_baselines(load_bench(files))
    return BenchTruth(f"olmOCR-bench tests in {path}", categories)


def bench_summary(
    truth: BenchTruth,
    outcomes: Mapping[str, Sequence[TestOutcome]],
    sample: float | None = None,
) -> dict[str, Any]:
    """Per-category pass rates, overall (mean of categories) and its bootstrap interval; a
    test that no output row reached fails as a missing page. Under ``--sample`` only the tests
    of sampled pages count (the others were never run, not failed)."""
    from ops.evaluation.scoring import in_sample

    def drawn(test: BenchTest) -> bool:
        page = {"source_uri": test.pdf, "page_number": test.page}
        return sample is None or in_sample(page, sample)

    results = {
        category: [
            combine_repeats(test, outcomes.get(test.id) or [TestOutcome(False, PAGE_MISSING)])
            for test in tests
            if drawn(test)
        ]
        for category, tests in truth.categories.items()
    }
    scored = score(results)
    tests = {test.id: test for tests in truth.categories.values() for test in tests}
    failures = [
        {
            "id": result.test_id,
            "type": result.test_type,
            "category": category,
            "pdf": tests[result.test_id].pdf,
            "page": tests[result.test_id].page,
            "explanation": result.explanation,
        }
        for category, category_results in sorted(results.items())
        for result in category_results
        if not result.passed
    ]
    return {
        "overall": scored.overall,
        "ci_low": scored.ci_low,
        "ci_high": scored.ci_high,
        "ci_level": scored.ci_level,
        "tests": scored.n_tests,
        "categories": [
            {"name": name, "passed": c.passed, "total": c.total, "rate": c.pass_rate}
            for name, c in sorted(scored.categories.items())
        ],
        "type_rates": dict(scored.type_rates),
        "missing_pages": sum(1 for f in failures if f["explanation"] == PAGE_MISSING),
        "failures": failures[:FAILURES_KEPT],
        "failures_total": len(failures),
        "math": "exact match of the delimited formula only (no KaTeX rendering): a lower bound",
    }
