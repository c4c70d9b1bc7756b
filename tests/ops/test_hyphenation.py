from __future__ import annotations

import pytest

from ops.layout.hyphenation import Vocabulary, dehyphenate


def test_pdfium_marks_become_the_word_the_document_uses():
    text = "Lorem ipsum, consectetuer adip\x02iscing elit.\nNulla adipiscing mauris."
    assert (
        dehyphenate(text) == "Lorem ipsum, consectetuer adipiscing elit.\nNulla adipiscing mauris."
    )


def test_a_compound_the_document_writes_with_its_hyphen_keeps_it():
    text = "The run\x02time cost.\nA run-time check, then another run-time check."
    assert dehyphenate(text).startswith("The run-time cost.")


def test_the_documents_vocabulary_decides_over_the_pages():
    vocabulary = Vocabulary.of(["We compile the code.", "It compiles."])
    assert dehyphenate("difficult to com-\npile than", vocabulary) == "difficult to compile\nthan"


@pytest.mark.parametrize(
    ("broken", "expected"),
    [
        ("an al-\nternative technique", "an alternative\ntechnique"),  # unknown halves: one word
        ("the non-\nEnglish pages", "the non-English\npages"),  # a capital after it: a compound
        ("or RE-\nQUIRESSTACK here", "or REQUIRESSTACK\nhere"),  # but not a word in capitals
        ("the interpreter-to-\ntrace path", "the interpreter-to-trace\npath"),  # in a compound
        (
            "a state-\nless design of the state and less",
            "a state-less\ndesign of the state and less",
        ),
        ("ends with 1990-\n2000 figures", "ends with 1990-\n2000 figures"),  # numbers stay apart
        ("a list:\n- first\n- second", "a list:\n- first\n- second"),  # list dashes are no breaks
        ("a dash -\nthen more", "a dash -\nthen more"),  # a spaced dash is punctuation
    ],
)
def test_line_end_hyphens_of_ocr_text(broken, expected):
    assert dehyphenate(broken) == expected


def test_a_line_that_was_only_the_end_of_the_word_disappears():
    assert dehyphenate("first lines of a para-\ngraph\nnext line") == (
        "first lines of a paragraph\nnext line"
    )


def test_a_word_broken_over_three_lines_is_joined_whole():
    assert dehyphenate("the extra-\nordi-\nnary result") == "the extraordinary\nresult"


def test_broken_halves_are_not_counted_as_words():
    vocabulary = Vocabulary.of(["consectetuer adip\x02iscing elit", "sen-\ntence"])
    assert vocabulary.words["adip"] == 0 and vocabulary.words["iscing"] == 0
    assert vocabulary.words["sen"] == 0 and vocabulary.words["elit"] == 1


def test_a_break_inside_a_compound_keeps_its_hyphen():
    assert dehyphenate("number of interpreter-to\x02trace transitions") == (
        "number of interpreter-to-trace transitions"
    )
    # The first word after the break is one the document uses on its own: a compound.
    assert dehyphenate("from interpreter\x02to-trace and back to it") == (
        "from interpreter-to-trace and back to it"
    )
    assert dehyphenate("the interpreter-\nto-trace path to it") == (
        "the interpreter-to-trace\npath to it"
    )
    assert dehyphenate("a sen-\ntence-based approach") == "a sentence-based\napproach"


def test_text_without_hyphens_is_returned_as_it_is():
    text = "Plain text\nwith lines"
    assert dehyphenate(text) is text
