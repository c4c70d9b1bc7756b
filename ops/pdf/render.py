"""Rendering PDF pages to encoded greyscale images under a pixel cap, so that a page 2^31 pt
tall cannot ask for an impossible bitmap."""

from __future__ import annotations

import pypdfium2 as pdfium

from ops import errors
from ops.imaging import EncodedPage, capped_scale, encode


def render_page(
    page: pdfium.PdfPage, dpi: int, max_pixels: int, image_format: str = "png"
) -> EncodedPage:
    width_pt, height_pt = page.get_size()
    scale = capped_scale(width_pt, height_pt, dpi / 72.0, max_pixels)
    try:
        bitmap = page.render(scale=scale, grayscale=True)
        image = bitmap.to_pil()
    except Exception as exc:
        raise errors.RenderFailed(f"pdfium could not render the page: {exc}") from exc
    return EncodedPage(encode(image, image_format), image.width, image.height, round(scale * 72))
