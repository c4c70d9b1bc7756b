from __future__ import annotations

import pytest

from ops import text_quality
from ops.text_quality import assess

ENGLISH = (
    "Proceedings of the annual meeting of the association for computational linguistics. "
    "We present a corpus of three trillion tokens for language model pretraining research, "
    "and we describe how the data was collected, filtered and released to the community."
)


def caesar(text: str, shift: int) -> str:
    out = []
    for char in text:
        if char.isascii() and char.isalpha():
            base = ord("a") if char.islower() else ord("A")
            out.append(chr(base + (ord(char) - base + shift) % 26))
        else:
            out.append(char)
    return "".join(out)


def test_ordinary_prose_scores_high():
    assert assess(ENGLISH).score >= 0.95


@pytest.mark.parametrize("shift", [-1, 3, 13])
def test_caesar_shifted_text_scores_low(shift):
    quality = assess(caesar(ENGLISH, shift))
    assert quality.score < 0.5
    assert quality.reason == "implausible_words"


def test_private_use_glyphs_score_low():
    glyphs = "".join(chr(0xE000 + (i % 200)) for i in range(300))
    assert assess(glyphs + " " + ENGLISH[:40]).score < 0.3


def test_mojibake_scores_low():
    broken = ENGLISH.encode("utf-8").decode("latin-1")  # clean ASCII stays clean
    assert assess(broken).score >= 0.95
    garbled = ("Ã©tÃ© prÃ©sentÃ© Ã  lâ€™universitÃ© " * 10).strip()
    assert assess(garbled).score < 0.5


def test_symbol_soup_scores_low():
    assert assess("!\"# $%& '()* +,-./ :;<=> ?@[\\]^_ {|}~ " * 20).score < 0.2


@pytest.mark.parametrize(
    "text",
    [
        "انواع الخطوط العربية في الطباعة الحديثة وأشكالها المختلفة",
        "코로나바이러스감염증 관련 보험 현황과 쟁점에 관한 보고서입니다",
        "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor "
        "incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud "
        "exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat.",
        "Table 3: 12.5 17.0 22.1 31.9 44.0 58.2 73.7 91.3",
    ],
)
def test_other_scripts_latin_filler_and_numbers_are_not_penalised(text):
    assert assess(text).score >= 0.5


def test_empty_text():
    quality = assess("  \n\t ")
    assert quality.score == 0.0
    assert quality.visible_chars == 0


@pytest.mark.parametrize(
    "visible",
    [
        "".join(ENGLISH.split()),
        "snake_case__and--dashes!!#",
        "ctrl\x01\x02\x07chars\x7fand_digits0123",
        "".join(chr(code) for code in range(33, 127)),
    ],
)
def test_ascii_fast_path_counts_like_the_unicode_regexes(visible):
    """The byte-level path must agree with the general one it short-cuts."""
    assert visible.isascii()
    general = (
        len(text_quality._NOT_ALNUM.sub("", visible)),
        len(text_quality._BAD_CHARS.findall(visible)),
        len(text_quality._MOJIBAKE.findall(visible)),
    )
    assert text_quality._character_counts(visible, visible) == general
