"""Handing PIL images to tesserocr as raw pixels.

``PyTessBaseAPI.SetImage`` re-encodes any image that remembers its file format (one decoded from
PNG or JPEG, as every page arriving at an OCR actor is) in that format, and Leptonica decodes it
again: about 50 ms per 150 dpi page for PNG, as long as Tesseract's own OSD pass, and lossy for
JPEG. Raw bytes cost under a millisecond.
"""

from __future__ import annotations

from typing import Any

from PIL import Image


def set_image(api: Any, image: Image.Image) -> None:
    if image.mode not in ("L", "RGB"):
        image = image.convert("L")
    channels = 1 if image.mode == "L" else 3
    api.SetImageBytes(image.tobytes(), image.width, image.height, channels, image.width * channels)
