"""Cells and tables of the evaluation report: how a number, a rate or a name is written, and
tables built from the summary's records. Every string is escaped here and a missing value reads
"—", so the sections of :mod:`ops.evaluation.html` never format a value themselves."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from html import escape
from typing import Any, Final

DASH: Final = "—"


def group_cell(value: Any) -> str:
    return "(none)" if value is None else str(value)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def rate_cell(value: Any, digits: int = 2) -> str:
    """Rates read as percentages: ``3.10%`` is easier to compare by eye than ``0.031``."""
    return f"{value * 100:.{digits}f}%" if is_number(value) else DASH


def count_cell(value: Any) -> str:
    return f"{value:,}" if is_number(value) else DASH


def text_cell(value: Any) -> str:
    return DASH if value is None else escape(str(value))


def page_cell(value: Any) -> str:
    return "whole document" if value is None else text_cell(value)


def html_table(headers: Sequence[str], rows: Iterable[Sequence[str]], numeric_from: int) -> str:
    """A table whose cells are already HTML; columns from ``numeric_from`` on align right."""
    head = "".join(
        f"<th{' class=n' if i >= numeric_from else ''}>{h}</th>" for i, h in enumerate(headers)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f"<td{' class=n' if i >= numeric_from else ''}>{c}</td>" for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


FORMATS: Final[dict[str, Callable[[Any], str]]] = {
    "text": text_cell,
    "group": lambda v: escape(group_cell(v)),
    "code": lambda v: f"<code>{text_cell(v)}</code>",
    "count": count_cell,
    "rate": rate_cell,
    "rate1": lambda v: rate_cell(v, 1),
    "strong": lambda v: f"<strong>{rate_cell(v)}</strong>",
    "page": page_cell,
    "points": lambda v: f"{v * 100:+.2f} points" if is_number(v) else DASH,
}
TEXTUAL: Final = {"text", "group", "code"}
# key -> (header, format) of the summary's metric columns
METRICS: Final = {
    "output": ("output", "text"),
    "source_uri": ("source", "code"),
    "pages": ("pages", "count"),
    "cer": ("CER", "strong"),
    "wer": ("WER", "rate"),
    "ned": ("NED", "rate"),
    "bow_precision": ("BoW P", "rate"),
    "bow_recall": ("BoW R", "rate"),
    "bow_f1": ("BoW F1", "rate"),
    "cer_p50": ("CER p50", "rate"),
    "cer_p90": ("CER p90", "rate"),
    "cer_macro": ("CER macro", "rate"),
    "pages_empty_truth": ("empty-truth pages", "count"),
    "hallucinated_chars": ("chars invented there", "count"),
}


def metric_columns(*keys: str) -> list[tuple[str, str, str]]:
    return [(METRICS[key][0], key, METRICS[key][1]) for key in keys]


def record_table(
    records: Iterable[Mapping[str, Any]], columns: Sequence[tuple[str, str, str]]
) -> str:
    """One row per record and one cell per (header, key, format) column; the textual columns
    lead and align left, the numbers align right."""
    textual = sum(1 for _, _, kind in columns if kind in TEXTUAL)
    rows = [[FORMATS[kind](record.get(key)) for _, key, kind in columns] for record in records]
    return html_table([escape(header) for header, _, _ in columns], rows, textual)
