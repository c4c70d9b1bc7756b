"""Text normalisation applied identically to the truth and the output before they are compared.

Scores are only comparable when both sides went through the same rules, so every form has a
versioned id (``n1.v1``) that is stored next to each score; change a rule and the version goes up.

``n0``
    Unicode NFC only: differences in how a character was *encoded* are not errors.
``n1`` (default)
    NFC; curly quotes, dashes, the fullwidth low line and the micro sign fold to one spelling
    each (engines disagree on these far more often than readers do); markdown and HTML markup is
    stripped, because a VLM's ``**Title**`` and a text layer's ``Title`` say the same thing;
    whitespace collapses to single spaces and the ends are trimmed (line breaks and column gaps
    are layout, not text).
``n2``
    OmniDocBench-compatible: ``n1``, then every character outside ``[\\w\\u4e00-\\u9fff]`` is
    deleted (punctuation *and* whitespace).

Case folding (``str.casefold``) is a separate flag, off by default; it runs after the markup and
whitespace steps and before the ``n2`` deletion, and the id gains a ``+casefold`` suffix.

Markup stripping is deliberately conservative, since the same rules run over plain-text truth
where ``*`` and ``_`` are ordinary characters:

* HTML: ``<!-- comments -->`` go; a tag is ``<``/``</`` + a letter-led name + nothing or
  whitespace-led attributes + ``>`` (so ``x<y, y>z`` and ``<https://…>`` survive).
  Block-level tags (``p``, ``div``, ``br``, ``td``, ``li``, ``h1``…) become a space so table
  cells and paragraphs do not fuse; inline tags (``b``, ``i``, ``span``, ``sup``…) vanish so
  ``H<sub>2</sub>O`` stays one word. Entities (``&amp;``) are left alone.
* Images ``![alt](url)`` become ``alt`` and links ``[text](url)`` become ``text`` (one level of
  nesting, e.g. a linked image, is undone too).
* At the start of a line, after optional indentation: ATX headings (1-6 ``#`` *followed by a
  space*, so ``#hashtag`` stays) and list markers ``-``, ``*``, ``+``, ``•`` or 1-3 digits with
  ``.``/``)`` (so a line starting ``1984. The`` keeps its year), each followed by a space.
* Emphasis ``**x**``, ``__x__``, ``*x*``, ``_x_``: the opening marker must not follow a word
  character and the closing one must not precede one, the content must start and end with a
  non-space character, and it may neither cross a line break nor contain its own marker
  character (``**a*b**`` keeps its stars). So ``snake_case_name``, ``2*3*4``,
  ``a * b * c`` and ``2**10`` are untouched, while a whole-word dunder such as ``__init__`` *is*
  read as bold (as CommonMark does; harmless, because both sides lose the same markers).
  Unlike CommonMark, intraword star emphasis (``un*frigging*believable``) is kept.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

FORMS: Final[tuple[str, ...]] = ("n0", "n1", "n2")
DEFAULT_FORM: Final = "n1"
# The version of each form's rules; bump one when its behaviour changes.
FORM_IDS: Final[dict[str, str]] = {"n0": "n0.v1", "n1": "n1.v1", "n2": "n2.v1"}
CASEFOLD_SUFFIX: Final = "+casefold"

# Characters that engines and typesetters spell several ways; folded by n1 and n2. Also exported
# so that other rule sets (reports, olmOCR-style checks) can reuse exactly this list.
FOLDS: Final[dict[str, str]] = {
    "\u2018": "'",  # ‘ left single quotation mark
    "\u2019": "'",  # ’ right single quotation mark
    "\u201a": "'",  # ‚ single low-9 quotation mark
    "\u201c": '"',  # “ left double quotation mark
    "\u201d": '"',  # ” right double quotation mark
    "\u201e": '"',  # „ double low-9 quotation mark
    "\u2013": "-",  # – en dash
    "\u2014": "-",  # — em dash
    "\u2011": "-",  # ‑ non-breaking hyphen
    "\u2012": "-",  # ‒ figure dash
    "\u2212": "-",  # − minus sign
    "\uff3f": "_",  # ＿ fullwidth low line
    "\u00b5": "\u03bc",  # µ micro sign -> μ Greek small letter mu
}
_FOLD_CHARS: Final = re.compile("[" + "".join(FOLDS) + "]")

_HTML_COMMENT: Final = re.compile(r"<!--.*?-->", re.DOTALL)
_BLOCK_TAG_NAMES: Final = (
    "address|article|aside|blockquote|br|caption|center|col|colgroup|dd|details|div|dl|dt|"
    "figcaption|figure|footer|form|h[1-6]|header|hr|li|main|nav|ol|p|pre|section|summary|"
    "table|tbody|td|tfoot|th|thead|tr|ul"
)
_TAG_TAIL: Final = r"(?:\s[^<>]*)?/?>"
_BLOCK_TAG: Final = re.compile(rf"</?(?:{_BLOCK_TAG_NAMES}){_TAG_TAIL}", re.IGNORECASE)
_ANY_TAG: Final = re.compile(rf"</?[A-Za-z][A-Za-z0-9-]*{_TAG_TAIL}")
# ![alt](url) and [text](url), url without spaces (balanced parentheses one level deep), with an
# optional "title".
_LINK: Final = re.compile(r'!?\[([^\[\]\n]*)\]\((?:[^()\s]|\([^()\s]*\))*(?:\s+"[^"\n]*")?\)')
_LINE_MARKER: Final = re.compile(r"^[ \t]*(?:#{1,6}|[-*+\u2022]|\d{1,3}[.)])[ \t]+", re.MULTILINE)
# Each emphasis pattern starts with its literal marker so the regex engine can skip to candidate
# positions, checks the character before the marker with a lookbehind, and runs a greedy
# no-marker, no-newline content class up to the closing marker.
_STRONG_EM_STAR: Final = re.compile(
    r"\*\*\*(?<![\w*]\*\*\*)([^\s*][^\n*]*)\*\*\*(?<!\s\*\*\*)(?![\w*])"
)
_STRONG_STAR: Final = re.compile(r"\*\*(?<![\w*]\*\*)([^\s*][^\n*]*)\*\*(?<!\s\*\*)(?![\w*])")
_EM_STAR: Final = re.compile(r"\*(?<![\w*]\*)([^\s*][^\n*]*)\*(?<!\s\*)(?![\w*])")
_STRONG_UNDERSCORE: Final = re.compile(r"__(?<!\w__)([^\s_][^\n_]*)__(?<!\s__)(?!\w)")
_EM_UNDERSCORE: Final = re.compile(r"_(?<!\w_)([^\s_][^\n_]*)_(?<!\s_)(?!\w)")
# n2 keeps word characters and CJK ideographs. Whitespace is kept in the intermediate form so the
# words of an n2 text can still be told apart (see ``n2_words``).
_NOT_N2_OR_SPACE: Final = re.compile(r"[^\w\s\u4e00-\u9fff]+")
# The same deletion for ASCII text as a translate() table, ~10x faster than the regex; built from
# the regex itself so the two cannot disagree.
_ASCII_NOT_N2_OR_SPACE: Final = str.maketrans(
    dict.fromkeys(c for c in map(chr, range(128)) if _NOT_N2_OR_SPACE.fullmatch(c))
)


def check_form(form: str) -> str:
    """Return ``form`` if it names a normalisation, else raise a ValueError that lists them."""
    if form not in FORM_IDS:
        raise ValueError(f"unknown normalisation {form!r}; expected one of {', '.join(FORMS)}")
    return form


def normalization_id(form: str = DEFAULT_FORM, *, casefold: bool = False) -> str:
    """The id stored with every score, e.g. ``n1.v1`` or ``n2.v1+casefold``."""
    form_id = FORM_IDS[check_form(form)]
    return form_id + CASEFOLD_SUFFIX if casefold else form_id


def normalize(text: str, form: str = DEFAULT_FORM, *, casefold: bool = False) -> str:
    """``text`` under normalisation ``form`` (``n0``, ``n1`` or ``n2``)."""
    check_form(form)
    if form == "n0":
        text = unicodedata.normalize("NFC", text)
        return text.casefold() if casefold else text
    text = n1(text, casefold=casefold)
    return text if form == "n1" else n1_to_n2(text)


def n1(text: str, *, casefold: bool = False) -> str:
    """The ``n1`` form (see the module docstring for the rules)."""
    return " ".join(n1_words(text, casefold=casefold))


def n1_words(text: str, *, casefold: bool = False) -> list[str]:
    """The words of the ``n1`` form, which is exactly their ``" ".join``: word metrics need the
    words and character metrics the joined text, and splitting a page once instead of twice is
    ~10 % of scoring it."""
    if not text.isascii():
        # NFC and the folds are no-ops on ASCII, the common case. unicodedata.normalize returns
        # its input when the quick check passes; the folds use one C-speed str.replace per
        # character present, where translate() would look up every character of the page in a
        # dict (~10x slower on a 3,000-character page).
        text = unicodedata.normalize("NFC", text)
        if _FOLD_CHARS.search(text):
            for char, replacement in FOLDS.items():
                if char in text:
                    text = text.replace(char, replacement)
    if "<" in text:
        text = _HTML_COMMENT.sub("", text)
        text = _BLOCK_TAG.sub(" ", text)
        text = _ANY_TAG.sub("", text)
    if "](" in text:
        text = _LINK.sub(r"\1", text)
        if "](" in text:  # a linked image: [![alt](src)](href)
            text = _LINK.sub(r"\1", text)
    text = _LINE_MARKER.sub("", text)
    if "*" in text:
        if "***" in text:
            text = _STRONG_EM_STAR.sub(r"\1", text)
        text = _STRONG_STAR.sub(r"\1", text)
        text = _EM_STAR.sub(r"\1", text)
    if "_" in text:
        text = _STRONG_UNDERSCORE.sub(r"\1", text)
        text = _EM_UNDERSCORE.sub(r"\1", text)
    # Case folding never yields whitespace, so folding before the split is folding the n1 text.
    return (text.casefold() if casefold else text).split()


def n1_to_n2(n1_text: str) -> str:
    """The ``n2`` form of a text already in ``n1`` form (casefolded or not)."""
    return _delete_non_n2(n1_text).replace(" ", "")


def n2_words(n1_text: str) -> list[str]:
    """The words of the ``n2`` form of an ``n1`` text: its words with the deleted characters
    removed, empty ones dropped. ``"".join`` of the result is exactly the ``n2`` text, so word and
    character metrics under ``n2`` describe the same string."""
    return _delete_non_n2(n1_text).split()


def _delete_non_n2(text: str) -> str:
    if text.isascii():
        return text.translate(_ASCII_NOT_N2_OR_SPACE)
    return _NOT_N2_OR_SPACE.sub("", text)
