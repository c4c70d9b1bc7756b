"""A page's primary language, from its script and its commonest words.

Cheap on purpose (it runs on every page of the text route): the script of the page's letters
decides where the script names one language (Hangul: Korean, kana: Japanese, Greek, Hebrew,
Thai, ...); for Latin and Cyrillic text, the language whose function words ("the", "und",
"les", "и") the page uses most. A page with too few letters, or whose words match no list
well enough, has no language (null) rather than a guess.
"""

from __future__ import annotations

import re
from collections import Counter

SAMPLE_CHARS = 2000  # a page's first characters say its language as well as all of them
MIN_LETTERS = 40
MIN_FUNCTION_WORDS = 3  # of the winning language, and twice the runner-up's
MIN_FUNCTION_SHARE = 0.08  # of the page's words
# Different function words of the winner: lorem ipsum's "et" and "est" are no French.
MIN_DISTINCT_FUNCTION_WORDS = 4
_WORD = re.compile(r"[^\W\d_]+")

# ISO 639-1 codes; common function words of each, none on two lists ("que", "de", "to",
# "в" are left out: they would count for two languages).
FUNCTION_WORDS: dict[str, frozenset[str]] = {
    language: frozenset(words.split())
    for language, words in {
        "en": "the and of to is in that it for with as was are this be by from",
        "de": "der die und ist nicht mit sich auf für ein eine dem den zu auch",
        "fr": "le la les et des est une pour dans qui sur pas au du avec ce",
        "es": "el los las y del que es por una para con se su al lo como",
        "it": "il di che è per non sono della gli delle nel alla anche si degli",
        "pt": "o os e do da não uma com dos das em ao pelo mais foi",
        "nl": "de het een van en dat op te zijn niet voor met ook werd",
        "ru": "и что с по это как из к от но он она были",
        "uk": "і що з до це як від та але у його її було",
        "pl": "i w nie na się z że jest jak od dla ale przez",
    }.items()
}
LATIN_LANGUAGES = ("en", "de", "fr", "es", "it", "pt", "nl", "pl")
CYRILLIC_LANGUAGES = ("ru", "uk")

# Scripts by code point range, each with the language it names (None: decided by words).
_SCRIPTS: tuple[tuple[str, str, str | None], ...] = (
    ("latin", "A-Za-z\u00c0-\u024f", None),
    ("greek", "\u0370-\u03ff", "el"),
    ("cyrillic", "\u0400-\u04ff", None),
    ("hebrew", "\u0590-\u05ff", "he"),
    ("arabic", "\u0600-\u06ff", "ar"),
    ("devanagari", "\u0900-\u097f", "hi"),
    ("thai", "\u0e00-\u0e7f", "th"),
    ("kana", "\u3040-\u30ff", "ja"),
    ("han", "\u4e00-\u9fff", "zh"),
    ("hangul", "\uac00-\ud7af", "ko"),
)
# Runs of one script's characters, counted by the regex engine: a loop over a page's
# characters in Python would cost more than reading the page.
_RUNS = {script: re.compile(f"[{chars}]+") for script, chars, _ in _SCRIPTS}
_NAMES = {script: language for script, _, language in _SCRIPTS}
_LATIN = "latin"


def primary_language(text: str) -> str | None:
    """The ISO 639-1 code of the language most of ``text`` is in, or None when unsure."""
    sample = text[:SAMPLE_CHARS]
    words = _WORD.findall(sample)
    letters = sum(map(len, words))
    if letters < MIN_LETTERS:
        return None
    counts = {_LATIN: _letters(_LATIN, sample)}
    if counts[_LATIN] * 2 < letters:  # mostly another script: which one
        counts.update((script, _letters(script, sample)) for script in _RUNS if script != _LATIN)
    script = max(counts, key=counts.__getitem__)
    if counts[script] * 2 < letters:
        return None
    if script == "han" and counts.get("kana"):
        return "ja"  # Japanese writes kanji beside its kana
    if _NAMES[script] is not None:
        return _NAMES[script]
    candidates = LATIN_LANGUAGES if script == _LATIN else CYRILLIC_LANGUAGES
    return _by_function_words(words, candidates)


def _letters(script: str, text: str) -> int:
    return sum(map(len, _RUNS[script].findall(text)))


def _by_function_words(words: list[str], candidates: tuple[str, ...]) -> str | None:
    counts = Counter(word.casefold() for word in words)
    scores = sorted(
        ((sum(counts[word] for word in FUNCTION_WORDS[lang]), lang) for lang in candidates),
        reverse=True,
    )
    (best, language), (runner_up, _) = scores[0], scores[1]
    # Prose is a third function words or more; garbled text or a word list is not.
    needed = max(MIN_FUNCTION_WORDS, MIN_FUNCTION_SHARE * len(words))
    if best < needed or best < 2 * runner_up:
        return None
    if sum(1 for word in FUNCTION_WORDS[language] if counts[word]) < MIN_DISTINCT_FUNCTION_WORDS:
        return None
    return language
