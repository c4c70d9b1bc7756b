"""Aggregates of per-page metric counts, per group (route, backend, document, ...).

Everything is derived from the integer counts of :data:`~ops.metrics.text.PAGE_METRICS_SCHEMA`
(rates are recomputed from them, so a table whose rate columns were dropped still works):

* **micro** rates, the headline: Σ edits / Σ length over the group. CER and WER are taken over
  the pages whose truth is non-empty; empty-truth pages are reported apart, as
  ``pages_empty_truth`` and their ``hallucinated_chars``, because a ratio with no denominator
  cannot absorb them. NED (like OmniDocBench's ``edit_whole``) and the bag-of-words rates take
  every page with a defined value, so hallucinated words do lower bag-of-words precision. WER and
  bag-of-words leave out unspaced-script pages (``pages_unspaced``).
* **macro** means of the per-page rates, nulls ignored;
* **p50 / p90** of the per-page CER, NED and WER (numpy's default linear interpolation).

Shards are combined in two steps. :func:`partial_summary` reduces a shard's pages to one row per
group holding summed counts plus the per-page rate values as lists; :func:`merge_partials` adds
the sums and concatenates the lists of equal keys; :func:`finalize` turns rows into JSON-ready
dicts. Percentiles cannot be merged from summaries, so the lists keep every page's rates: 8 bytes
per page and rate, small next to the page text. :func:`summarize` is the one-shot composition.

A group with no scoreable pages gets nulls, never NaN or an exception.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ops.metrics.text import COUNT_COLUMNS, rates_from_counts

NORMALIZATION_COLUMNS: Final = ("normalization", "ned_normalization")
PERCENTILE_RATES: Final = ("cer", "ned", "wer")
MACRO_RATES: Final = ("cer", "ned", "wer", "bow_precision", "bow_recall", "bow_f1")

# Summed per group in a partial summary; see partial_summary for which pages each one counts.
SUM_COLUMNS: Final = (
    "pages",
    "pages_empty_truth",
    "pages_unspaced",
    "hallucinated_chars",
    "char_edits",
    "truth_chars",
    "ned_edits",
    "ned_length",
    "word_edits",
    "wer_truth_words",
    "bow_overlap",
    "bow_truth_words",
    "bow_output_words",
)
_ALL: Final = "__all"  # the one group key when there is no group_by
_ROW: Final = "__row"


def partial_summary(pages: pa.Table, group_by: Sequence[str] = ()) -> pa.Table:
    """One row per group of ``pages``: the group keys, the normalisation ids, summed counts
    (:data:`SUM_COLUMNS`) and a ``<rate>_values`` list column per rate (nulls left out)."""
    keys = list(group_by)
    _require(pages, [*keys, *NORMALIZATION_COLUMNS, *COUNT_COLUMNS])
    counts = {name: _int_array(pages[name]) for name in COUNT_COLUMNS}
    word_edits_valid = np.asarray(pages["word_edits"].is_valid(), dtype=bool)
    has_bow = np.asarray(pages["bow_overlap"].is_valid(), dtype=bool)

    truth_chars = counts["truth_chars"]
    empty_truth = truth_chars == 0
    has_words = word_edits_valid & (counts["truth_words"] > 0)
    per_page = {
        "pages": np.ones(pages.num_rows, dtype=np.int64),
        "pages_empty_truth": empty_truth.astype(np.int64),
        "pages_unspaced": (~word_edits_valid).astype(np.int64),
        "hallucinated_chars": np.where(empty_truth, counts["output_chars"], 0),
        "char_edits": np.where(empty_truth, 0, counts["char_edits"]),
        "truth_chars": truth_chars,
        "ned_edits": counts["ned_edits"],
        "ned_length": counts["ned_length"],
        "word_edits": np.where(has_words, counts["word_edits"], 0),
        "wer_truth_words": np.where(has_words, counts["truth_words"], 0),
        "bow_overlap": np.where(has_bow, counts["bow_overlap"], 0),
        "bow_truth_words": np.where(has_bow, counts["truth_words"], 0),
        "bow_output_words": np.where(has_bow, counts["output_words"], 0),
    }
    rates = rates_from_counts(pages)
    work = pa.table(
        {
            **{key: pages[key] for key in keys},
            **{name: pages[name] for name in NORMALIZATION_COLUMNS},
            **{name: pa.array(values, type=pa.int64()) for name, values in per_page.items()},
            **{f"{name}_values": rates[name] for name in MACRO_RATES},
        }
    )
    return _aggregate(work, keys, nested=False)


def merge_partials(partials: Sequence[pa.Table], group_by: Sequence[str] = ()) -> pa.Table:
    """Combine partial summaries (same ``group_by``) into one: sums add, value lists concatenate.

    A group's normalisation ids must agree across partials; partials of empty shards carry null
    ids and defer to the others.
    """
    if not partials:
        raise ValueError("merge_partials needs at least one partial summary")
    return _aggregate(pa.concat_tables(partials), list(group_by), nested=True)


def finalize(partial: pa.Table, group_by: Sequence[str] = ()) -> list[dict[str, Any]]:
    """JSON-serialisable dicts, one per row of a (merged) partial summary, in its order."""
    scalars = partial.drop_columns([f"{name}_values" for name in MACRO_RATES]).to_pylist()
    value_lists = {name: partial[f"{name}_values"].combine_chunks() for name in MACRO_RATES}
    results = []
    for index, row in enumerate(scalars):
        result: dict[str, Any] = {key: row[key] for key in group_by}
        for name in NORMALIZATION_COLUMNS:
            result[name] = row[name]
        sums = {name: row[name] for name in SUM_COLUMNS}
        result.update(
            pages=sums["pages"],
            pages_empty_truth=sums["pages_empty_truth"],
            pages_unspaced=sums["pages_unspaced"],
            hallucinated_chars=sums["hallucinated_chars"],
            cer=_ratio(sums["char_edits"], sums["truth_chars"]),
            wer=_ratio(sums["word_edits"], sums["wer_truth_words"]),
            ned=_ratio(sums["ned_edits"], sums["ned_length"]),
            bow_precision=_ratio(sums["bow_overlap"], sums["bow_output_words"]),
            bow_recall=_ratio(sums["bow_overlap"], sums["bow_truth_words"]),
            bow_f1=_ratio(
                2 * sums["bow_overlap"], sums["bow_truth_words"] + sums["bow_output_words"]
            ),
        )
        for name in MACRO_RATES:
            values = value_lists[name][index].values.to_numpy()
            result[f"{name}_macro"] = float(values.mean()) if values.size else None
            if name in PERCENTILE_RATES:
                p50, p90 = np.percentile(values, [50, 90]) if values.size else (None, None)
                result[f"{name}_p50"] = None if p50 is None else float(p50)
                result[f"{name}_p90"] = None if p90 is None else float(p90)
        result.update(
            char_edits=sums["char_edits"],
            truth_chars=sums["truth_chars"],
            ned_edits=sums["ned_edits"],
            ned_length=sums["ned_length"],
            word_edits=sums["word_edits"],
            truth_words=sums["wer_truth_words"],
        )
        results.append(result)
    return results


def summarize(pages: pa.Table, group_by: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Aggregates of a per-page metrics table, one dict per group (sorted by key, nulls last).

    Without ``group_by`` there is exactly one dict, even for an empty table (pages 0, rates
    null); with it, an empty table gives an empty list.
    """
    return finalize(partial_summary(pages, group_by), group_by)


