"""Aggregation of per-page counts: micro vs macro, percentiles, groups, nulls, merging shards."""

from __future__ import annotations

import json
import random

import jiwer
import pyarrow as pa
import pytest

from ops.metrics.aggregate import finalize, merge_partials, partial_summary, summarize
from ops.metrics.text import RATE_COLUMNS, PageCounts, pages_table, score_page


def _page(
    truth_chars: int,
    char_edits: int,
    *,
    output_chars: int | None = None,
    truth_words: int = 10,
    output_words: int = 10,
    word_edits: int | None = 0,
    bow_overlap: int | None = 10,
    normalization: str = "n1.v1",
) -> PageCounts:
    output_chars = truth_chars if output_chars is None else output_chars
    return PageCounts(
        normalization=normalization,
        ned_normalization="n2.v1",
        truth_chars=truth_chars,
        output_chars=output_chars,
        char_edits=char_edits,
        ned_edits=char_edits,
        ned_length=max(truth_chars, output_chars),
        truth_words=truth_words,
        output_words=output_words,
        word_edits=word_edits,
        bow_overlap=bow_overlap,
    )


def _with_columns(table: pa.Table, **columns: list[object]) -> pa.Table:
    for name, values in columns.items():
        table = table.append_column(name, pa.array(values))
    return table


def test_micro_and_macro_differ_as_expected() -> None:
    # A long page with CER 0.1 and a short one with CER 0.5.
    table = pages_table(
        [
            _page(100, 10, truth_words=20, word_edits=2),
            _page(10, 5, truth_words=2, word_edits=2, bow_overlap=2),
        ]
    )
    [summary] = summarize(table)
    assert summary["pages"] == 2
    assert summary["cer"] == 15 / 110  # micro: weighted by length
    assert summary["cer_macro"] == pytest.approx(0.3)
    assert summary["cer_p50"] == pytest.approx(0.3)
    assert summary["cer_p90"] == pytest.approx(0.1 + 0.9 * 0.4)  # linear interpolation
    assert summary["wer"] == 4 / 22
    assert summary["wer_macro"] == pytest.approx((0.1 + 1.0) / 2)
    assert summary["ned"] == 15 / 110
    assert summary["bow_recall"] == 12 / 22
    assert summary["bow_precision"] == 12 / 20
    assert summary["bow_f1"] == 24 / 42
    assert summary["bow_recall_macro"] == pytest.approx((10 / 20 + 2 / 2) / 2)
    assert (summary["char_edits"], summary["truth_chars"]) == (15, 110)
    assert summary["normalization"] == "n1.v1" and summary["ned_normalization"] == "n2.v1"


def test_empty_truth_pages_are_counted_apart() -> None:
    table = pages_table(
        [
            _page(100, 10),
            _page(
                0, 40, output_chars=40, truth_words=0, output_words=8, word_edits=8, bow_overlap=0
            ),
            _page(0, 0, output_chars=0, truth_words=0, output_words=0, word_edits=0, bow_overlap=0),
        ]
    )
    [summary] = summarize(table)
    assert summary["pages"] == 3
    assert summary["pages_empty_truth"] == 2
    assert summary["hallucinated_chars"] == 40
    assert summary["cer"] == 0.1  # hallucinations stay out of the CER ratio
    assert summary["cer_macro"] == 0.1
    assert summary["wer"] == 0.0 and summary["truth_words"] == 10
    assert summary["ned"] == 50 / 140  # NED takes every page, like OmniDocBench's edit_whole
    assert summary["ned_macro"] == pytest.approx((0.1 + 1.0) / 2)  # empty/empty has no NED
    assert summary["bow_precision"] == 10 / 18  # hallucinated words cost precision


def test_unspaced_pages_drop_out_of_word_metrics() -> None:
    table = pages_table(
        [
            _page(100, 10, word_edits=5, bow_overlap=6),
            _page(50, 5, word_edits=None, bow_overlap=None),
        ]
    )
    [summary] = summarize(table)
    assert summary["pages_unspaced"] == 1
    assert summary["wer"] == 0.5
    assert summary["bow_recall"] == 0.6
    assert summary["wer_p50"] == 0.5
    assert summary["cer"] == 15 / 150


def test_group_by_sorts_keys_with_nulls_last() -> None:
    table = pages_table([_page(10, 1), _page(10, 2), _page(10, 3), _page(10, 4)])
    table = _with_columns(table, route=["text", "ocr", None, "ocr"], backend=["a", "b", "b", "b"])
    summaries = summarize(table, ["route"])
    assert [s["route"] for s in summaries] == ["ocr", "text", None]
    assert [s["pages"] for s in summaries] == [2, 1, 1]
    assert [s["cer"] for s in summaries] == [6 / 20, 1 / 10, 3 / 10]
    two_keys = summarize(table, ["backend", "route"])
    assert [(s["backend"], s["route"], s["pages"]) for s in two_keys] == [
        ("a", "text", 1),
        ("b", "ocr", 2),
        ("b", None, 1),
    ]


