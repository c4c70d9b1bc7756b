"""Scoring output shards against truth: the body of one task of the evaluation graph.

A shard (or a small group of them) is scored on its own, so the graph can run many tasks in
parallel. What a task cannot settle alone is handed back for the aggregation step: the truth
entries it found (so the driver can count truth pages missing from the output), and the pages
of documents whose truth is one text for the whole multi-page document (their pages may lie in
several shards; they are joined and scored by document later, :func:`score_documents`).

Error rows are counted, never scored: an engine that fails 10 % of the pages shows that as
``error_rows`` beside its CER rather than as a better or worse CER.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
from collections.abc import Iterable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from ops.evaluation.bench import BenchTruth
from ops.evaluation.judging import candidate
from ops.evaluation.plan import keep_mask
from ops.evaluation.truth import DOCUMENT, TruthIndex
from ops.metrics.text import PAGE_METRICS_SCHEMA, PageCounts, pages_table, score_page
from ops.passwords import Passwords
from ops.schema import ROUTE_OCR, STATUS_OK
from ops.shards import read_columns

TEXT_LAYER = "text-layer"  # truth: the PDF's own text layer, for pages that went through OCR
Truth = TruthIndex | BenchTruth | str  # str: TEXT_LAYER
READ_COLUMNS = [
    "doc_id",
    "source_uri",
    "source_kind",
    "page_number",
    "page_count",
    "route",
    "backend",
    "model",
    "status",
    "error_type",
    "text",
]
OPTIONAL_COLUMNS = ["markdown"]  # null in shards written before it existed
IDENTITY_FIELDS = [
    pa.field("output", pa.string()),  # which output (the label of --compare)
    pa.field("source_uri", pa.string()),
    pa.field("doc_id", pa.string()),
    pa.field("truth_key", pa.string()),
    pa.field("page_number", pa.int32()),  # null: scored as a whole document
    pa.field("source_kind", pa.string()),
    pa.field("route", pa.string()),
    pa.field("backend", pa.string()),
    pa.field("model", pa.string()),
]
SCORE_SCHEMA = pa.schema([*IDENTITY_FIELDS, *PAGE_METRICS_SCHEMA])
DOC_PART_SCHEMA = pa.schema(
    [
        *IDENTITY_FIELDS,
        pa.field("page_count", pa.int32()),
        pa.field("status", pa.string()),
        pa.field("text", pa.string()),
    ]
)
EXAMPLE_CHARS = 4000  # text kept per worst page for the report


@dataclass(frozen=True, slots=True)
class ScoringSettings:
    label: str = "output"
    normalization: str = "n1"
    casefold: bool = False
    sample: float | None = None  # keep this fraction of pages (a hash sample: the same pages
    # whichever output or run is scored, so --compare compares like with like)
    worst: int = 20  # pages with the highest CER kept with their texts, per shard
    # Scored pages handed to the LLM judge: the ones with the lowest judge hash, per shard; the
    # driver keeps the lowest of all shards, so the draw is over scored pages only, uniform and
    # the same pages in every output (a bottom-k sample).
    judge_pages: int = 0
    passwords: Passwords = field(default_factory=Passwords)  # for text-layer truth


@dataclass(slots=True)
class ShardScores:
    """The scores of one shard, or of a group of shards merged (:func:`score_shards`)."""

    shard: str  # the shard, or the group's first
    label: str = "output"  # which output the shard belongs to
    shards: int = 1  # shards these scores cover
    failures: dict[str, str] = field(default_factory=dict)  # shard -> why it was not scored
    scores: pa.Table = field(default_factory=SCORE_SCHEMA.empty_table)
    doc_parts: pa.Table = field(default_factory=DOC_PART_SCHEMA.empty_table)
    matched: set[tuple[str, int]] = field(default_factory=set)  # truth entries found
    rows: int = 0  # rows read, superseded ones left out
    sampled_out: int = 0
    error_rows: int = 0  # page and document error rows
    error_rows_with_truth: int = 0
    no_truth: int = 0  # ok rows with nothing to compare them to
    truth_unreadable: int = 0  # pages whose truth file could not be read (missing, not UTF-8)
    truth_errors: list[str] = field(default_factory=list)  # the first few, with their reasons
    worst: list[dict[str, Any]] = field(default_factory=list)
    bench: dict[str, list[Any]] = field(default_factory=dict)  # test id -> outcomes (bench truth)
    judge_candidates: list[dict[str, Any]] = field(default_factory=list)

    @property
    def failure(self) -> str | None:
        """Why the (first) shard was not scored, if it was not."""
        return next(iter(self.failures.values()), None)


def score_shard(
    path: str,
    truth: Truth,
    settings: ScoringSettings,
    skip: Sequence[int] = (),
    planned_rows: int | None = None,
) -> ShardScores:
    """Scores for every page of one Parquet shard but the rows at ``skip``."""
    return score_shards([(path, skip, planned_rows)], truth, settings)


def score_shards(
    shards: Sequence[tuple[str, Sequence[int], int | None]],
    truth: Truth,
    settings: ScoringSettings,
) -> ShardScores:
    """Scores for every page of a group of ``(path, skip, planned rows)`` shards (one scoring
    task) but the rows at each ``skip`` (superseded, see :mod:`ops.evaluation.plan`). A shard
    that cannot be read is one of the result's ``failures``, never an exception, so one bad file
    cannot sink the evaluation. The group is scored as one stream of rows into one result: a
    result per shard cost more than the scoring when shards are small (pickling 125 results of
    10 rows took 0.4 s, scoring them 1.3 s).

    A run that is still going reconciles when it ends, rewriting exactly the shards that hold
    superseded rows (or deleting those left empty). A shard whose row count is not the planned
    one has been rewritten since the plan: what it holds now is what stays, so its skips no longer
    apply (they would point at other rows)."""
    result = ShardScores(shard=shards[0][0], label=settings.label, shards=len(shards))
    rows: list[dict[str, Any]] = []
    for path, skip, planned in shards:
        try:
            table = read_columns(path, READ_COLUMNS, optional=OPTIONAL_COLUMNS)
        except FileNotFoundError:
            if planned is not None and len(skip) == planned:
                continue  # all its rows superseded: reconciliation removed it since the plan
            result.failures[path] = "the shard is gone (removed since it was listed)"
            continue
        except Exception as exc:
            result.failures[path] = f"cannot read the shard: {type(exc).__name__}: {exc}"
            continue
        if skip and (planned is None or table.num_rows == planned):
            table = table.filter(keep_mask(table.num_rows, skip))
        rows += table.to_pylist()
    if isinstance(truth, BenchTruth):
        return run_bench_rows(rows, truth, settings, result)
    return score_rows(rows, truth, settings, result)


def run_bench_rows(
    rows: list[dict[str, Any]], truth: BenchTruth, settings: ScoringSettings, result: ShardScores
) -> ShardScores:
    """olmOCR-bench tests on the pages they name; an error row's page fails its tests."""
    result.rows = len(rows)
    for row in rows:
        if settings.sample is not None and not in_sample(row, settings.sample):
            result.sampled_out += 1
            continue
        ok = row["status"] == STATUS_OK
        result.error_rows += int(not ok)
        # olmOCR-bench scores a page's markdown: its tables are tested as tables.
        page = (row.get("markdown") or row["text"]) if ok else None
        outcomes = truth.run(row["source_uri"], row["page_number"], page)
        if not outcomes and ok:
            result.no_truth += 1
        for test_id, outcome in outcomes:
            result.bench.setdefault(test_id, []).append(outcome)
    return result


