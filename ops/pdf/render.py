"""Rendering PDF pages to encoded greyscale images under a pixel cap, so that a page 2^31 pt
tall cannot ask for an impossible bitmap.

The cap on the output is not enough on its own: pdfium decodes every image a page draws at the
size the image declares, whatever the output size, so a 1 MB FlateDecode stream of zeros declared
as 33,000 x 33,000 px takes over 1 GB to render into a 1,275 x 1,651 px page. Pages are therefore
checked for images larger than ``max_image_pixels`` (the same limit as for input images) before
pdfium decodes anything.
"""

from __future__ import annotations

import ctypes

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from ops import errors
from ops.imaging import DEFAULT_MAX_IMAGE_PIXELS, EncodedPage, capped_scale, encode

# At most this many page objects (those inside forms included) are inspected for oversized images:
# pdfium has parsed them all already, this only bounds our walk over a huge object tree.
MAX_INSPECTED_OBJECTS = 100_000


def render_page(
    page: pdfium.PdfPage,
    dpi: int,
    max_pixels: int,
    image_format: str = "png",
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
) -> EncodedPage:
    width_pt, height_pt = page.get_size()
    scale = capped_scale(width_pt, height_pt, dpi / 72.0, max_pixels)
    check_images(page, max_image_pixels)
    try:
        bitmap = page.render(scale=scale, grayscale=True)
        image = bitmap.to_pil()
        data = encode(image, image_format)
    except Exception as exc:
        raise errors.RenderFailed(f"pdfium could not render the page: {exc}") from exc
    return EncodedPage(data, image.width, image.height, round(scale * 72))


def check_images(page: pdfium.PdfPage, max_image_pixels: int) -> None:
    """Raise :class:`~ops.errors.RenderFailed` if the page draws an image (directly or inside a
    form XObject) whose declared size is over ``max_image_pixels``; nothing is decoded."""
    largest = largest_image(page)
    if largest is None:
        return
    width, height = largest
    if width * height > max_image_pixels:
        raise errors.RenderFailed(
            f"the page draws a {width}x{height} px image ({width * height:,} pixels), over the "
            f"{max_image_pixels:,} pixel limit; decoding it could exhaust memory (raise "
            "--max-image-pixels to render it)"
        )


def largest_image(page: pdfium.PdfPage) -> tuple[int, int] | None:
    """``(width, height)`` in pixels of the page's largest image object, as declared."""
    width, height = ctypes.c_uint(), ctypes.c_uint()
    best: tuple[int, int] | None = None
    raw = page.raw
    count = max(0, min(pdfium_c.FPDFPage_CountObjects(raw), MAX_INSPECTED_OBJECTS))
    pending = [pdfium_c.FPDFPage_GetObject(raw, index) for index in range(count)]
    budget = MAX_INSPECTED_OBJECTS - count
    while pending:
        obj = pending.pop()
        kind = pdfium_c.FPDFPageObj_GetType(obj)
        if kind == pdfium_c.FPDF_PAGEOBJ_IMAGE and pdfium_c.FPDFImageObj_GetImagePixelSize(
            obj, ctypes.byref(width), ctypes.byref(height)
        ):
            if best is None or width.value * height.value > best[0] * best[1]:
                best = (width.value, height.value)
        elif kind == pdfium_c.FPDF_PAGEOBJ_FORM and budget > 0:
            count = max(0, min(pdfium_c.FPDFFormObj_CountObjects(obj), budget))
            budget -= count
            pending.extend(pdfium_c.FPDFFormObj_GetObject(obj, index) for index in range(count))
    return best
