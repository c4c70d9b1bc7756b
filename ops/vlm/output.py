"""Is a generation a usable page text? Truncated, runaway-repetitive and wrongly empty outputs
are the three ways VLM page readers fail in practice; each is detected here from the output
alone (plus whether the page image is blank), so every engine is judged the same way.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

# A repeated tail must be at least this long, and this share of the whole text, to count as a
# runaway: a row of table separators or leader dots is short next to its page, a model stuck in
# a loop fills the rest of its token budget.
MIN_REPEATED_CHARS = 500
MIN_REPEATED_SHARE = 0.2
MAX_PERIOD = 256


@dataclass(frozen=True, slots=True)
class Generation:
    """One model answer for one page."""

    text: str
    finish_reason: str | None = None  # "stop", "length", ... as the engine reports it
    input_tokens: int | None = None
    output_tokens: int | None = None


class Problem(enum.StrEnum):
    TRUNCATED = "truncated"  # stopped by the token limit: the page text is incomplete
    REPETITION = "repetition"  # runaway repetition
    EMPTY = "empty"  # nothing read from a page that has ink on it


def find_problem(generation: Generation, page_is_blank: bool) -> Problem | None:
    if generation.finish_reason == "length":
        return Problem.TRUNCATED
    if runaway_repetition(generation.text):
        return Problem.REPETITION
    if not generation.text.strip() and not page_is_blank:
        return Problem.EMPTY
    return None


def runaway_repetition(text: str) -> bool:
    """True when the text ends in one short unit (1 to 256 characters) repeated over a long
    stretch: ``"the the the ..."``, a table row over and over, a line of digits."""
    probe = MIN_REPEATED_CHARS
    if len(text) < probe + 1:
        return False
    needed = max(MIN_REPEATED_CHARS, MIN_REPEATED_SHARE * len(text))
    tail = text[-probe:]
    for period in range(1, min(MAX_PERIOD, len(text) - probe) + 1):
        if text[-probe - period : -period] != tail:
            continue
        if _periodic_span(text, period) >= needed:
            return True
    return False


def _periodic_span(text: str, period: int) -> int:
    """Length of the longest suffix of ``text`` that repeats with ``period``."""
    end = len(text)
    span = period
    while (
        span + period <= end
        and text[end - span - period : end - span] == text[end - span :][:period]
    ):
        span += period
    return span