def score_rows(
    rows: list[dict[str, Any]],
    truth: TruthIndex | str,
    settings: ScoringSettings,
    result: ShardScores,
) -> ShardScores:
    result.rows = len(rows)
    scored: list[tuple[dict[str, Any], PageCounts]] = []
    parts: list[dict[str, Any]] = []
    layers = _TextLayers(settings.passwords) if truth == TEXT_LAYER else None
    judged: list[tuple[int, int, dict[str, Any]]] = []  # a max-heap on the draw, by negation
    matched_document: tuple[str, str | None] | None = None
    key: str = ""
    pages: Mapping[int, Any] = {}
    for row in rows:
        if layers is not None:
            if settings.sample is not None and not in_sample(row, settings.sample):
                result.sampled_out += 1
                continue
            # Only ok rows need the layer: an error row never opens the PDF.
            ok = row["status"] == STATUS_OK
            key, reference = _text_layer_truth(row, layers) if ok else ("", None)
            pages = {}
        else:
            document = (row["source_uri"], row["doc_id"])
            if document != matched_document:  # a document's rows are contiguous in a shard
                matched_document = document
                key, pages = truth.match(*document)  # type: ignore[union-attr]
            reference = None
            # Whole-document truth is sampled by document: a page-by-page draw would leave
            # almost every multi-page document incomplete.
            whole = bool(key) and DOCUMENT in pages and not _has_page_entries(pages)
            drawn = {**row, "page_number": None} if whole else row
            if settings.sample is not None and not in_sample(drawn, settings.sample):
                result.sampled_out += 1
                continue
        page = row["page_number"]
        if key and page is not None and page in pages:
            reference = pages[page]
            result.matched.add((key, page))
        elif key and DOCUMENT in pages and not _has_page_entries(pages):
            result.matched.add((key, DOCUMENT))
            if (row["page_count"] or 0) > 1:  # joined with its other pages later
                failed = int(row["status"] != STATUS_OK)
                result.error_rows += failed
                result.error_rows_with_truth += failed  # its document's truth
                if page is not None:
                    parts.append({**_identity(row, key, settings.label), **_part(row)})
                continue
            reference = pages[DOCUMENT]
        elif key and page is None:  # a document error row: its pages will never come
            result.matched.update((key, number) for number in pages)
        if row["status"] != STATUS_OK:
            result.error_rows += 1
            result.error_rows_with_truth += int(reference is not None or (bool(key) and not page))
            continue
        if reference is None:
            result.no_truth += 1
            continue
        try:
            truth_text = reference if isinstance(reference, str) else reference.read()
        except (OSError, UnicodeDecodeError) as exc:
            result.truth_unreadable += 1
            result.truth_errors.append(f"{reference.path}: {type(exc).__name__}: {exc}"[:300])
            continue
        counts = score_page(
            truth_text,
            row["text"] or "",
            normalization=settings.normalization,
            casefold=settings.casefold,
        )
        identity = _identity(row, key, settings.label)
        scored.append((identity, counts))
        if settings.judge_pages:
            _draw_for_judge(judged, settings, row, key, truth_text)
        _keep_worst(result.worst, settings.worst, identity, counts, row["text"], truth_text)
    result.scores = scores_table([identity for identity, _ in scored], [c for _, c in scored])
    result.doc_parts = pa.Table.from_pylist(parts, schema=DOC_PART_SCHEMA)
    result.judge_candidates = [entry for _, _, entry in sorted(judged, reverse=True)]
    if layers is not None:
        layers.close()
    return result


