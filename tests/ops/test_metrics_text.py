"""Per-page counts and rates: hand-computed cases, jiwer reference values, the Arrow table."""

from __future__ import annotations

import random
from collections import Counter

import jiwer
import pyarrow as pa
import pytest
from rapidfuzz.distance import Levenshtein

from ops.metrics.normalize import normalize
from ops.metrics.text import PAGE_METRICS_SCHEMA, RATE_COLUMNS, PageCounts, pages_table, score_page


def test_kitten_sitting() -> None:
    page = score_page("kitten", "sitting")
    assert (page.truth_chars, page.output_chars, page.char_edits) == (6, 7, 3)
    assert page.cer == 3 / 6
    assert (page.ned_edits, page.ned_length, page.ned) == (3, 7, 3 / 7)
    assert (page.truth_words, page.output_words, page.word_edits, page.wer) == (1, 1, 1, 1.0)
    assert (page.bow_overlap, page.bow_precision, page.bow_recall, page.bow_f1) == (0, 0, 0, 0)
    assert page.normalization == "n1.v1"
    assert page.ned_normalization == "n2.v1"


def test_identical_texts_score_perfectly() -> None:
    page = score_page("The cat sat on the mat.", "The  cat sat\non the mat.")
    assert (page.cer, page.ned, page.wer) == (0.0, 0.0, 0.0)
    assert (page.bow_precision, page.bow_recall, page.bow_f1) == (1.0, 1.0, 1.0)
    assert page.hallucinated_chars == 0


def test_word_errors_and_bag_of_words() -> None:
    # truth words: the cat sat on the mat (6); output drops "on", changes "mat", adds "now".
    page = score_page("the cat sat on the mat", "the cat sat the hat now")
    assert page.word_edits == 3  # delete "on", substitute mat->hat, insert "now"
    assert page.wer == 3 / 6
    assert page.bow_overlap == 4  # the x2, cat, sat
    assert page.bow_precision == 4 / 6
    assert page.bow_recall == 4 / 6
    assert page.bow_f1 == pytest.approx(2 * (4 / 6) * (4 / 6) / (4 / 6 + 4 / 6))


def test_bag_of_words_ignores_order() -> None:
    """A two-column page read across the columns: poor CER, perfect bag of words."""
    truth = "left one left two right one right two"
    output = "left one right one left two right two"
    page = score_page(truth, output)
    assert page.cer is not None and page.cer > 0.2
    assert (page.bow_precision, page.bow_recall, page.bow_f1) == (1.0, 1.0, 1.0)


def test_empty_truth_records_hallucinated_characters() -> None:
    page = score_page("", "ghost text")
    assert page.truth_chars == 0
    assert page.cer is None
    assert page.hallucinated_chars == page.output_chars == page.char_edits == 10
    assert page.ned == 1.0
    assert page.wer is None
    assert page.word_edits == 2
    assert (page.bow_precision, page.bow_recall, page.bow_f1) == (0.0, None, 0.0)


def test_empty_output() -> None:
    page = score_page("two words", "   ")
    assert (page.cer, page.ned, page.wer) == (1.0, 1.0, 1.0)
    assert (page.bow_precision, page.bow_recall, page.bow_f1) == (None, 0.0, 0.0)


def test_both_empty_is_null_not_zero() -> None:
    page = score_page("", "<br>")
    assert (page.char_edits, page.ned_edits, page.ned_length) == (0, 0, 0)
    assert (page.cer, page.ned, page.wer) == (None, None, None)
    assert (page.bow_precision, page.bow_recall, page.bow_f1) == (None, None, None)


def test_cer_is_unbounded_and_ned_is_not() -> None:
    page = score_page("short", "short " * 20)
    assert page.cer is not None and page.cer > 10
    assert page.ned is not None and 0 < page.ned <= 1


@pytest.mark.parametrize(
    "truth",
    [
        "这是一个没有空格的中文句子。",
        "これは日本語の文章です。",
        "ภาษาไทยเขียนติดกัน",
        "第3章 实验结果表明 GPU 比 CPU 快很多。",
    ],
)
def test_unspaced_scripts_have_no_word_metrics(truth: str) -> None:
    page = score_page(truth, truth[:-2])
    assert page.word_edits is None and page.bow_overlap is None
    assert page.wer is None and page.bow_f1 is None and page.bow_precision is None
    assert page.cer is not None and page.cer > 0


def test_unspaced_threshold_is_a_fifth_of_the_non_space_characters() -> None:
    # 10 non-space characters: 2 Han (20 %) switches WER off, 1 Han (10 %) does not.
    assert score_page("abcd efgh \u4e2d\u6587", "abcd efgh").wer is None
    assert score_page("abcde fghi \u4e2d", "abcde fghi").wer == 1 / 3
    # Korean is written with spaces.
    assert score_page("\ud55c\uad6d\uc5b4 \ubb38\uc7a5", "\ud55c\uad6d\uc5b4").wer == 0.5


def test_normalisation_choice_changes_cer_not_ned() -> None:
    truth = "\u201cQuoted\u201d \u2014 **text**"
    output = '"Quoted" - text'
    n0, n1, n2 = (score_page(truth, output, normalization=form) for form in ("n0", "n1", "n2"))
    assert n0.cer is not None and n0.cer > 0
    assert n1.cer == 0.0
    assert n2.cer == 0.0
    assert (n0.normalization, n1.normalization, n2.normalization) == ("n0.v1", "n1.v1", "n2.v1")
    assert n0.ned == n1.ned == n2.ned == 0.0


