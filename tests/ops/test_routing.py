"""Routing decisions on real pages and on generated edge cases."""

from __future__ import annotations

import pytest

from ops.pdf.document import open_pdf
from ops.pdf.synth import TextPage, text_pdf
from ops.pdf.textlayer import extract_text, inspect_layer
from ops.routing import RouteMode, RoutingPolicy, decide
from ops.text_quality import assess


def route_of(data: bytes, index: int = 0, policy: RoutingPolicy | None = None):
    page = open_pdf(data)[index]
    width, height = page.get_size()
    return decide(
        assess(extract_text(page)), inspect_layer(page, width * height), policy or RoutingPolicy()
    )


@pytest.mark.parametrize(
    ("name", "route", "reason"),
    [
        ("born_digital/papers/tracemonkey.pdf", "text", "text_layer_ok"),
        ("born_digital/non_latin/normal_4pages.pdf", "text", "text_layer_ok"),
        ("born_digital/non_latin/ArabicCIDTrueType.pdf", "text", "text_layer_ok"),
        ("gt_scanned/dinglehopper_lorem/lorem-ipsum-scan.pdf", "ocr", "no_text_layer"),
        ("image_only/scan-bad.pdf", "ocr", "no_text_layer"),
        ("blank/empty.pdf", "ocr", "no_text_layer"),
        # Caesar-shifted font encoding: "Oqnbddchmfr ne sgd" for "Proceedings of the".
        ("text_layer_unreliable/dolma-page-1.pdf", "ocr", "text_layer_implausible_words"),
        # An old OCR layer painted over by the page scan.
        ("text_layer_unreliable/horribleocr.pdf", "ocr", "hidden_text_layer"),
        # A visible heading plus render-mode-3 OCR text.
        ("text_layer_unreliable/invisible_text_layer.pdf", "ocr", "hidden_text_layer"),
    ],
)
def test_real_pages_route_as_expected(shared_data, name, route, reason):
    decision = route_of((shared_data / name).read_bytes())
    assert (decision.route, decision.reason) == (route, reason)


LINES = ["A heading", *["the quick brown fox jumps over the lazy dog and runs away"] * 5]


def test_invisible_text_layer_goes_to_ocr():
    assert route_of(text_pdf([TextPage(LINES, render_mode=3)])).reason == "hidden_text_layer"


def test_visible_text_layer_stays_on_the_text_route():
    assert route_of(text_pdf([TextPage(LINES)])).route == "text"


def test_forced_modes_override_quality():
    data = text_pdf([TextPage(LINES)])
    assert route_of(data, policy=RoutingPolicy(mode=RouteMode.OCR)).route == "ocr"
    empty = text_pdf([TextPage([""])])
    assert route_of(empty, policy=RoutingPolicy(mode=RouteMode.TEXT)).route == "text"


def test_min_score_threshold_is_respected(shared_data):
    data = (shared_data / "born_digital/papers/multicolumn.pdf").read_bytes()
    strict = RoutingPolicy(min_score=0.9)
    assert route_of(data, 0, strict).route == "text"  # prose page, score 1.0
    assert route_of(data, 2, strict).route == "ocr"  # short table page, score 0.5
