"""Page images as a VLM wants them: RGB, resized to a longest side or a pixel budget, and encoded
as a data URL for the HTTP backends.

Vision encoders cost tokens per image patch, so resolution is a direct cost: 1,288 px on the
longest side (olmOCR's choice) keeps body text legible on a letter page at ~1,700 image tokens.
"""

from __future__ import annotations

import base64
import math

from PIL import Image

from ops.imaging import encode

DEFAULT_LONGEST_SIDE = 1288
# A page with fewer ink pixels (darker than BLANK_LEVEL) than this share is blank: 50 pixels on a
# 1-megapixel page, a handful of scanner specks but not even one short line of text.
BLANK_INK_FRACTION = 0.00005
BLANK_LEVEL = 200


def prepare_image(
    image: Image.Image,
    longest_side: int | None = DEFAULT_LONGEST_SIDE,
    max_pixels: int | None = None,
) -> Image.Image:
    """``image`` in RGB, scaled down (never up) to fit both limits."""
    width, height = image.size
    factor = 1.0
    if longest_side and max(width, height) > longest_side:
        factor = longest_side / max(width, height)
    if max_pixels and width * height * factor * factor > max_pixels:
        factor = math.sqrt(max_pixels / (width * height))
    if factor < 1.0:
        # Rounded down (with a hair of slack for float error), so both limits hold exactly.
        size = (
            max(1, math.floor(width * factor + 1e-6)),
            max(1, math.floor(height * factor + 1e-6)),
        )
        image = image.resize(size, Image.Resampling.LANCZOS)
    return image if image.mode == "RGB" else image.convert("RGB")


def data_url(image: Image.Image, image_format: str = "png") -> str:
    """The page encoded as pages travel between stages (``ops.imaging.encode``), as a data URL."""
    payload = base64.b64encode(encode(image, image_format)).decode("ascii")
    return f"data:image/{image_format};base64,{payload}"


def is_blank(image: Image.Image) -> bool:
    """True when (almost) no pixel is dark enough to be ink."""
    histogram = image.convert("L").histogram()
    dark = sum(histogram[:BLANK_LEVEL])
    return dark <= BLANK_INK_FRACTION * sum(histogram)
