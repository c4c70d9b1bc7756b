"""Run configuration: what ``auto`` defaults resolve to, and what a manifest records."""

from __future__ import annotations

import pytest

from pipelines.config import RunConfig


@pytest.mark.parametrize(
    ("backend", "image_format", "expected"),
    [
        ("tesseract", "auto", "jpeg"),  # reads JPEG pages as well as PNG (test_transport.py)
        ("rapidocr", "auto", "png"),  # loses accuracy on JPEG
        ("fake", "auto", "png"),
        ("tesseract", "png", "png"),  # an explicit choice always wins
        ("rapidocr", "jpeg", "jpeg"),
    ],
)
def test_page_transport_follows_the_backend_unless_chosen(backend, image_format, expected):
    config = RunConfig("in", "out", backend=backend, image_format=image_format)
    assert config.extract_options().image_format == expected
    assert config.public_dict()["image_format"] == expected