def test_empty_table() -> None:
    empty = pages_table([])
    [summary] = summarize(empty)
    assert summary["pages"] == 0
    for name in RATE_COLUMNS:
        assert summary[name] is None
        assert summary[f"{name}_macro"] is None
    assert summary["cer_p90"] is None
    assert summarize(_with_columns(empty, route=pa.array([], pa.string())), ["route"]) == []


def test_group_without_defined_rates_gets_nulls() -> None:
    table = pages_table([_page(0, 0, output_chars=0, truth_words=0, output_words=0)])
    [summary] = summarize(table)
    assert summary["pages"] == 1
    assert (summary["cer"], summary["ned"], summary["wer"], summary["bow_f1"]) == (None,) * 4
    assert (summary["cer_p50"], summary["ned_macro"]) == (None, None)


def test_summaries_are_strict_json() -> None:
    table = pages_table([_page(10, 1), _page(0, 3, output_chars=3), _page(5, 0, word_edits=None)])
    table = _with_columns(table, route=["ocr", "ocr", "text"])
    json.dumps(summarize(table, ["route"]), allow_nan=False)


def test_mixed_normalisations_refuse_to_aggregate() -> None:
    table = pages_table([_page(10, 1), _page(10, 1, normalization="n0.v1")])
    with pytest.raises(ValueError, match="different normalization"):
        summarize(table)
    assert len(summarize(table, ["normalization"])) == 2


def test_missing_columns_are_reported() -> None:
    table = pages_table([_page(10, 1)]).drop_columns(["char_edits"])
    with pytest.raises(ValueError, match="char_edits"):
        summarize(table)
    with pytest.raises(ValueError, match="route"):
        summarize(pages_table([_page(10, 1)]), ["route"])


def test_rates_are_recomputed_from_counts() -> None:
    table = pages_table([_page(10, 1), _page(20, 4)])
    assert summarize(table.drop_columns(list(RATE_COLUMNS))) == summarize(table)


def _scored_pages(seed: int, count: int) -> tuple[list[str], list[str], pa.Table]:
    rng = random.Random(seed)
    words = ["the", "of", "a", "page", "text", "scan", "ocr", "model", "table", "figure", "data"]
    truths, outputs = [], []
    for _ in range(count):
        truth = rng.choices(words, k=rng.randint(1, 40))
        output = [rng.choice(words) if rng.random() < 0.15 else word for word in truth]
        truths.append(" ".join(truth))
        outputs.append(" ".join(output[: len(output) - rng.randint(0, 2)]))
    table = pages_table([score_page(t, o) for t, o in zip(truths, outputs, strict=True)])
    return truths, outputs, table


def test_micro_rates_equal_jiwer_corpus_rates() -> None:
    truths, outputs, table = _scored_pages(seed=8, count=60)
    [summary] = summarize(table)
    assert summary["wer"] == pytest.approx(jiwer.wer(truths, outputs), abs=1e-9)
    assert summary["cer"] == pytest.approx(jiwer.cer(truths, outputs), abs=1e-9)


def test_merged_shards_equal_the_whole() -> None:
    _, _, table = _scored_pages(seed=21, count=90)
    rng = random.Random(0)
    table = _with_columns(table, route=[rng.choice(["text", "ocr", None]) for _ in range(90)])
    shards = [table.slice(0, 40), table.slice(40, 0), table.slice(40, 50)]
    for keys in ([], ["route"]):
        partials = [partial_summary(shard, keys) for shard in shards]
        merged = finalize(merge_partials(partials, keys), keys)
        whole = summarize(table, keys)
        assert len(merged) == len(whole)
        for got, expected in zip(merged, whole, strict=True):
            assert got.keys() == expected.keys()
            for name, value in expected.items():
                if isinstance(value, float):
                    assert got[name] == pytest.approx(value, rel=1e-12), name
                else:
                    assert got[name] == value, name


def test_merge_rejects_conflicting_normalisations() -> None:
    first = partial_summary(pages_table([_page(10, 1)]))
    second = partial_summary(pages_table([_page(10, 1, normalization="n2.v1")]))
    with pytest.raises(ValueError, match="different normalization"):
        merge_partials([first, second])
    with pytest.raises(ValueError, match="at least one"):
        merge_partials([])
