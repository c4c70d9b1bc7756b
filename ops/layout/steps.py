"""Which clean-up steps a run applies to page text, and applying them.

Each step is switchable (``pagemill run --text-steps``) and all are on by default. A step sees a
page's raw text and what the document's pages around it share: their vocabulary and the lines
repeated at their edges (a window of the document's pages, for the text route; the page alone,
for OCR output, which reaches the engines one page at a time).
"""

from __future__ import annotations

from dataclasses import dataclass

from ops.layout.furniture import Furnished, Furniture
from ops.layout.hyphenation import SOFT_BREAK, Vocabulary, dehyphenate

HEADERS_FOOTERS = "headers_footers"
DEHYPHENATE = "dehyphenate"
# Text route only: the `markdown` column, headings from the text layer's fonts and tables from
# its character boxes (ops.layout.structure).
MARKDOWN = "markdown"
STEPS = (HEADERS_FOOTERS, DEHYPHENATE, MARKDOWN)  # in the order they apply
ALL, NONE = "all", "none"


@dataclass(frozen=True, slots=True)
class TextSteps:
    enabled: frozenset[str] = frozenset(STEPS)

    @classmethod
    def parse(cls, spec: str) -> TextSteps:
        """``all``, ``none``, or a comma-separated list of step names."""
        names = {name.strip() for name in spec.split(",") if name.strip()}
        if names == {ALL}:
            return cls()
        if names == {NONE} or not names:
            return cls(frozenset())
        unknown = sorted(names - set(STEPS))
        if unknown:
            raise ValueError(
                f"unknown text step(s) {', '.join(unknown)}: give {ALL}, {NONE} or some of "
                f"{', '.join(STEPS)}"
            )
        return cls(frozenset(names))

    @property
    def any(self) -> bool:
        return bool(self.enabled)

    def clean(
        self,
        text: str,
        vocabulary: Vocabulary | None = None,
        furniture: Furniture | None = None,
    ) -> Furnished:
        """``text`` cleaned; ``vocabulary`` and ``furniture`` default to the page's own."""
        header = footer = None
        if HEADERS_FOOTERS in self.enabled:
            split = (furniture or Furniture()).split(text)
            text, header, footer = split.text, _plain(split.header), _plain(split.footer)
        if DEHYPHENATE in self.enabled:
            text = dehyphenate(text, vocabulary)
        return Furnished(text.replace(SOFT_BREAK, "-"), header, footer)


def _plain(text: str | None) -> str | None:
    """pdfium's marks no step resolved, as plain hyphens."""
    return text.replace(SOFT_BREAK, "-") if text is not None else None