def test_n2_counts_describe_the_n2_text() -> None:
    page = score_page("It's a well-known fact.", "Its a wellknown fact", normalization="n2")
    assert page.truth_chars == len("Itsawellknownfact")
    assert page.char_edits == page.ned_edits == 0
    assert (page.truth_words, page.word_edits) == (4, 0)


def test_casefold_flag() -> None:
    assert score_page("Hello World", "hello world").cer == 2 / 11
    folded = score_page("Hello World", "hello world", casefold=True)
    assert folded.cer == 0.0 and folded.ned == 0.0 and folded.wer == 0.0
    assert folded.normalization == "n1.v1+casefold"
    assert folded.ned_normalization == "n2.v1+casefold"


def test_unknown_normalisation_raises() -> None:
    with pytest.raises(ValueError, match="n0, n1, n2"):
        score_page("a", "b", normalization="nfkc")


# --- reference values --------------------------------------------------------------------------

_VOCABULARY = [
    "the", "of", "and", "page", "text", "model", "result", "table", "figure", "data", "a", "in",
    "is", "was", "error", "rate", "character", "word", "scan", "document", "ocr", "value", "x1",
    "2024", "colour", "naïve", "über", "résumé", "it's", "e.g.", "(see", "above)", "42%",
]  # fmt: skip


def _mutate(rng: random.Random, words: list[str]) -> list[str]:
    out: list[str] = []
    for word in words:
        roll = rng.random()
        if roll < 0.05:
            continue  # word deleted
        if roll < 0.10:
            out.append(rng.choice(_VOCABULARY))  # substituted
        elif roll < 0.14:
            out.extend((word, rng.choice(_VOCABULARY)))  # insertion after
        elif roll < 0.20 and len(word) > 1:
            position = rng.randrange(len(word))
            out.append(word[:position] + rng.choice("aeilo1.,") + word[position + 1 :])
        elif roll < 0.22 and len(word) > 3:
            out.extend((word[:2], word[2:]))  # split
        else:
            out.append(word)
    if out and rng.random() < 0.2:
        out[-1] += out.pop() if len(out) > 1 else ""  # merge two words
    return out


def _pairs(seed: int, count: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    pairs = []
    for _ in range(count):
        truth_words = rng.choices(_VOCABULARY, k=rng.randint(1, 120))
        pairs.append((" ".join(truth_words), " ".join(_mutate(rng, truth_words))))
    return pairs


def test_wer_and_cer_equal_jiwer() -> None:
    pairs = _pairs(seed=1234, count=200)
    for truth, output in pairs:
        # Already n1-normal, so score_page sees the same strings as jiwer.
        assert normalize(truth) == truth and normalize(output) == output
        page = score_page(truth, output)
        assert page.wer == pytest.approx(jiwer.wer(truth, output), abs=1e-9)
        assert page.cer == pytest.approx(jiwer.cer(truth, output), abs=1e-9)


def test_bag_of_words_overlap_equals_counter_intersection() -> None:
    for truth, output in _pairs(seed=99, count=100):
        expected = sum((Counter(truth.split()) & Counter(output.split())).values())
        assert score_page(truth, output).bow_overlap == expected


def test_banded_distances_are_exact() -> None:
    """score_page passes rapidfuzz a score_hint; results must not depend on it."""
    rng = random.Random(5)
    for edit_rate in (0.0, 0.01, 0.1, 0.5, 1.0):
        for _ in range(10):
            truth = " ".join(rng.choices(_VOCABULARY, k=rng.randint(50, 700)))
            output = "".join(
                rng.choice("abcdefghij ,.") if rng.random() < edit_rate else char for char in truth
            )
            page = score_page(truth, output)
            assert page.char_edits == Levenshtein.distance(normalize(truth), normalize(output))
            truth_n2, output_n2 = normalize(truth, "n2"), normalize(output, "n2")
            assert page.ned_edits == Levenshtein.distance(truth_n2, output_n2)


# --- Arrow table -------------------------------------------------------------------------------


def _assorted_pages() -> list[PageCounts]:
    pages = [score_page(truth, output) for truth, output in _pairs(seed=3, count=30)]
    pages += [
        score_page("", "ghost"),
        score_page("", ""),
        score_page("text", ""),
        score_page("\u4e2d\u6587\u6587\u672c", "\u4e2d\u6587"),
        score_page("a b", "a b c", normalization="n0"),
    ]
    return pages


def test_pages_table_matches_the_dataclass_exactly() -> None:
    pages = _assorted_pages()
    table = pages_table(pages)
    assert table.schema == PAGE_METRICS_SCHEMA
    assert table.num_rows == len(pages)
    rows = table.to_pylist()
    for page, row in zip(pages, rows, strict=True):
        for name in ("normalization", "truth_chars", "char_edits", "word_edits", "bow_overlap"):
            assert row[name] == getattr(page, name)
        for name in RATE_COLUMNS:
            assert row[name] == getattr(page, name), name  # bit-identical, None for null


def test_pages_table_of_nothing_has_the_schema() -> None:
    table = pages_table([])
    assert table.num_rows == 0
    assert table.schema == PAGE_METRICS_SCHEMA


def test_pages_table_counts_are_integers_and_rates_floats() -> None:
    for name in ("truth_chars", "char_edits", "ned_length", "word_edits", "bow_overlap"):
        assert pa.types.is_integer(PAGE_METRICS_SCHEMA.field(name).type)
    for name in RATE_COLUMNS:
        assert PAGE_METRICS_SCHEMA.field(name).type == pa.float64()
