"""Which clean-up steps a run applies to page text, and applying them.

Each step is switchable (``pagemill run --text-steps``) and all are on by default. A step sees a
page's raw text and the vocabulary of the document's pages around it (the work unit's, for the
text route; the page's own, for OCR output, which reaches the engines one page at a time).
"""

from __future__ import annotations

from dataclasses import dataclass

from ops.layout.hyphenation import SOFT_BREAK, Vocabulary, dehyphenate

DEHYPHENATE = "dehyphenate"
STEPS = (DEHYPHENATE,)  # in the order they apply
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

    def clean(self, text: str, vocabulary: Vocabulary | None = None) -> str:
        if DEHYPHENATE in self.enabled:
            text = dehyphenate(text, vocabulary)
        return text.replace(SOFT_BREAK, "-")  # pdfium's marks no step resolved: plain hyphens
