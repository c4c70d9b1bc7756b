"""Words a typesetter or a scan split at a line end, put back together.

Two shapes reach us. pdfium marks a hyphen that ends a line with U+0002 and drops the line break
(``adip\\x02iscing``); OCR engines and plain text layers keep both (``adip-\\niscing``). Either
way the hyphen is a syllable break (``adipiscing``) or part of a compound (``run-time``), and
only the document itself can tell which: the words it uses elsewhere, unbroken, decide. When it
uses neither form, a hyphen between two words it knows on their own (``run``, ``time``) stays,
one before a capital stays (``non-English``; not inside a word in capitals), and any other is
taken for a syllable break, by far the common case in typeset prose.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

SOFT_BREAK = "\x02"  # pdfium: a hyphen ended the line here; the line break itself is dropped
# A run of letters, only where a word starts: a regex tried at every letter of every word is
# quadratic in the word's length, and this runs on every page of the text route.
LETTERS = r"(?<![^\W\d_])[^\W\d_]++"
# Every word start matches and findall goes on after the match: no guard needed.
_WORD = re.compile(r"[^\W\d_]+")
_COMPOUND = re.compile(rf"(?<![\w-]){LETTERS}(?:-{LETTERS})+(?![\w-])")
# The part before the break may itself be a compound (``interpreter-to-`` + ``trace``).
_BEFORE = rf"((?:{LETTERS}-)*{LETTERS})"
# ... and so may the part after it (``interpreter-`` + ``to-trace``).
_AFTER = rf"{LETTERS}(?:-{LETTERS})*"
_TAIL = re.compile(rf"{_BEFORE}$")  # searched on a part's last characters only
_HEAD = re.compile(rf"\s*({_AFTER})")
TAIL_CHARS = 80
_LINE_END = re.compile(rf"{_BEFORE}-[ \t]*$")
_HYPHEN_AT_LINE_END = re.compile(r"-[ \t]*\n")
_BROKEN_AT_LINE_END = re.compile(rf"{LETTERS}-[ \t]*\n[ \t]*{LETTERS}")
_LINE_START = re.compile(rf"^[ \t]*({_AFTER})[ \t]?")
# Both halves at least this long to count as words of their own (``ac`` + ``tual`` is no compound).
MIN_PART = 3


@dataclass
class Vocabulary:
    """Words and hyphenated compounds a document uses away from line ends, lower-cased."""

    words: Counter[str] = field(default_factory=Counter)
    compounds: Counter[str] = field(default_factory=Counter)

    @classmethod
    def of(cls, texts: Iterable[str]) -> Vocabulary:
        vocabulary = cls()
        for text in texts:
            vocabulary.add(text)
        return vocabulary

    def add(self, text: str) -> None:
        # The halves of broken words are no words: blank them before counting.
        unbroken = _resolve_soft_breaks(text, lambda left, right: " ")
        if _HYPHEN_AT_LINE_END.search(unbroken):
            unbroken = _BROKEN_AT_LINE_END.sub(" ", unbroken)
        lowered = unbroken.lower()
        if "-" in lowered:
            self.compounds.update(_COMPOUND.findall(lowered))
        self.words.update(_WORD.findall(lowered))

    def keeps_hyphen(self, left: str, right: str) -> bool:
        """Whether ``left``-``right``, split at a line end, is a compound rather than one word."""
        if "-" in left:
            return True  # the break falls inside a compound written with hyphens
        if "-" in right:  # interpreter- + to-trace is a compound; sen- + tence-based is not
            right = right.split("-", 1)[0]
            if self.words[right.lower()]:
                return True
        joined = (left + right).lower()
        compound = f"{left}-{right}".lower()
        seen_joined, seen_compound = self.words[joined], self.compounds[compound]
        if seen_joined != seen_compound:
            return seen_compound > seen_joined
        if right[:1].isupper() and not (left.isupper() and right.isupper()):
            return True  # non-English, Jean-Paul; but RE-QUIRES is one word in capitals
        return (
            len(left) >= MIN_PART
            and len(right) >= MIN_PART
            and self.words[left.lower()] > 0
            and self.words[right.lower()] > 0
        )


def has_line_end_hyphens(text: str) -> bool:
    """Whether ``text`` has a word :func:`dehyphenate` might put together."""
    return SOFT_BREAK in text or _HYPHEN_AT_LINE_END.search(text) is not None


def dehyphenate(text: str, vocabulary: Vocabulary | None = None) -> str:
    """``text`` with its line-end hyphenation resolved; ``vocabulary`` defaults to the text's own.

    pdfium's marks become the joined word or the compound, on one line as pdfium left them; a
    ``-`` ending a line followed by a word starting the next moves that word up, so lines keep
    their other words and a line left empty disappears.
    """
    if vocabulary is None:
        vocabulary = Vocabulary.of([text])
    text = _resolve_soft_breaks(text, lambda left, right: _joined(left, right, vocabulary))
    if not _HYPHEN_AT_LINE_END.search(text):
        return text
    lines = text.split("\n")
    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        while index + 1 < len(lines) and line.rstrip(" \t").endswith("-"):
            end = _LINE_END.search(line)
            start = _LINE_START.match(lines[index + 1]) if end else None
            if end is None or start is None:
                break
            word = _joined(end.group(1), start.group(1), vocabulary)
            rest = lines[index + 1][start.end() :]
            if rest.strip() == "-":  # the word goes on over one more line break
                word += "-"
                rest = ""
            line = line[: end.start()] + word
            if rest.strip():
                lines[index + 1] = rest
                break
            index += 1  # the next line was only the word's end: it is used up
        out.append(line)
        index += 1
    return "\n".join(out)


def _resolve_soft_breaks(text: str, resolve: Callable[[str, str], str]) -> str:
    """``text`` with each pdfium mark and the words around it replaced by ``resolve(left,
    right)``; a mark without a word on both sides becomes a plain hyphen. Cut at the marks,
    not searched with one pattern over the page: this runs on every text-route page."""
    if SOFT_BREAK not in text:
        return text
    parts = text.split(SOFT_BREAK)
    pieces = [parts[0]]
    for part in parts[1:]:
        before = pieces[-1]
        tail = _TAIL.search(before[-TAIL_CHARS:])
        head = _HEAD.match(part)
        if tail is None or head is None:
            pieces[-1] = before + "-"
            pieces.append(part)
            continue
        left = tail.group(1)
        pieces[-1] = before[: len(before) - len(left)] + resolve(left, head.group(1))
        pieces.append(part[head.end() :])
    return "".join(pieces)


def _joined(left: str, right: str, vocabulary: Vocabulary) -> str:
    return f"{left}-{right}" if vocabulary.keeps_hyphen(left, right) else left + right