def scores_table(identities: Sequence[dict[str, Any]], counts: Sequence[PageCounts]) -> pa.Table:
    metrics = pages_table(counts)
    identity = pa.Table.from_pylist(list(identities), schema=pa.schema(IDENTITY_FIELDS))
    return pa.Table.from_arrays([*identity.columns, *metrics.columns], schema=SCORE_SCHEMA)


def score_documents(
    parts: pa.Table, truth: TruthIndex, settings: ScoringSettings
) -> tuple[pa.Table, int, list[dict[str, Any]]]:
    """Whole-document scores from the pages of multi-page documents (gathered from all shards):
    the page texts joined in page order against the document's truth. A document with a failed
    page is not scored (its text would be incomplete) and is returned as a count."""
    identities, counts, worst = [], [], []
    incomplete = 0
    by_doc: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in parts.to_pylist():
        by_doc.setdefault((row["output"], row["source_uri"]), []).append(row)
    for (_, _uri), pages in sorted(by_doc.items()):
        pages.sort(key=lambda row: row["page_number"] or 0)
        first = pages[0]
        complete = all(row["status"] == STATUS_OK for row in pages) and len(
            {row["page_number"] for row in pages}
        ) == (first["page_count"] or 0)
        if not complete:
            incomplete += 1
            continue
        reference = truth.by_doc_id.get(first["doc_id"] or "") or truth.by_name[first["truth_key"]]
        try:
            truth_text = reference[DOCUMENT].read()
        except (OSError, UnicodeDecodeError):
            incomplete += 1  # reported with the documents that could not be scored
            continue
        text = "\n\n".join(row["text"] or "" for row in pages)
        identity = {name: first[name] for name in SCORE_SCHEMA.names if name in first}
        identity["page_number"] = None
        page_counts = score_page(
            truth_text, text, normalization=settings.normalization, casefold=settings.casefold
        )
        identities.append(identity)
        counts.append(page_counts)
        _keep_worst(worst, settings.worst, identity, page_counts, text, truth_text)
    return scores_table(identities, counts), incomplete, worst


def in_sample(row: dict[str, Any], fraction: float, salt: str = "") -> bool:
    """A stable hash sample on the file's name and page: the same pages are drawn from every
    output of the same inputs, wherever they were written."""
    return draw(row, salt) < fraction * 2**64


def draw(row: dict[str, Any], salt: str = "") -> int:
    """The page's place in a stable random order (a 64-bit hash of its file name and page)."""
    name = (row["source_uri"] or "").rsplit("/", 1)[-1]
    key = f"{salt}{name}#{row['page_number']}".encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big")


JUDGE_SALT = "judge"
_TIEBREAK = itertools.count()


def _draw_for_judge(
    judged: list[tuple[int, int, dict[str, Any]]],
    settings: ScoringSettings,
    row: dict[str, Any],
    key: str,
    truth_text: str,
) -> None:
    """Keep the ``judge_pages`` scored pages with the lowest judge draw (texts are copied only
    for pages that enter the heap)."""
    value = draw(row, JUDGE_SALT)
    if len(judged) >= settings.judge_pages and -judged[0][0] <= value:
        return
    entry = {**candidate(row, key, truth_text), "output": settings.label, "draw": value}
    item = (-value, next(_TIEBREAK), entry)  # equal draws: same file name and page
    if len(judged) < settings.judge_pages:
        heapq.heappush(judged, item)
    else:
        heapq.heapreplace(judged, item)


