"""Per-page text metrics, stored as integer counts so that any aggregate is exact.

A page's rates (CER, WER, NED, bag-of-words precision/recall/F1) are ratios of the counts in
:class:`PageCounts`; summing counts across pages gives the micro averages without the bias of
averaging ratios, and lets shards be combined by addition.

Definitions (``T``/``O`` are the normalised truth/output, lengths in code points):

* **CER** = Levenshtein(T, O) / len(T) under the chosen normalisation (default ``n1``).
  Unbounded above (an output that repeats itself scores > 1). Null when T is empty; the page's
  ``output_chars`` are then the hallucinated characters.
* **NED** = Levenshtein(T₂, O₂) / max(len T₂, len O₂), always on ``n2`` (with the same casefold
  flag): OmniDocBench's ``Edit_dist``, in [0, 1]. Null when both are empty. That is what
  OmniDocBench itself does: its ``call_Edit_dist`` leaves an empty/empty sample without a score, so
  it drops out of the per-sample mean and adds 0/0 to the whole-set ratio; same here
  (``ned_edits`` = ``ned_length`` = 0, rate null).
* **WER** = word Levenshtein / truth words, words being the whitespace-split normalised text
  (under ``n2``, which deletes whitespace, the words of :func:`~ops.metrics.normalize.n2_words`).
  Null for an empty truth and for truth in a script written without spaces (see
  :data:`UNSPACED_SHARE`), where a "word" is a whole clause and WER means nothing.
* **Bag of words**: overlap = size of the multiset intersection of truth and output words;
  precision = overlap / output words, recall = overlap / truth words, F1 = 2·overlap / (truth
  words + output words) (the same number as 2PR/(P+R), without a 0/0 when one side is empty).
  Each is null when its denominator is 0, and all are null for unspaced scripts, like WER.
  Order-free, so a two-column page read across the columns keeps its recall.

Word-level Levenshtein runs on the word lists themselves rather than on words mapped to integer
ids: rapidfuzz reduces each ``str`` to its cached hash in C, while building the id dict costs more
than it saves (scripts/bench_metrics.py: ~100 vs ~170 us per 3,000-character page, split
included). Two different words would compare equal only on a 64-bit hash collision. The
bag-of-words overlap counts words with ``Counter`` and takes the minima in numpy. rapidfuzz's
``score_hint`` selects a banded algorithm for the character distances: exact for any hint, and
3-5x faster on a 3,000-character page with a few percent of edits.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, fields
from operator import attrgetter
from typing import Final

import numpy as np
import pyarrow as pa
from rapidfuzz.distance import Levenshtein

import ops.metrics.normalize as norm

# Han, Hiragana, Katakana (incl. halfwidth and phonetic extensions), Thai, Lao, Khmer and Myanmar:
# scripts written without spaces between words.
_UNSPACED_CHAR: Final = re.compile(
    "[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf"
    "\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f]"
)
# Word metrics are skipped when at least this share of the truth's non-space characters belong to
# an unspaced script. Japanese and Thai prose sit near 1.0 and Chinese with Latin acronyms and
# digits around 0.7-0.95; an English page quoting a few names in Chinese stays far below. At 0.2 an
# unspaced run is already a large part of the text, and each of its "words" is a whole clause that
# one wrong character turns into a full word error, so WER would mostly measure the script.
UNSPACED_SHARE: Final = 0.2
NED_FORM: Final = "n2"


@dataclass(frozen=True, slots=True)
class PageCounts:
    """Integer counts for one (truth, output) page pair; the rates are derived from them."""

    normalization: str  # id of the form used for chars and words, e.g. "n1.v1"
    ned_normalization: str  # id of the form used for NED, e.g. "n2.v1"
    truth_chars: int
    output_chars: int
    char_edits: int  # Levenshtein(truth, output) in code points
    ned_edits: int  # Levenshtein on the n2 forms
    ned_length: int  # max(len truth, len output) of the n2 forms
    truth_words: int
    output_words: int
    word_edits: int | None  # None: unspaced script
    bow_overlap: int | None  # None: unspaced script

    @property
    def hallucinated_chars(self) -> int:
        """Output characters on a page whose truth is empty (0 otherwise)."""
        return self.output_chars if self.truth_chars == 0 else 0

    @property
    def cer(self) -> float | None:
        return _ratio(self.char_edits, self.truth_chars)

    @property
    def ned(self) -> float | None:
        return _ratio(self.ned_edits, self.ned_length)

    @property
    def wer(self) -> float | None:
        return None if self.word_edits is None else _ratio(self.word_edits, self.truth_words)

    @property
    def bow_precision(self) -> float | None:
        return None if self.bow_overlap is None else _ratio(self.bow_overlap, self.output_words)

    @property
    def bow_recall(self) -> float | None:
        return None if self.bow_overlap is None else _ratio(self.bow_overlap, self.truth_words)

    @property
    def bow_f1(self) -> float | None:
        if self.bow_overlap is None:
            return None
        return _ratio(2 * self.bow_overlap, self.truth_words + self.output_words)


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def score_page(
    truth: str, output: str, *, normalization: str = norm.DEFAULT_FORM, casefold: bool = False
) -> PageCounts:
    """Normalise both texts and count the edits between them."""
    norm.check_form(normalization)
    if normalization == "n0":
        truth_text = norm.normalize(truth, "n0", casefold=casefold)
        output_text = norm.normalize(output, "n0", casefold=casefold)
        truth_n1 = norm.n1(truth, casefold=casefold)
        output_n1 = norm.n1(output, casefold=casefold)
        truth_words, output_words = truth_text.split(), output_text.split()
    else:
        truth_words = norm.n1_words(truth, casefold=casefold)
        output_words = norm.n1_words(output, casefold=casefold)
        truth_n1 = truth_text = " ".join(truth_words)
        output_n1 = output_text = " ".join(output_words)
    if normalization == "n2":
        truth_words, output_words = norm.n2_words(truth_n1), norm.n2_words(output_n1)
        truth_n2 = truth_text = "".join(truth_words)
        output_n2 = output_text = "".join(output_words)
    else:
        truth_n2, output_n2 = norm.n1_to_n2(truth_n1), norm.n1_to_n2(output_n1)

    char_edits = _char_distance(truth_text, output_text)
    if normalization == "n2":
        ned_edits = char_edits
    else:
        ned_edits = _char_distance(truth_n2, output_n2, hint=char_edits)

    word_edits: int | None = None
    bow_overlap: int | None = None
    if not _is_unspaced(truth_text, truth_words):
        # Word edits run close to character edits (0.9x on OCR-like noise), so the character
        # distance is the band hint (exact whatever it is, like _char_distance's): 40 % faster.
        hint = max(32, min(char_edits, max(len(truth_words), len(output_words))))
        word_edits = Levenshtein.distance(truth_words, output_words, score_hint=hint)
        bow_overlap = _multiset_overlap(truth_words, output_words)

    return PageCounts(
        normalization=norm.normalization_id(normalization, casefold=casefold),
        ned_normalization=norm.normalization_id(NED_FORM, casefold=casefold),
        truth_chars=len(truth_text),
        output_chars=len(output_text),
        char_edits=char_edits,
        ned_edits=ned_edits,
        ned_length=max(len(truth_n2), len(output_n2)),
        truth_words=len(truth_words),
        output_words=len(output_words),
        word_edits=word_edits,
        bow_overlap=bow_overlap,
    )


def _char_distance(a: str, b: str, hint: int | None = None) -> int:
    # The hint only selects rapidfuzz's banded implementation, which doubles the band until the
    # distance fits, so the result is exact whatever the hint. A band of 1/16 of the length covers
    # ordinary OCR output in one pass; the NED call passes the n1 distance, which is close.
    if hint is None:
        hint = max(abs(len(a) - len(b)), max(len(a), len(b)) // 16)
    return Levenshtein.distance(a, b, score_hint=max(hint, 32))


def _is_unspaced(truth_text: str, truth_words: list[str]) -> bool:
    if truth_text.isascii():
        return False
    text = "".join(truth_words)
    return len(_UNSPACED_CHAR.findall(text)) >= UNSPACED_SHARE * len(text) > 0


def _multiset_overlap(a: list[str], b: list[str]) -> int:
    if not a or not b:
        return 0
    count_a, count_b = Counter(a), Counter(b)
    # Counter.__getitem__ gives 0 for a missing word without inserting it; the element-wise min
    # runs in numpy (3x faster than map(min, ...) over a page's vocabulary).
    in_a = np.fromiter(count_a.values(), dtype=np.int64, count=len(count_a))
    in_b = np.fromiter(map(count_b.__getitem__, count_a), dtype=np.int64, count=len(count_a))
    return int(np.minimum(in_a, in_b).sum())


# --- Arrow -------------------------------------------------------------------------------------

COUNT_COLUMNS: Final[tuple[str, ...]] = tuple(
    f.name for f in fields(PageCounts) if f.name not in ("normalization", "ned_normalization")
)
RATE_COLUMNS: Final[tuple[str, ...]] = (
    "cer",
    "ned",
    "wer",
    "bow_precision",
    "bow_recall",
    "bow_f1",
)
# One row per scored page. The caller adds its identifying columns (source_uri, page_number,
# route, backend, ...). Counts are int32 like the page schema's char_count (a page is far below
# 2^31 characters; sums are taken in int64); rates are float64 so they equal the dataclass's
# Python floats exactly.
PAGE_METRICS_SCHEMA: Final = pa.schema(
    [
        pa.field("normalization", pa.string(), nullable=False),
        pa.field("ned_normalization", pa.string(), nullable=False),
        *(
            pa.field(name, pa.int32(), nullable=name in ("word_edits", "bow_overlap"))
            for name in COUNT_COLUMNS
        ),
        *(pa.field(name, pa.float64()) for name in RATE_COLUMNS),
    ]
)


def pages_table(pages: Sequence[PageCounts]) -> pa.Table:
    """The per-page metrics table (:data:`PAGE_METRICS_SCHEMA`) for ``pages``, in order."""
    names = ("normalization", "ned_normalization", *COUNT_COLUMNS)
    columns = list(zip(*map(attrgetter(*names), pages), strict=True)) or [()] * len(names)
    arrays: dict[str, pa.Array] = {
        name: pa.array(column, type=PAGE_METRICS_SCHEMA.field(name).type)
        for name, column in zip(names, columns, strict=True)
    }
    arrays.update(rates_from_counts(arrays))
    return pa.Table.from_arrays(
        [arrays[name] for name in PAGE_METRICS_SCHEMA.names], schema=PAGE_METRICS_SCHEMA
    )


def rates_from_counts(counts: dict[str, pa.Array] | pa.Table) -> dict[str, pa.Array]:
    """The six per-page rates from count columns, vectorised, with the dataclass's null rules.

    Each rate is one IEEE division of two exactly represented integers, so it is bit-identical to
    the :class:`PageCounts` property.
    """

    def ints(name: str) -> tuple[np.ndarray, np.ndarray]:
        column = counts[name]
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        valid = np.asarray(column.is_valid(), dtype=bool)
        values = np.asarray(column.fill_null(0), dtype=np.float64)
        return values, valid

    truth_chars, _ = ints("truth_chars")
    char_edits, _ = ints("char_edits")
    ned_edits, _ = ints("ned_edits")
    ned_length, _ = ints("ned_length")
    truth_words, _ = ints("truth_words")
    output_words, _ = ints("output_words")
    word_edits, has_words = ints("word_edits")
    overlap, has_bow = ints("bow_overlap")
    return {
        "cer": _divide(char_edits, truth_chars, truth_chars > 0),
        "ned": _divide(ned_edits, ned_length, ned_length > 0),
        "wer": _divide(word_edits, truth_words, has_words & (truth_words > 0)),
        "bow_precision": _divide(overlap, output_words, has_bow & (output_words > 0)),
        "bow_recall": _divide(overlap, truth_words, has_bow & (truth_words > 0)),
        "bow_f1": _divide(
            2 * overlap, truth_words + output_words, has_bow & (truth_words + output_words > 0)
        ),
    }


def _divide(numerator: np.ndarray, denominator: np.ndarray, defined: np.ndarray) -> pa.Array:
    quotient = np.divide(numerator, denominator, out=np.zeros_like(numerator), where=defined)
    return pa.array(quotient, type=pa.float64(), mask=~defined)
