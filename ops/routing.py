"""Per-page routing: a usable text layer takes the text route (no rendering, no model); anything
else goes to OCR. The decision, its reason and the score are recorded on every row."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ops.pdf.textlayer import LayerFacts
from ops.text_quality import TextQuality


class RouteMode(enum.StrEnum):
    AUTO = "auto"
    TEXT = "text"
    OCR = "ocr"


@dataclass(frozen=True, slots=True)
class RoutingPolicy:
    mode: RouteMode = RouteMode.AUTO
    min_score: float = 0.5  # text-layer quality needed to skip OCR
    min_chars: int = 16  # fewer visible characters than this counts as "no text layer"
    max_hidden_fraction: float = 0.5  # at or above this, the layer is someone else's hidden OCR


@dataclass(frozen=True, slots=True)
class RouteDecision:
    route: str  # "text" | "ocr"
    reason: str


def decide_forced_ocr() -> RouteDecision:
    return RouteDecision("ocr", "forced_ocr")


def decide(quality: TextQuality, facts: LayerFacts, policy: RoutingPolicy) -> RouteDecision:
    if policy.mode is RouteMode.TEXT:
        return RouteDecision("text", "forced_text")
    if policy.mode is RouteMode.OCR:
        return decide_forced_ocr()
    if quality.visible_chars < policy.min_chars:
        return RouteDecision("ocr", "no_text_layer")
    if facts.text_objects and facts.hidden_fraction >= policy.max_hidden_fraction:
        # Hidden text is an earlier OCR pass over a scan: its quality is unknown and often poor.
        return RouteDecision("ocr", "hidden_text_layer")
    if quality.score < policy.min_score:
        return RouteDecision("ocr", f"text_layer_{quality.reason}")
    return RouteDecision("text", "text_layer_ok")