def judge_sample(candidates: Iterable[dict[str, Any]], pages: int) -> list[dict[str, Any]]:
    """The ``pages`` candidates with the lowest draw, per output: merging every shard's
    bottom-k gives the bottom-k of all scored pages."""
    by_output: dict[str, list[dict[str, Any]]] = {}
    for entry in candidates:
        by_output.setdefault(entry["output"], []).append(entry)
    return [
        entry
        for entries in by_output.values()
        for entry in sorted(entries, key=lambda entry: entry["draw"])[:pages]
    ]


def _has_page_entries(pages: dict[int, Any]) -> bool:
    return any(page != DOCUMENT for page in pages)


def _identity(row: dict[str, Any], key: str, label: str) -> dict[str, Any]:
    return {
        "output": label,
        "source_uri": row["source_uri"],
        "doc_id": row["doc_id"],
        "truth_key": key,
        "page_number": row["page_number"],
        "source_kind": row["source_kind"],
        "route": row["route"],
        "backend": row["backend"],
        "model": row["model"],
    }


def _part(row: dict[str, Any]) -> dict[str, Any]:
    return {"page_count": row["page_count"], "status": row["status"], "text": row["text"]}


def _keep_worst(
    worst: list[dict[str, Any]],
    limit: int,
    identity: dict[str, Any],
    counts: PageCounts,
    text: str | None,
    truth_text: str,
) -> None:
    """Keep the ``limit`` pages with the highest CER (a heap: O(log k) per page); texts are
    copied only for pages that enter it."""
    cer = counts.cer
    if cer is None or limit <= 0 or (len(worst) >= limit and cer <= worst[0]["cer"]):
        return
    entry = _Ranked(
        identity,
        cer=cer,
        truth_chars=counts.truth_chars,
        char_edits=counts.char_edits,
        text=(text or "")[:EXAMPLE_CHARS],
        truth=truth_text[:EXAMPLE_CHARS],
    )
    if len(worst) < limit:
        heapq.heappush(worst, entry)  # type: ignore[arg-type]
    else:
        heapq.heapreplace(worst, entry)  # type: ignore[arg-type]


class _Ranked(dict):
    """A worst-page entry ordered by CER, so a plain heap keeps the largest ones."""

    def __lt__(self, other: dict) -> bool:  # type: ignore[override]
        return (self["cer"], self["source_uri"], str(self["page_number"])) < (
            other["cer"],
            other["source_uri"],
            str(other["page_number"]),
        )


def worst_pages(lists: Iterable[list[dict[str, Any]]], limit: int) -> list[dict[str, Any]]:
    """The overall worst pages from the per-task lists, highest CER first; pages that match
    their truth exactly (CER 0) are not "worst" however few bad ones there are."""
    merged = [dict(entry) for entries in lists for entry in entries if entry["cer"] > 0]
    merged.sort(key=lambda entry: (-entry["cer"], entry["source_uri"], str(entry["page_number"])))
    return merged[:limit]


class _TextLayers:
    """Open PDFs by URI, one at a time (rows of one document are contiguous in a shard)."""

    def __init__(self, passwords: Passwords) -> None:
        self._passwords = passwords
        self._uri: str | None = None
        self._document: Any = None
        self._open = ExitStack()

    def page_text(self, uri: str, page_number: int) -> str | None:
        from ops.layout.steps import TextSteps
        from ops.pdf.document import opened_pdf
        from ops.pdf.textlayer import extract_text

        if uri != self._uri:
            self.close()
            self._uri = uri
            try:
                password = self._passwords.for_uri(uri)
                self._document = self._open.enter_context(opened_pdf(uri, password))
            except Exception:
                self._document = None
        if self._document is None or not 0 < page_number <= len(self._document):
            return None
        page = self._document[page_number - 1]
        try:
            # Cleaned as the OCR route cleans what it reads, one page alone: an OCR page is not
            # charged for joining a word the text layer splits or for moving its page number
            # to footer_text.
            return TextSteps().clean(extract_text(page, keep_soft_breaks=True)).text
        finally:
            page.close()

    def close(self) -> None:
        self._open.close()
        self._uri, self._document = None, None


def _text_layer_truth(row: dict[str, Any], layers: _TextLayers) -> tuple[str, str | None]:
    """The page's own text layer, for OCR-route pages of PDFs; empty layers are no truth."""
    if row["route"] != ROUTE_OCR or row["source_kind"] != "pdf" or row["page_number"] is None:
        return "", None
    text = layers.page_text(row["source_uri"], row["page_number"])
    key = row["source_uri"]
    return key, (text if text and text.strip() else None)
