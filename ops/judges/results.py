"""What a judge takes and gives back, and the Arrow table its results are stored as.

Results are aligned with the items by position; ``key`` is carried along so a stored row still
says which page it grades. A failure is a result with ``invalid_reason`` set, never an exception,
so one bad page cannot cost the scores of the rest of its group.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pyarrow as pa


@dataclass(frozen=True, slots=True)
class JudgeItem:
    """One page to grade. A ``None`` is a missing input (the extraction failed, the page has no
    image or no ground truth), graded with what remains or marked invalid."""

    text: str | None
    image_png: bytes | None
    truth: str | None
    key: str


@dataclass(frozen=True, slots=True)
class JudgeResult:
    key: str
    score: float | None  # raw_score mapped onto 0..1; None when invalid
    raw_score: int | None  # the judge's own 1..5
    reason: str | None  # the judge's one sentence
    invalid_reason: str | None  # why there is no score; None when there is one
    model: str
    prompt_version: str  # scores from different versions are not comparable
    graded_against: str | None  # image | truth | image+truth
    latency_ms: float | None  # first request to verdict, retries and their waits included
    attempts: int  # requests sent; 0 when the item was settled without one
    input_tokens: int | None
    output_tokens: int | None
    text_truncated: bool  # the page text was cut to max_text_chars before grading
    truth_truncated: bool

    @property
    def valid(self) -> bool:
        return self.invalid_reason is None


JUDGE_SCHEMA = pa.schema(
    [
        pa.field("key", pa.string()),
        pa.field("score", pa.float32()),
        pa.field("raw_score", pa.int8()),
        pa.field("reason", pa.string()),
        pa.field("invalid_reason", pa.string()),
        pa.field("model", pa.string()),
        pa.field("prompt_version", pa.string()),
        pa.field("graded_against", pa.string()),
        pa.field("latency_ms", pa.float32()),
        pa.field("attempts", pa.int32()),
        pa.field("input_tokens", pa.int32()),
        pa.field("output_tokens", pa.int32()),
        pa.field("text_truncated", pa.bool_()),
        pa.field("truth_truncated", pa.bool_()),
    ]
)


def judge_items(
    keys: Sequence[str],
    texts: Sequence[str | None],
    images: Sequence[bytes | None] | None = None,
    truths: Sequence[str | None] | None = None,
) -> list[JudgeItem]:
    """Items from parallel columns. Columns of unequal length are an error, not a silent
    truncation: a shifted column would grade every page against another page's image."""
    count = len(keys)
    columns = {"texts": texts, "images": images, "truths": truths}
    lengths = {name: len(column) for name, column in columns.items() if column is not None}
    if any(length != count for length in lengths.values()):
        raise ValueError(f"input columns differ in length: keys={count}, {lengths}")
    return [
        JudgeItem(
            text=texts[index],
            image_png=images[index] if images is not None else None,
            truth=truths[index] if truths is not None else None,
            key=keys[index],
        )
        for index in range(count)
    ]


def to_table(results: Iterable[JudgeResult]) -> pa.Table:
    """The results under :data:`JUDGE_SCHEMA`, so an all-null column keeps its type and tables
    from different groups concatenate."""
    names = JUDGE_SCHEMA.names
    rows = [{name: getattr(result, name) for name in names} for result in results]
    return pa.Table.from_pylist(rows, schema=JUDGE_SCHEMA)
