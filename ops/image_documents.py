"""Images as documents: PNG, JPEG and (multi-page) TIFF, one page per frame."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import BinaryIO

from PIL import Image, UnidentifiedImageError

from ops import errors
from ops.imaging import fit_within
from ops.sources import looks_like_text, sniff_foreign_format, with_article


def open_image(source: bytes | BinaryIO, max_image_pixels: int) -> Image.Image:
    """Open without decoding pixels; refuse images whose size alone would exhaust memory.

    ``source`` is bytes or a seekable stream that stays open while frames are read.
    """
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    if not stream.read(1):
        raise errors.EmptyFile("the file is empty (0 bytes)")
    stream.seek(0)
    # PIL's bomb guard is a process-wide setting that raises with an unhelpful message; pagemill
    # enforces the configured limit itself, on the header here and per frame in frames().
    Image.MAX_IMAGE_PIXELS = None
    try:
        image = Image.open(stream)
    except Exception as exc:
        raise errors.ImageDecodeFailed(_unreadable(stream, exc)) from exc
    _check_size(image, max_image_pixels)
    return image


def _unreadable(stream: BinaryIO, exc: Exception) -> str:
    """Why Pillow could not open the file, without the stream's repr that Pillow puts in."""
    stream.seek(0)
    head = stream.read(4096)
    found = sniff_foreign_format(head)
    if found is not None and not found.endswith(" image"):
        return (
            f"not an image: the file's bytes are {with_article(found)}; "
            "rename it with the right extension to process it"
        )
    if not isinstance(exc, UnidentifiedImageError):
        return f"not a readable image: {exc}"
    if found is not None:
        return f"not a readable image: a damaged {found}"
    if looks_like_text(head):
        return "not an image: the file is plain text"
    return "not a readable image: not a PNG, JPEG or TIFF file"


def _check_size(image: Image.Image, max_image_pixels: int) -> None:
    width, height = image.size
    if width * height > max_image_pixels:
        raise errors.ImageDecodeFailed(
            f"image is {width}x{height} px, over the {max_image_pixels:,} pixel limit "
            "(raise --max-image-pixels to accept it)"
        )


def frame_count(image: Image.Image) -> int:
    return int(getattr(image, "n_frames", 1))


def frames(
    image: Image.Image, start: int, stop: int, max_pixels: int, max_image_pixels: int
) -> Iterator[tuple[int, Image.Image | Exception]]:
    """``(index, greyscale frame)`` for frames start..stop-1; a failed frame yields its error."""
    for index in range(start, stop):
        try:
            image.seek(index)
            _check_size(image, max_image_pixels)
            frame = image.convert("L")
        except errors.PageError as exc:
            yield index, exc
            continue
        except Exception as exc:
            message = f"cannot decode frame {index + 1} of {frame_count(image)}: {exc}"
            yield index, errors.ImageDecodeFailed(message)
            continue
        yield index, fit_within(frame, max_pixels)
