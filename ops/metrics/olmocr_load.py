"""Reading olmOCR-bench test files, and finding each test's page in pagemill output.

Test files are JSONL, one test per line (allenai/olmocr ``olmocr/bench/tests.py``,
``load_single_test`` / ``load_tests``). As upstream, an unknown field, a missing required field,
an invalid value or a duplicate test id makes the line invalid; unlike upstream, the error names
the file and line, and the caller may collect bad lines and go on instead of stopping.

Matching to pagemill rows: a row's ``source_uri`` is a path or URI ending with the PDF's file name,
possibly below other folders; a test's ``pdf`` is the path relative to the bench's ``pdfs/``
folder (``arxiv_math/2503_xxx.pdf``). A row belongs to the test PDF whose path components are a
suffix of the row's (``.../bench/pdfs/arxiv_math/2503_xxx.pdf``); when none is, a base name shared
with exactly one bench PDF is accepted (output written from a flattened copy of the inputs).
"""

from __future__ import annotations

import dataclasses
import json
import os
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from ops.metrics.olmocr_tests import TEST_TYPES, BenchTest, BenchTestError

# Newer upstream test types that pagemill does not score (see olmocr_tests' module docstring).
UNSUPPORTED_TYPES = ("format", "footnote")

PageKey = tuple[str, int]  # (bench-relative pdf path, 1-based page)


def test_key(test: BenchTest) -> PageKey:
    return (test.pdf, test.page)


test_key.__test__ = False  # type: ignore[attr-defined]  # not a pytest test when imported


def load_tests(
    source: str | os.PathLike[str] | Iterable[str],
    *,
    skipped: list[BenchTestError] | None = None,
) -> list[BenchTest]:
    """Tests from a JSONL file (a path) or from its lines (any other iterable of strings).

    A malformed line raises :class:`BenchTestError` (a ``ValueError``) naming the file and line,
    unless ``skipped`` is given: then the error is appended there and the line left out.
    """
    if isinstance(source, str | os.PathLike):
        with Path(source).open(encoding="utf-8") as lines:
            return _parse_lines(lines, str(source), skipped)
    return _parse_lines(source, "<lines>", skipped)


def load_bench(
    paths: Iterable[str | os.PathLike[str]], *, skipped: list[BenchTestError] | None = None
) -> dict[str, list[BenchTest]]:
    """Tests per category: one category per JSONL file, named by its stem (``arxiv_math``)."""
    categories: dict[str, list[BenchTest]] = {}
    origin: dict[str, str] = {}
    for path in sorted(Path(p) for p in paths):
        if path.stem in categories:
            raise BenchTestError(f"{path}: a second test file for category {path.stem!r}")
        tests = load_tests(path, skipped=skipped)
        for test in tests:
            # Upstream keys results by test id across files, so a shared id would mix categories.
            if test.id in origin:
                raise BenchTestError(f"{path}: test id {test.id!r} also in {origin[test.id]}")
            origin[test.id] = str(path)
        categories[path.stem] = tests
    return categories


def parse_test(data: Any) -> BenchTest:
    """One test from its decoded JSON object."""
    if not isinstance(data, Mapping):
        raise BenchTestError(f"a test must be a JSON object, got {type(data).__name__}")
    type_name = data.get("type")
    cls = TEST_TYPES.get(type_name) if isinstance(type_name, str) else None
    if cls is None:
        if type_name in UNSUPPORTED_TYPES:
            raise BenchTestError(f"test type {type_name!r} is not supported by pagemill's scorer")
        raise BenchTestError(f"Unknown test type: {type_name!r} (known: {sorted(TEST_TYPES)})")
    hints, required = _SCHEMAS[cls]
    if unknown := sorted(set(data) - set(hints)):
        raise BenchTestError(f"unknown field(s) for a {type_name} test: {unknown}")
    if missing := sorted(required - set(data)):
        raise BenchTestError(f"missing field(s) for a {type_name} test: {missing}")
    for name, value in data.items():
        if not _conforms(value, hints[name]):
            raise BenchTestError(f"field {name!r} must be {_describe(hints[name])}, got {value!r}")
    return cls(**data)


class PdfMatcher:
    """Resolves pagemill ``source_uri`` values to the bench's ``pdf`` names (see module doc)."""

    def __init__(self, bench_pdfs: Iterable[str]) -> None:
        self._by_name: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
        for pdf in sorted(set(bench_pdfs)):
            parts = _components(pdf)
            if parts:
                self._by_name.setdefault(parts[-1], []).append((pdf, parts))

    def resolve(self, source_uri: str) -> str | None:
        parts = _components(source_uri)
        candidates = self._by_name.get(parts[-1], []) if parts else []
        suffixes = [(len(p), pdf) for pdf, p in candidates if parts[-len(p) :] == p]
        if suffixes:
            return max(suffixes)[1]  # the most specific path wins
        return candidates[0][0] if len(candidates) == 1 else None


def collect_pages(
    rows: Iterable[Mapping[str, Any]], matcher: PdfMatcher
) -> dict[PageKey, list[str | None]]:
    """Page texts per (pdf, page); every row is one repeat. An error row's text is ``None``, so it
    scores like a missing page. Rows of PDFs outside the bench are ignored."""
    pages: dict[PageKey, list[str | None]] = {}
    for row in rows:
        pdf = matcher.resolve(row["source_uri"]) if row.get("source_uri") else None
        page = row.get("page_number")
        if pdf is not None and page is not None:
            pages.setdefault((pdf, int(page)), []).append(row.get("text"))
    return pages


def _parse_lines(
    lines: Iterable[str], label: str, skipped: list[BenchTestError] | None
) -> list[BenchTest]:
    tests: list[BenchTest] = []
    first_line: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            test = _parse_line(line)
            if test.id in first_line:
                raise BenchTestError(
                    f"Test with duplicate id {test.id} (first on line {first_line[test.id]})"
                )
        except BenchTestError as exc:
            error = BenchTestError(f"{label}, line {number}: {exc}")
            if skipped is None:
                raise error from exc
            skipped.append(error)
            continue
        first_line[test.id] = number
        tests.append(test)
    return tests


def _parse_line(line: str) -> BenchTest:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise BenchTestError(f"not valid JSON: {exc.msg} at column {exc.colno}") from exc
    return parse_test(data)


def _schema(cls: type[BenchTest]) -> tuple[dict[str, Any], frozenset[str]]:
    hints = typing.get_type_hints(cls)
    fields = dataclasses.fields(cls)
    required = frozenset(
        f.name
        for f in fields
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    )
    return {f.name: hints[f.name] for f in fields}, required


_SCHEMAS = {cls: _schema(cls) for cls in set(TEST_TYPES.values())}


def _options(hint: Any) -> tuple[Any, ...]:
    return typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)


def _describe(hint: Any) -> str:
    return " or ".join("null" if o is type(None) else o.__name__ for o in _options(hint))


def _conforms(value: Any, hint: Any) -> bool:
    for option in _options(hint):
        if option is type(None) and value is None:
            return True
        if option is int and isinstance(value, int) and not isinstance(value, bool):
            return True
        if option in (bool, str) and isinstance(value, option):
            return True
    return False


def _components(path_or_uri: str) -> tuple[str, ...]:
    path = path_or_uri
    if "://" in path:
        path = unquote(urlsplit(path).path)
    return tuple(part for part in path.replace("\\", "/").split("/") if part not in ("", "."))
