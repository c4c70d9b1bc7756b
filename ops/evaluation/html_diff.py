"""Output text beside its truth with the differences marked, for the report's worst pages."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from html import escape
from typing import Final

# A replaced run of words is diffed by character when short and similar enough to read that way.
REFINE_CHARS: Final = 60
REFINE_SIMILARITY: Final = 0.5
_WORD: Final = re.compile(r"\S+")


def diff_markup(output: str, truth: str) -> tuple[str, str]:
    """Both texts as HTML with their differences marked. The diff runs over words, not
    characters: cheap on 4,000 characters, readable, and blind to line-break differences that
    normalisation forgives too. A short replaced run of words gets a character diff inside."""
    out_words = [m.span() for m in _WORD.finditer(output)]
    truth_words = [m.span() for m in _WORD.finditer(truth)]
    matcher = difflib.SequenceMatcher(
        None,
        [truth[a:b] for a, b in truth_words],
        [output[a:b] for a, b in out_words],
        autojunk=False,
    )
    out_marks: list[tuple[int, int, str]] = []
    truth_marks: list[tuple[int, int, str]] = []
    for op, t1, t2, o1, o2 in matcher.get_opcodes():
        if op == "equal":
            continue
        ts, te = (truth_words[t1][0], truth_words[t2 - 1][1]) if t2 > t1 else (0, 0)
        os_, oe = (out_words[o1][0], out_words[o2 - 1][1]) if o2 > o1 else (0, 0)
        refined = None
        if op == "replace" and te - ts + oe - os_ <= REFINE_CHARS:
            refined = _char_diff(truth[ts:te], output[os_:oe])
        if refined is not None:
            truth_marks.append((ts, te, refined[0]))
            out_marks.append((os_, oe, refined[1]))
            continue
        if t2 > t1:
            truth_marks.append((ts, te, _mark("del", truth[ts:te])))
        if o2 > o1:
            out_marks.append((os_, oe, _mark("ins", output[os_:oe])))
    return _weave(output, out_marks), _weave(truth, truth_marks)


def _char_diff(truth: str, output: str) -> tuple[str, str] | None:
    """Character-level marks for a misread word ("rn" for "m"); None when the two share too
    little for a character diff to be anything but noise."""
    truth_parts, out_parts = [], []
    matcher = difflib.SequenceMatcher(None, truth, output, autojunk=False)
    if matcher.ratio() < REFINE_SIMILARITY:
        return None
    for op, t1, t2, o1, o2 in matcher.get_opcodes():
        if op == "equal":
            truth_parts.append(escape(truth[t1:t2]))
            out_parts.append(escape(output[o1:o2]))
        else:
            truth_parts.append(_mark("del", truth[t1:t2]))
            out_parts.append(_mark("ins", output[o1:o2]))
    return "".join(truth_parts), "".join(out_parts)


def _mark(tag: str, text: str) -> str:
    return f"<{tag}>{escape(text)}</{tag}>" if text else ""


def _weave(text: str, marks: Sequence[tuple[int, int, str]]) -> str:
    """The text escaped, with the marked spans (in order, not overlapping) replaced."""
    parts, position = [], 0
    for start, end, markup in marks:
        parts += [escape(text[position:start]), markup]
        position = end
    parts.append(escape(text[position:]))
    return "".join(parts)
