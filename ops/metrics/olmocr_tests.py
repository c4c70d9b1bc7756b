"""olmOCR-bench unit tests as typed objects, and the check each one runs on one page's text.

Semantics: allenai/olmocr ``olmocr/bench/tests.py`` (``TextPresenceTest``, ``TextOrderTest``,
``TableTest``, ``BaselineTest``, ``MathTest``) and ``olmocr/repeatdetect.py``, as on the main
branch: tables parsed as cell graphs (``table_parsing.py``), the presence test's length guard,
emphasis stripped before whitespace is collapsed. (The PyPI release olmocr 0.4.27 still ships the
older array-based table parser, no length guard and the other normalisation order; where the two
disagree this module follows main.) Each check takes the raw page text (pagemill's ``text``
column, standing in for upstream's ``.md`` file) and returns a :class:`TestOutcome`; thresholds,
normalisation and explanations follow upstream so that scores are comparable with olmOCR-bench
numbers. Deliberate differences:

* ``math`` tests pass only on an *exact* match of a delimited formula; upstream falls back to
  rendering both sides with KaTeX in a headless browser and comparing the renderings, which
  pagemill does not do. Scores on ``math`` tests are therefore a lower bound of upstream's.
* ``format`` and ``footnote`` tests (newer upstream types) are not implemented; loading one is an
  error naming the type, so the caller can skip or report it.
* Constructing a test validates a little more than upstream (``page`` >= 1, field types), so a
  malformed line fails at load time instead of scoring as a failure.

Text fields keep what the JSONL says; the checks normalise them (upstream normalises once at load,
which gives the same comparisons).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar

from rapidfuzz import fuzz

from ops.metrics.olmocr_fuzzy import find_near_matches
from ops.metrics.olmocr_normalize import normalize_text
from ops.metrics.olmocr_tables import CellId, TableData, TableParseError, parse_tables

PAGE_MISSING = "page missing from output"


class BenchTestError(ValueError):
    """A test definition olmOCR-bench itself would reject (or pagemill cannot run)."""


@dataclass(frozen=True)
class TestOutcome:
    __test__ = False  # a result type, not a pytest class

    passed: bool
    explanation: str = ""


@dataclass(frozen=True, kw_only=True)
class BenchTest(ABC):
    """Fields shared by every test type. ``page`` is 1-based; ``pdf`` is the bench-relative path
    as written in the JSONL (e.g. ``arxiv_math/2503_xxx.pdf``)."""

    types: ClassVar[tuple[str, ...]] = ()

    id: str
    pdf: str
    page: int
    type: str
    max_diffs: int = 0
    checked: str | None = None  # "verified" | "rejected": curation metadata, unused in scoring
    url: str | None = None

    def __post_init__(self) -> None:
        if not self.pdf:
            raise BenchTestError("PDF filename cannot be empty")
        if not self.id:
            raise BenchTestError("Test ID cannot be empty")
        if self.page < 1:
            raise BenchTestError(f"page must be >= 1 (1-based), got {self.page}")
        if self.max_diffs < 0:
            raise BenchTestError("Max diffs must be positive number or 0")
        if self.type not in self.types:
            raise BenchTestError(f"Invalid type for {type(self).__name__}: {self.type}")

    @abstractmethod
    def check(self, text: str) -> TestOutcome:
        """Run the test on a page's text (each test type says how)."""


