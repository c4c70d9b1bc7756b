"""olmOCR-bench's own text normalisation, applied to both the test strings and the page text.

Semantics: ``normalize_text`` in allenai/olmocr ``olmocr/bench/tests.py`` on the main branch
(the PyPI release 0.4.27 collapses whitespace *before* stripping emphasis, so there ``**a\nb**``
loses its markers; here, as on main, it keeps them). This is deliberately
*not* pagemill's ``n1`` normalisation (``ops/metrics/normalize.py``): the bench strips only bold
and italic markers and ``<b>``/``<i>`` tags, keeps headings, bullets and other HTML, and never
trims. A score is only comparable with published olmOCR-bench numbers if the text goes through
exactly these steps, in this order:

1. ``<br>`` and ``<br/>`` become a space (``<br />`` with a space does not match upstream either);
2. ``**x**`` and ``__x__`` lose their markers, then ``<b>``, ``</b>``, ``<i>``, ``</i>`` go;
3. ``*x*`` and ``_x_`` lose their markers. ``.`` never crosses a newline, so emphasis does not
   span lines; a lone underscore pair inside ``snake_case_name`` is stripped too (upstream does
   the same to both sides, so matching is unaffected);
4. runs of whitespace collapse to one space;
5. Unicode NFC;
6. curly quotes, dashes, fullwidth low line and the micro sign fold to their plain forms.
"""

from __future__ import annotations

import re
import unicodedata

_BR = re.compile(r"<br/?>")
_BOLD_STARS = re.compile(r"\*\*(.*?)\*\*")
_BOLD_UNDERSCORES = re.compile(r"__(.*?)__")
_HTML_BOLD = re.compile(r"</?b>")
_HTML_ITALIC = re.compile(r"</?i>")
_BOLD_EITHER = re.compile(r"(\*\*|__)(.*?)\1")
_ITALIC_EITHER = re.compile(r"(\*|_)(.*?)\1")
_WHITESPACE = re.compile(r"\s+")

_FOLDS = str.maketrans(
    {
        "\u2018": "'",  # ‘
        "\u2019": "'",  # ’
        "\u201a": "'",  # ‚
        "\u201c": '"',  # “
        "\u201d": '"',  # ”
        "\u201e": '"',  # „
        "\uff3f": "_",  # ＿
        "\u2013": "-",  # –
        "\u2014": "-",  # —
        "\u2011": "-",  # non-breaking hyphen
        "\u2012": "-",  # figure dash
        "\u2212": "-",  # minus sign
        "\u00b5": "\u03bc",  # micro sign -> Greek mu
    }
)


def normalize_text(text: str) -> str:
    """Normalise ``text`` exactly as olmOCR-bench does before any comparison."""
    text = _BR.sub(" ", text)
    text = _BOLD_STARS.sub(r"\1", text)
    text = _BOLD_UNDERSCORES.sub(r"\1", text)
    text = _HTML_BOLD.sub("", text)
    text = _HTML_ITALIC.sub("", text)
    text = _BOLD_EITHER.sub(r"\2", text)
    text = _ITALIC_EITHER.sub(r"\2", text)
    text = _WHITESPACE.sub(" ", text)
    text = unicodedata.normalize("NFC", text)
    # The folds map single code points to single code points, so one translate() pass is the
    # same as upstream's sequence of str.replace calls.
    return text.translate(_FOLDS)
