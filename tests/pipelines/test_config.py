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


@pytest.mark.parametrize("source", ["flag", "file", "environment", "none"])
def test_the_manifest_says_whether_a_password_was_in_effect_never_which(
    source, tmp_path, monkeypatch
):
    monkeypatch.delenv("PAGEMILL_PASSWORD", raising=False)
    secret_file = tmp_path / "secret"
    secret_file.write_text("hunter2\n")
    options: dict = {
        "flag": {"password": "hunter2"},
        "file": {"password_file": str(secret_file)},
        "environment": {},
        "none": {},
    }[source]
    if source == "environment":
        monkeypatch.setenv("PAGEMILL_PASSWORD", "hunter2")
    recorded = RunConfig("in", "out", **options).public_dict()
    assert recorded["password"] == (None if source == "none" else "<set>")
    assert "hunter2" not in repr(recorded)
