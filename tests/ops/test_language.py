"""Each page's primary language, from its script and function words, or null when unsure."""

from __future__ import annotations

import pytest

from ops.layout.language import FUNCTION_WORDS, primary_language
from tests.ops.test_pages import rows_for


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Der schnelle braune Fuchs springt über den faulen Hund, und die Katze ist nicht "
         "mit ihm auf dem Weg zu einer Wiese.", "de"),
        ("Le renard brun rapide saute par-dessus le chien paresseux et les chats sont dans la "
         "maison pour une nuit avec du pain.", "fr"),
        ("El rápido zorro marrón salta sobre el perro perezoso y los gatos del vecino duermen "
         "con su dueño para la noche.", "es"),
        ("Быстрая коричневая лиса прыгает через ленивую собаку, и это было как сон, что он "
         "видел по ночам из окна.", "ru"),
        ("Η γρήγορη καφέ αλεπού πηδάει πάνω από τον τεμπέλη σκύλο στο χωράφι.", "el"),
        ("素早い茶色の狐がのろまな犬を飛び越えた。"
         "それから狐は森へ帰っていき、犬はまだ眠っていました。", "ja"),
    ],
)  # fmt: skip
def test_languages_by_script_and_words(text, language):
    assert primary_language(text) == language


def open_truth(name: str) -> str:
    from tests.conftest import SHARED_DATA

    if SHARED_DATA is None:
        pytest.skip("no shared data")
    return (SHARED_DATA / name).read_text()


def test_too_little_text_or_no_clear_winner_is_null():
    assert primary_language("Table 3") is None
    assert primary_language("") is None
    numbers = "12.5 13.7 88 -4 1,234 " * 20
    assert primary_language(numbers) is None
    lorem = open_truth("gt_scanned/dinglehopper_lorem/lorem-ipsum-scan.gt.txt")
    assert primary_language(lorem) is None  # "et" and "est" make no French
    word_list = "Vienna Brussels Prague Copenhagen Helsinki Austria Belgium Denmark Finland " * 3
    assert primary_language(word_list) is None


def test_no_function_word_counts_for_two_languages():
    for language, words in FUNCTION_WORDS.items():
        for other, other_words in FUNCTION_WORDS.items():
            if other != language:
                assert not words & other_words, (language, other)


def test_text_route_pages_carry_their_language(shared_data):
    data = shared_data / "born_digital"
    assert {row["primary_language"] for row in rows_for(data / "papers" / "tracemonkey.pdf")} == {
        "en"
    }
    korean = rows_for(data / "non_latin" / "normal_4pages.pdf")
    assert [row["primary_language"] for row in korean] == ["ko"] * 4
    (arabic,) = rows_for(data / "non_latin" / "ArabicCIDTrueType.pdf")
    assert arabic["primary_language"] == "ar"
    # A garbled layer (letters shifted by one) is in no language it could name.
    import pypdfium2 as pdfium

    garbled = pdfium.PdfDocument(shared_data / "text_layer_unreliable" / "dolma-page-1.pdf")
    assert primary_language(garbled[0].get_textpage().get_text_bounded()) is None