@dataclass(frozen=True, kw_only=True)
class PresenceTest(BenchTest):
    """``present``: ``text`` appears (fuzzily) on the page; ``absent``: it does not.

    Fuzzy means ``partial_ratio(text, page) / 100 >= 1 - max_diffs / len(text)``, over the
    normalised texts, optionally lower-cased and restricted to the first ``first_n`` and/or last
    ``last_n`` characters of the normalised page.
    """

    types: ClassVar[tuple[str, ...]] = ("present", "absent")

    text: str
    case_sensitive: bool = True
    first_n: int | None = None
    last_n: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if not normalize_text(self.text).strip():
            raise BenchTestError("Text field cannot be empty")

    def check(self, text: str) -> TestOutcome:
        query, page = normalize_text(self.text), _normalized_page(text)
        if not self.case_sensitive:
            query, page = query.lower(), page.lower()
        if self.first_n and self.last_n:
            page = page[: self.first_n] + page[-self.last_n :]
        elif self.first_n:
            page = page[: self.first_n]
        elif self.last_n:
            page = page[-self.last_n :]

        # partial_ratio scales by the shorter string, so a near-empty page "contains" any query
        # that shares one character with it; upstream guards against that by length first.
        min_required = len(query) - self.max_diffs
        if len(page) < min_required:
            if self.type == "absent":
                return TestOutcome(True)
            return TestOutcome(
                False,
                f"Candidate too short ({len(page)} chars) to plausibly contain "
                f"'{query[:40]}...' (need >= {min_required} chars)",
            )

        threshold = 1.0 - (self.max_diffs / (len(query) or 1))
        best = fuzz.partial_ratio(query, page) / 100.0
        if self.type == "present":
            if best >= threshold:
                return TestOutcome(True)
            expected = f"Expected '{query[:40]}...'"
        else:
            if best < threshold:
                return TestOutcome(True)
            expected = f"Expected absence of '{query[:40]}...'"
        return TestOutcome(
            False, f"{expected} with threshold {threshold} but best match ratio was {best:.3f}"
        )


@dataclass(frozen=True, kw_only=True)
class OrderTest(BenchTest):
    """``before`` appears ahead of ``after``: some approximate match of ``before`` (at most
    ``max_diffs`` edits) starts before some approximate match of ``after``."""

    types: ClassVar[tuple[str, ...]] = ("order",)

    before: str
    after: str

    def __post_init__(self) -> None:
        super().__post_init__()
        before, after = normalize_text(self.before), normalize_text(self.after)
        if not before.strip():
            raise BenchTestError("Before field cannot be empty")
        if not after.strip():
            raise BenchTestError("After field cannot be empty")
        if self.max_diffs > len(before) // 2 or self.max_diffs > len(after) // 2:
            raise BenchTestError(
                "Max diffs is too large for this test, greater than 50% of the search string"
            )

    def check(self, text: str) -> TestOutcome:
        page = _normalized_page(text)
        before, after = normalize_text(self.before), normalize_text(self.after)
        before_matches = find_near_matches(before, page, self.max_diffs)
        if not before_matches:
            return TestOutcome(
                False,
                f"'before' text '{before[:40]}...' not found with max_l_dist {self.max_diffs}",
            )
        after_matches = find_near_matches(after, page, self.max_diffs)
        if not after_matches:
            return TestOutcome(
                False, f"'after' text '{after[:40]}...' not found with max_l_dist {self.max_diffs}"
            )
        if min(m.start for m in before_matches) < max(m.start for m in after_matches):
            return TestOutcome(True)
        return TestOutcome(
            False,
            f"Could not find a location where '{before[:40]}...' appears before '{after[:40]}...'.",
        )