# --- helpers -----------------------------------------------------------------------------------


def _aggregate(table: pa.Table, keys: list[str], *, nested: bool) -> pa.Table:
    """Group ``table`` by ``keys`` with Arrow's hash aggregation (no Python loop over groups):
    sum the :data:`SUM_COLUMNS`, check and keep the normalisation ids, and gather the non-null
    rate values into one list per group (``nested``: the column holds lists, concatenate them).
    Sorted by key, nulls last."""
    table = table.append_column(_ROW, pa.array(np.arange(table.num_rows, dtype=np.int64)))
    if not keys:
        table = table.append_column(_ALL, pa.array(np.zeros(table.num_rows, dtype=np.int8)))
    aggregations = [(name, "sum") for name in SUM_COLUMNS]
    aggregations += [(name, op) for name in NORMALIZATION_COLUMNS for op in ("min", "max")]
    aggregations.append((_ROW, "list"))
    grouped = table.group_by(keys or [_ALL], use_threads=False).aggregate(aggregations)
    if keys:
        grouped = grouped.sort_by([(key, "ascending") for key in keys])

    columns: dict[str, pa.Array | pa.ChunkedArray] = {key: grouped[key] for key in keys}
    for name in NORMALIZATION_COLUMNS:
        low, high = grouped[f"{name}_min"], grouped[f"{name}_max"]
        conflicts = pc.filter(
            pc.binary_join_element_wise(low, high, " vs "), pc.not_equal(low, high)
        )
        if len(conflicts):
            raise ValueError(
                f"cannot aggregate pages scored under different {name} ({conflicts[0]}); "
                f"group by {name!r} or score them the same way"
            )
        columns[name] = low.cast(pa.string())
    for name in SUM_COLUMNS:
        columns[name] = grouped[f"{name}_sum"].cast(pa.int64())

    # Rows of each group, in group order; the value lists are built from them in one pass.
    row_lists = grouped[f"{_ROW}_list"].combine_chunks()
    rows = pc.list_flatten(row_lists)
    group_of_row = np.asarray(pc.list_parent_indices(row_lists), dtype=np.int64)
    for name in MACRO_RATES:
        taken = table[f"{name}_values"].take(rows).combine_chunks()
        if nested:
            values = pc.list_flatten(taken)
            groups = group_of_row[np.asarray(pc.list_parent_indices(taken), dtype=np.int64)]
        else:
            values, groups = taken, group_of_row
        valid = np.asarray(values.is_valid(), dtype=bool)
        columns[f"{name}_values"] = _regroup(values.filter(valid), groups[valid], len(row_lists))

    result = pa.table(columns)
    if keys or result.num_rows:
        return result
    # No group_by and no pages: still one group, of nothing.
    empty_group = {
        **dict.fromkeys(NORMALIZATION_COLUMNS),
        **dict.fromkeys(SUM_COLUMNS, 0),
        **{f"{name}_values": [] for name in MACRO_RATES},
    }
    return pa.Table.from_pylist([empty_group], schema=result.schema)


def _regroup(values: pa.Array, groups: np.ndarray, count: int) -> pa.ListArray:
    """``count`` lists over ``values``, each value's list index given by ``groups`` (ascending)."""
    sizes = np.bincount(groups, minlength=count)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), values.cast(pa.float64()))


def _require(table: pa.Table, names: Sequence[str]) -> None:
    missing = [name for name in names if name not in table.column_names]
    if missing:
        raise ValueError(f"per-page metrics table lacks column(s): {', '.join(missing)}")


def _int_array(column: pa.ChunkedArray) -> np.ndarray:
    return np.asarray(column.fill_null(0).combine_chunks(), dtype=np.int64)


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None
