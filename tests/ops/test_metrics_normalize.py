"""Normalisation forms n0/n1/n2: folding, markup stripping, n2 deletion, casefold and ids."""

from __future__ import annotations

import random
import re
import unicodedata

import pytest

from ops.metrics.normalize import FORMS, n2_words, normalization_id, normalize


def test_forms_and_versioned_ids() -> None:
    assert FORMS == ("n0", "n1", "n2")
    assert normalization_id() == "n1.v1"
    assert normalization_id("n0") == "n0.v1"
    assert normalization_id("n2", casefold=True) == "n2.v1+casefold"


@pytest.mark.parametrize("call", [lambda: normalize("x", "n3"), lambda: normalization_id("N1")])
def test_unknown_form_lists_the_valid_ones(call) -> None:
    with pytest.raises(ValueError, match="n0, n1, n2"):
        call()


def test_n0_is_nfc_only() -> None:
    decomposed = "Cafe\u0301 \u201cquoted\u201d \u2014  **bold**\n"
    assert normalize(decomposed, "n0") == "Caf\u00e9 \u201cquoted\u201d \u2014  **bold**\n"


def test_n1_folds_quotes_dashes_low_line_and_micro() -> None:
    text = "‘a’ ‚b’ “c” „d“ 1\u20132\u20143\u20114\u20125\u22126 x\uff3fy 5\u00b5m"
    assert normalize(text) == "'a' 'b' \"c\" \"d\" 1-2-3-4-5-6 x_y 5\u03bcm"
    assert normalize(text, "n0") == text


def test_n1_applies_nfc_before_folding() -> None:
    assert normalize("e\u0301t\u00e9\u2019s") == "\u00e9t\u00e9's"


def test_n1_collapses_whitespace_and_trims() -> None:
    assert normalize("  a\t\tb\n\n c\u00a0\u2003d \r\n") == "a b c d"
    assert normalize(" \n\t ") == ""
    assert normalize("") == ""


@pytest.mark.parametrize(
    ("markdown", "plain"),
    [
        ("# Title\n## Sub title\n###### Six", "Title Sub title Six"),
        ("#hashtag and #1 stay", "#hashtag and #1 stay"),
        ("- one\n* two\n+ three\n  - nested\n\u2022 dot", "one two three nested dot"),
        ("1. first\n2) second\n10. tenth", "first second tenth"),
        ("in the year\n1984. The end", "in the year 1984. The end"),
        ("a - b and 3 * 4", "a - b and 3 * 4"),
        ("**bold** and __strong__", "bold and strong"),
        ("*em* and _em_ here", "em and em here"),
        ("***both*** ends", "both ends"),
        ("**a*b** keeps", "**a*b** keeps"),
        ("(**Note:** text)", "(Note: text)"),
        ("snake_case_name and my_var_x", "snake_case_name and my_var_x"),
        ("2*3*4 and 2**10 and a * b * c", "2*3*4 and 2**10 and a * b * c"),
        ("un*frigging*believable", "un*frigging*believable"),
        ("a*b* c and d _e_f", "a*b* c and d _e_f"),
        ("__init__ method", "init method"),
        ("*not\nacross* lines", "*not across* lines"),
        ("** spaced ** stays", "** spaced ** stays"),
        (
            "![a chart](img/c.png) and [the site](https://x.org/a_(b)) end",
            "a chart and the site end",
        ),
        ('[link](http://x.org "Title") ok', "link ok"),
        ("[![logo](l.png)](https://x.org)", "logo"),
        ("[not a link] (x)", "[not a link] (x)"),
    ],
)
def test_n1_strips_markdown_conservatively(markdown: str, plain: str) -> None:
    assert normalize(markdown) == plain


@pytest.mark.parametrize(
    ("html", "plain"),
    [
        ("line one<br>line two<br/>three<br />four", "line one line two three four"),
        ("<p>first</p><p>second</p>", "first second"),
        ("<table><tr><td>a</td><td>b</td></tr></table>", "a b"),
        ("H<sub>2</sub>O and <b>bold</b> <i class='x'>it</i>", "H2O and bold it"),
        ("<DIV>upper</DIV>", "upper"),
        ("before<!-- a\ncomment -->after", "beforeafter"),
        ("x<y, y>z and a < b > c", "x<y, y>z and a < b > c"),
        ("see <https://example.org>", "see <https://example.org>"),
        ("AT&amp;T", "AT&amp;T"),
    ],
)
def test_n1_strips_html_tags(html: str, plain: str) -> None:
    assert normalize(html) == plain


def test_markup_survives_n0() -> None:
    assert normalize("# **T**<br>", "n0") == "# **T**<br>"


def test_n2_deletes_everything_but_word_characters() -> None:
    text = "Hello, World! “It’s” 3.5 % \u2014 snake_case; 中文。日本 été"
    assert normalize(text, "n2") == "HelloWorldIts35snake_case\u4e2d\u6587\u65e5\u672c\u00e9t\u00e9"


def test_n2_builds_on_n1() -> None:
    assert normalize("## **Bold** [link](http://x.org)<br>", "n2") == "Boldlink"


def _random_text(rng: random.Random) -> str:
    alphabet = (
        "abcXYZ019_ .,;:!?'\"()[]{}<>#*-+/\\@&%$\t\n\u00a0\u2003\u00e9\u00df\u0301"
        "\u2018\u2019\u201c\u201d\u2013\u2014\u2212\u00b5\uff3f\u4e2d\u6587\u3002\u3042\u30a2"
        "\u0e01\u0410\u05d0\u0661\U0001f600\u200b\x1c"
    )
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))


def test_n2_matches_the_spec_regex_on_random_text() -> None:
    """n2 takes a translate() shortcut for ASCII; both paths must equal the spec's definition."""
    rng = random.Random(7)
    for _ in range(500):
        text = _random_text(rng)
        if rng.random() < 0.5:
            text = text.encode("ascii", "ignore").decode()
        n1_text = normalize(text)
        expected = re.sub(r"[^\w\u4e00-\u9fff]", "", n1_text)
        assert normalize(text, "n2") == expected
        assert "".join(n2_words(n1_text)) == expected


def test_n1_output_is_nfc_and_single_spaced_on_random_text() -> None:
    rng = random.Random(11)
    for _ in range(300):
        result = normalize(_random_text(rng))
        assert unicodedata.is_normalized("NFC", result)
        assert result == " ".join(result.split())


def test_n2_words_keep_word_boundaries() -> None:
    assert n2_words("it's a well-known (fact) , ok") == ["its", "a", "wellknown", "fact", "ok"]
    assert n2_words("") == []


def test_casefold_is_a_separate_flag() -> None:
    assert normalize("Stra\u00dfe IST Gro\u00df") == "Stra\u00dfe IST Gro\u00df"
    assert normalize("Stra\u00dfe IST Gro\u00df", casefold=True) == "strasse ist gross"
    assert normalize("\u00c9T\u00c9", "n0", casefold=True) == "\u00e9t\u00e9"
    assert normalize("A-b C", "n2", casefold=True) == "abc"
