"""Images as documents: PNG, JPEG and (multi-page) TIFF, one page per frame."""

from __future__ import annotations

import io
from collections.abc import Iterator

from PIL import Image

from ops import errors
from ops.imaging import fit_within


def open_image(data: bytes, max_image_pixels: int) -> Image.Image:
    """Open without decoding pixels; refuse images whose size alone would exhaust memory."""
    if not data:
        raise errors.EmptyFile("the file is empty (0 bytes)")
    # PIL's own bomb guard is process-wide; ours is the configured limit, checked just below.
    Image.MAX_IMAGE_PIXELS = max_image_pixels
    try:
        image = Image.open(io.BytesIO(data))
    except Exception as exc:
        raise errors.ImageDecodeFailed(f"not a readable image: {exc}") from exc
    width, height = image.size
    if width * height > max_image_pixels:
        raise errors.ImageDecodeFailed(
            f"image is {width}x{height} px, over the {max_image_pixels:,} pixel limit "
            "(raise --max-image-pixels to accept it)"
        )
    return image


def frame_count(image: Image.Image) -> int:
    return int(getattr(image, "n_frames", 1))


def frames(
    image: Image.Image, start: int, stop: int, max_pixels: int
) -> Iterator[tuple[int, Image.Image | Exception]]:
    """``(index, greyscale frame)`` for frames start..stop-1; a failed frame yields its error."""
    for index in range(start, stop):
        try:
            image.seek(index)
            frame = image.convert("L")
        except Exception as exc:
            yield index, errors.ImageDecodeFailed(f"cannot decode frame {index}: {exc}")
            continue
        yield index, fit_within(frame, max_pixels)
