"""Page images: size caps, encoding, decoding.

Pages travel between processes as encoded bytes, never as arrays or PIL objects: a greyscale PNG
of a 150 dpi page is 5-10x smaller than its raw pixels, and Ray's object store accounts for bytes
correctly (it under-counts PIL objects). PNG (lossless) is the default. JPEG at quality 90 costs
a fifth of PNG's CPU and reads the same with Tesseract (tests/ops/test_transport.py), but it
costs RapidOCR accuracy (CER 0.003 -> 0.069 on a real scan), so it is opt-in.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

from PIL import Image

from ops import errors

DEFAULT_MAX_PIXELS = 40_000_000  # ~ A0 at 150 dpi; bigger pages are rendered at a lower scale
DEFAULT_MAX_IMAGE_PIXELS = 150_000_000  # input images above this are refused, not decoded
# Longest side of any page image we produce, whatever its area: Tesseract keeps coordinates in 16
# bits, JPEG cannot encode more than 65,500 px a side, and a 2^31 pt tall page would otherwise
# become a 4 x 11,800,000 px strip.
MAX_SIDE_PX = 32_000


@dataclass(frozen=True, slots=True)
class EncodedPage:
    data: bytes  # encoded image (JPEG or PNG)
    width: int
    height: int
    dpi: int  # effective resolution after any size cap


def capped_scale(
    width: float, height: float, scale: float, max_pixels: int, max_side: int = MAX_SIDE_PX
) -> float:
    """``scale``, lowered just enough that ``width × height × scale²`` fits in ``max_pixels`` and
    neither side exceeds ``max_side`` pixels."""
    width, height = max(width, 1e-6), max(height, 1e-6)
    area = width * height
    if area * scale * scale > max_pixels:
        scale = math.sqrt(max_pixels / area)
    return min(scale, max_side / max(width, height))


IMAGE_FORMATS = ("png", "jpeg")


def encode(image: Image.Image, image_format: str = "png") -> bytes:
    buffer = io.BytesIO()
    if image_format == "jpeg":
        image.save(buffer, format="JPEG", quality=90)
    elif image_format == "png":
        # Level 1: most of PNG's size win on text pages at a fraction of the default's CPU.
        image.save(buffer, format="PNG", compress_level=1)
    else:
        raise ValueError(f"image format must be one of {IMAGE_FORMATS}, not {image_format!r}")
    return buffer.getvalue()


def decode(data: bytes) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except Exception as exc:  # PIL raises many types for bad data
        raise errors.ImageDecodeFailed(f"cannot decode page image: {exc}") from exc
    return image


def fit_within(image: Image.Image, max_pixels: int, max_side: int = MAX_SIDE_PX) -> Image.Image:
    """Downscale ``image`` (keeping its aspect) so it has at most ``max_pixels`` pixels and no side
    longer than ``max_side``."""
    width, height = image.size
    if width * height <= max_pixels and max(width, height) <= max_side:
        return image
    factor = min(math.sqrt(max_pixels / (width * height)), max_side / max(width, height))
    size = (max(1, int(width * factor)), max(1, int(height * factor)))
    return image.resize(size, Image.Resampling.LANCZOS)
