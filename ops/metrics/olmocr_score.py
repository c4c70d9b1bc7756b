"""olmOCR-bench scores: repeats, per-category pass rates, the overall score and its bootstrap CI.

Semantics: allenai/olmocr ``olmocr/bench/benchmark.py`` (``evaluate_candidate``, ``main``) and
``olmocr/bench/utils.py`` (``calculate_bootstrap_ci``):

* a test passes when *more than half* of its repeats pass; a test with no output fails;
* a category is one JSONL file, plus the ``baseline`` category the benchmark adds (one baseline
  test on page 1 of every PDF that has none);
* overall = the unweighted mean of the category pass rates (so a small category weighs as much
  as a large one), not the pass rate over all tests;
* the confidence interval is a percentile bootstrap of that mean: tests are resampled with
  replacement *within* each category, then category means are averaged (n = 1000, 95 %).

Upstream draws from numpy's unseeded global generator, so its interval moves from run to run;
here the generator is seeded and the interval is reproducible.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ops.metrics.olmocr_load import PageKey, test_key
from ops.metrics.olmocr_tests import BaselineTest, BenchTest, TestOutcome, run_test

BASELINE_CATEGORY = "baseline"


@dataclass(frozen=True)
class TestResult:
    """One test over all its repeats."""

    __test__ = False  # a result type, not a pytest class

    test_id: str
    test_type: str
    passed: bool
    repeats_passed: int
    repeats: int
    explanation: str = ""  # the first failing repeat's; empty when every repeat passed

    @property
    def repeat_pass_rate(self) -> float:
        return self.repeats_passed / self.repeats if self.repeats else 0.0


@dataclass(frozen=True)
class CategoryScore:
    passed: int
    total: int

    @property
    def pass_rate(self) -> float:
        return self.passed / self.total if self.total else 0.0


@dataclass(frozen=True)
class BenchScore:
    overall: float  # mean of the category pass rates
    ci_low: float
    ci_high: float
    categories: Mapping[str, CategoryScore]
    # Mean fraction of passing repeats per test type (upstream's "test type breakdown").
    type_rates: Mapping[str, float]
    n_bootstrap: int
    ci_level: float
    seed: int

    @property
    def n_tests(self) -> int:
        return sum(c.total for c in self.categories.values())


def combine_repeats(test: BenchTest, outcomes: Sequence[TestOutcome]) -> TestResult:
    """Majority vote over repeats: strictly more than half must pass (2 of 4 is a failure)."""
    repeats_passed = sum(o.passed for o in outcomes)
    return TestResult(
        test_id=test.id,
        test_type=test.type,
        passed=bool(outcomes) and repeats_passed / len(outcomes) > 0.5,
        repeats_passed=repeats_passed,
        repeats=len(outcomes),
        explanation=next((o.explanation for o in outcomes if not o.passed), ""),
    )


def run_repeats(test: BenchTest, texts: Sequence[str | None]) -> TestResult:
    """Run ``test`` on every repeat of its page; no repeat at all is one missing page."""
    return combine_repeats(test, [run_test(test, text) for text in texts or (None,)])


def with_default_baselines(
    tests_by_category: Mapping[str, Sequence[BenchTest]],
) -> dict[str, list[BenchTest]]:
    """Add the benchmark's implicit baseline test (page 1) for every PDF without one.

    Upstream adds them for every PDF under ``pdfs/``; here for every PDF some test names. On the
    published bench the two sets are the same: upstream refuses to run while a PDF page has no
    test.
    """
    all_tests = [t for tests in tests_by_category.values() for t in tests]
    covered = {t.pdf for t in all_tests if t.type == "baseline"}
    added = [
        BaselineTest(id=f"{pdf}_baseline", pdf=pdf, page=1, type="baseline")
        for pdf in sorted({t.pdf for t in all_tests} - covered)
    ]
    result = {name: list(tests) for name, tests in tests_by_category.items()}
    if added:
        result[BASELINE_CATEGORY] = [*result.get(BASELINE_CATEGORY, []), *added]
    return result


def evaluate(
    tests_by_category: Mapping[str, Sequence[BenchTest]],
    pages: Mapping[PageKey, Sequence[str | None]],
    *,
    n_bootstrap: int = 1000,
    ci_level: float = 0.95,
    seed: int = 0,
) -> tuple[BenchScore, dict[str, list[TestResult]]]:
    """Run every test on its page's repeats (``pages`` from ``olmocr_load.collect_pages``)."""
    results = {
        name: [run_repeats(test, pages.get(test_key(test), ())) for test in tests]
        for name, tests in tests_by_category.items()
    }
    return score(results, n_bootstrap=n_bootstrap, ci_level=ci_level, seed=seed), results


def score(
    results: Mapping[str, Sequence[TestResult]],
    *,
    n_bootstrap: int = 1000,
    ci_level: float = 0.95,
    seed: int = 0,
) -> BenchScore:
    """Category pass rates, their unweighted mean, and its bootstrap interval.

    A category without tests is left out of the mean, as upstream does.
    """
    categories = {
        name: CategoryScore(passed=sum(r.passed for r in rs), total=len(rs))
        for name, rs in results.items()
    }
    rates = [c.pass_rate for c in categories.values() if c.total]
    by_type: dict[str, list[float]] = {}
    for rs in results.values():
        for r in rs:
            by_type.setdefault(r.test_type, []).append(r.repeat_pass_rate)
    low, high = bootstrap_ci(
        [[float(r.passed) for r in rs] for rs in results.values()],
        n_bootstrap=n_bootstrap,
        ci_level=ci_level,
        seed=seed,
    )
    return BenchScore(
        overall=sum(rates) / len(rates) if rates else 0.0,
        ci_low=low,
        ci_high=high,
        categories=categories,
        type_rates={t: sum(v) / len(v) for t, v in sorted(by_type.items())},
        n_bootstrap=n_bootstrap,
        ci_level=ci_level,
        seed=seed,
    )


def bootstrap_ci(
    groups: Sequence[Sequence[float]],
    *,
    n_bootstrap: int = 1000,
    ci_level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile interval of the mean of group means, resampling within each group.

    ``(0.0, 0.0)`` when there is nothing to resample, as upstream.
    """
    if n_bootstrap < 1:
        raise ValueError(f"n_bootstrap must be >= 1, got {n_bootstrap}")
    if not 0.0 < ci_level < 1.0:
        raise ValueError(f"ci_level must lie strictly between 0 and 1, got {ci_level}")
    arrays = [np.asarray(g, dtype=np.float64) for g in groups if len(g)]
    if not arrays:
        return (0.0, 0.0)
    rng = np.random.default_rng(seed)
    means = np.zeros(n_bootstrap)
    for scores in arrays:
        picks = rng.integers(0, len(scores), size=(n_bootstrap, len(scores)))
        means += scores[picks].mean(axis=1)
    means /= len(arrays)
    alpha = (1.0 - ci_level) / 2.0
    low, high = np.percentile(means, [alpha * 100.0, (1.0 - alpha) * 100.0])
    return (float(low), float(high))