@dataclass(frozen=True, kw_only=True)
class TableTest(BenchTest):
    """Some table cell matches ``cell`` and every given neighbour matches too.

    Matching is ``fuzz.ratio / 100 >= max(0.5, 1 - max_diffs / len(expected))`` on normalised
    text. Tables come from markdown pipe tables (unless ``ignore_markdown_tables``) and HTML.
    """

    types: ClassVar[tuple[str, ...]] = ("table",)

    cell: str
    up: str = ""
    down: str = ""
    left: str = ""
    right: str = ""
    top_heading: str = ""
    left_heading: str = ""
    ignore_markdown_tables: bool = False

    def check(self, text: str) -> TestOutcome:
        try:
            tables = parse_tables(text, markdown=not self.ignore_markdown_tables)
        except TableParseError as exc:
            return TestOutcome(False, f"Tables could not be parsed: {exc}")
        if not tables:
            return TestOutcome(False, "No tables found in the content")
        cell = normalize_text(self.cell)
        threshold = max(0.5, 1.0 - (self.max_diffs / (len(cell) or 1)))
        failures: list[str] = []
        for table in tables:
            for rowcol, content in table.cell_text.items():
                if fuzz.ratio(cell, normalize_text(content)) / 100.0 < threshold:
                    continue
                reasons = self._unmet_relations(table, rowcol)
                if not reasons:
                    return TestOutcome(True)
                failures.extend(reasons)
        if not failures:
            return TestOutcome(
                False, f"No cell matching '{cell}' found in any table with threshold {threshold}"
            )
        return TestOutcome(
            False,
            f"Found cells matching '{cell}' but relationships were not satisfied: "
            + "; ".join(failures),
        )

    def _unmet_relations(self, table: TableData, rowcol: CellId) -> list[str]:
        # Upstream's order; the heading walks only run when the test asks for a heading.
        relations: tuple[tuple[str, Callable[[], frozenset[CellId]]], ...] = (
            (self.up, lambda: table.up[rowcol]),
            (self.down, lambda: table.down[rowcol]),
            (self.left, lambda: table.left[rowcol]),
            (self.right, lambda: table.right[rowcol]),
            (self.left_heading, lambda: table.left_headings(rowcol)),
            (self.top_heading, lambda: table.top_headings(rowcol)),
        )
        reasons = []
        for raw_expected, related in relations:
            expected = normalize_text(raw_expected)
            if not expected:
                continue
            threshold = max(0.5, 1.0 - (self.max_diffs / len(expected)))
            best, best_text, satisfied = 0.0, None, False
            for other in related():
                other_text = normalize_text(table.cell_text[other])
                similarity = fuzz.ratio(expected, other_text) / 100.0
                if similarity > best:
                    best, best_text = similarity, other_text
                satisfied = satisfied or similarity >= threshold
            if not satisfied:
                reasons.append(
                    f"Cell compared to '{best_text}' doesn't match expected '{expected}' "
                    f"(best similarity: {best:.2f})"
                )
        return reasons


# CJK ideographs, hiragana, katakana and emoji: an English-language bench page holding them is
# almost always a model hallucination.
_DISALLOWED = re.compile(
    "[\u4e00-\u9fff\u3040-\u309f\u30a0-\u30ff"
    "\U0001f600-\U0001f64f\U0001f300-\U0001f5ff\U0001f680-\U0001f6ff\U0001f1e0-\U0001f1ff]"
)
_IMAGE_TAG = re.compile(r"!\[.*?\]\(.*?\)")
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True, kw_only=True)
class BaselineTest(BenchTest):
    """Output sanity. With ``max_length`` it is a blank-page test (at most that many
    alphanumeric characters) and nothing else is checked; otherwise the page must hold some
    alphanumeric character, must not end with a character n-gram (n <= 5) repeated more than
    ``max_repeats`` times back to back, and (unless disabled) must not contain CJK, kana or
    emoji. The benchmark adds one per PDF (page 1) to a ``baseline`` category; see
    :func:`ops.metrics.olmocr_score.with_default_baselines`."""

    types: ClassVar[tuple[str, ...]] = ("baseline",)

    max_length: int | None = None
    max_length_skips_image_alt_tags: bool = False
    max_repeats: int = 30
    check_disallowed_characters: bool = True

    def check(self, text: str) -> TestOutcome:
        if self.max_length is not None:
            counted = _IMAGE_TAG.sub("", text) if self.max_length_skips_image_alt_tags else text
            length = sum(c.isalnum() for c in counted)
            if length > self.max_length:
                return TestOutcome(
                    False, f"{length} characters were output for a page we expected to be blank"
                )
            return TestOutcome(True)
        if not any(c.isalnum() for c in text):
            return TestOutcome(False, "The text contains no alpha numeric characters")
        for size, count in enumerate(trailing_repeats(text, 5), start=1):
            if count > self.max_repeats:
                return TestOutcome(False, f"Text ends with {count} repeating {size}-grams, invalid")
        if self.check_disallowed_characters and (found := _DISALLOWED.findall(text)):
            return TestOutcome(False, f"Text contains disallowed characters {found}")
        return TestOutcome(True)


