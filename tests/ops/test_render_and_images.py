"""Rendering caps, image documents and the decompression-bomb guard."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from ops import errors, image_documents, imaging
from ops.pdf.document import open_pdf
from ops.pdf.render import render_page
from ops.pdf.synth import TextPage, text_pdf


def test_render_at_requested_dpi():
    page = open_pdf(text_pdf([TextPage(["Hello"], width=612, height=792)]))[0]
    rendered = render_page(page, dpi=100, max_pixels=10_000_000)
    assert (rendered.width, rendered.height) == (850, 1100)
    assert rendered.dpi == 100
    assert Image.open(io.BytesIO(rendered.data)).mode == "L"


@pytest.mark.parametrize(("width", "height"), [(612, 2**31 - 1), (200_000, 200), (14_400, 14_400)])
def test_giant_pages_are_rendered_under_the_pixel_cap(width, height):
    page = open_pdf(text_pdf([TextPage(["Big"], width=width, height=height)]))[0]
    rendered = render_page(page, dpi=150, max_pixels=2_000_000)
    assert rendered.width * rendered.height <= 2_000_000 * 1.01
    assert rendered.dpi < 150


def test_tiny_page_renders():
    page = open_pdf(text_pdf([TextPage(["x"], width=3, height=3, font_size=1)]))[0]
    rendered = render_page(page, dpi=150, max_pixels=1_000_000)
    assert rendered.width >= 1 and rendered.height >= 1


def _tiff(frames: int, size=(200, 100)) -> bytes:
    images = [Image.new("L", size, 255 - 40 * index) for index in range(frames)]
    buffer = io.BytesIO()
    images[0].save(buffer, format="TIFF", save_all=True, append_images=images[1:])
    return buffer.getvalue()


def test_multipage_tiff_yields_every_frame_in_range():
    image = image_documents.open_image(_tiff(5), max_image_pixels=10**8)
    assert image_documents.frame_count(image) == 5
    frames = list(image_documents.frames(image, 1, 4, 10**8, 10**8))
    assert [index for index, _ in frames] == [1, 2, 3]
    assert all(frame.mode == "L" for _, frame in frames)


def test_huge_image_is_refused_before_decoding():
    with pytest.raises(errors.ImageDecodeFailed, match="pixel limit"):
        image_documents.open_image(_tiff(1, size=(3000, 3000)), max_image_pixels=1_000_000)


def test_frames_are_downscaled_to_the_pixel_cap():
    image = image_documents.open_image(_tiff(1, size=(4000, 1000)), max_image_pixels=10**8)
    ((_, frame),) = image_documents.frames(image, 0, 1, 1_000_000, 10**8)
    assert frame.width * frame.height <= 1_000_000


def test_garbage_is_not_an_image():
    with pytest.raises(errors.ImageDecodeFailed):
        image_documents.open_image(b"not an image at all", max_image_pixels=10**8)
    with pytest.raises(errors.ImageDecodeFailed):
        imaging.decode(b"\x89PNG\r\n\x1a\n broken")


def test_capped_scale_keeps_small_pages_unchanged():
    assert imaging.capped_scale(612, 792, 2.0, 10**8) == 2.0