def trailing_repeats(text: str, max_size: int) -> list[int]:
    """For n = 1..max_size: how many copies of the text's last n characters end it back to back,
    whitespace runs counted as one space (upstream ``RepeatDetector.ngram_repeats``)."""
    text = _WHITESPACE.sub(" ", text)
    counts = []
    for size in range(1, max_size + 1):
        target, count, pos = text[-size:], 0, len(text) - size
        while pos >= 0 and text[pos : pos + size] == target:
            count += 1
            pos -= size
        counts.append(count)
    return counts


# Upstream's order: each kind is collected, then cut out, so "$$x$$" is never also read as "$x$".
_MATH_DELIMITERS = (
    re.compile(r"\\\((.+?)\\\)", re.DOTALL),  # \( ... \)
    re.compile(r"\\\[(.+?)\\\]", re.DOTALL),  # \[ ... \]
)
_DOLLAR_DELIMITERS = (
    re.compile(r"\$\$(.+?)\$\$", re.DOTALL),  # $$ ... $$
    re.compile(r"\$(.+?)\$", re.DOTALL),  # $ ... $
)


@dataclass(frozen=True, kw_only=True)
class MathTest(BenchTest):
    """``math`` (LaTeX, as written in the JSONL) equals one of the page's formulas, exactly.

    Formulas are the stripped contents of ``\\(...\\)``, ``\\[...\\]``, ``$$...$$`` and ``$...$``
    (the dollar forms unless ``ignore_dollar_delimited``). Stricter than upstream, which also
    accepts a formula whose KaTeX rendering matches the reference's.
    """

    types: ClassVar[tuple[str, ...]] = ("math",)

    math: str
    ignore_dollar_delimited: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.math.strip():
            raise BenchTestError("Math test must have non-empty math expression")

    def check(self, text: str) -> TestOutcome:
        if self.math in extract_formulas(text, dollars=not self.ignore_dollar_delimited):
            return TestOutcome(True)
        return TestOutcome(
            False, f"No exact match for {self.math} anywhere in content (KaTeX rendering not used)"
        )


def extract_formulas(text: str, *, dollars: bool = True) -> list[str]:
    """The stripped bodies of the delimited formulas in ``text``, in upstream's search order."""
    formulas: list[str] = []
    for pattern in _MATH_DELIMITERS + (_DOLLAR_DELIMITERS if dollars else ()):
        formulas.extend(body.strip() for body in pattern.findall(text))
        text = pattern.sub("", text)
    return formulas


TEST_TYPES: dict[str, type[BenchTest]] = {
    name: cls
    for cls in (PresenceTest, OrderTest, TableTest, BaselineTest, MathTest)
    for name in cls.types
}


def run_test(test: BenchTest, page_text: str | None) -> TestOutcome:
    """Run one test on one page; ``None`` means the output has no such page (a failure)."""
    if page_text is None:
        return TestOutcome(False, PAGE_MISSING)
    try:
        return test.check(page_text)
    except Exception as exc:  # upstream (benchmark.py) scores a check that raises as a failure
        return TestOutcome(False, f"{type(exc).__name__} while checking: {exc}")


@lru_cache(maxsize=32)
def _normalized_page(text: str) -> str:
    # A page typically carries tens of tests; normalise it once.
    return normalize_text(text)
