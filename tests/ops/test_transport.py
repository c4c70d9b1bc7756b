"""JPEG is Tesseract's default page transport, so it must not cost Tesseract accuracy: real scans,
rendered at the pipeline's dpi, read through each transport with the same engine. (RapidOCR does
lose accuracy on JPEG, which is why it keeps PNG.)"""

from __future__ import annotations

import pytest
from PIL import Image

from ops.backends import create
from ops.imaging import decode, encode
from ops.pdf.document import open_pdf
from ops.pdf.render import render_page
from tests.cer import cer

SCANS = [
    ("gt_scanned/tesseract_test/phototest.tif", "gt_scanned/tesseract_test/phototest.gold.txt"),
    ("gt_scanned/tesseract_test/eurotext.tif", "gt_scanned/tesseract_test/eurotext.txt"),
    (
        "gt_scanned/dinglehopper_lorem/lorem-ipsum-scan.pdf",
        "gt_scanned/dinglehopper_lorem/lorem-ipsum-scan.gt.txt",
    ),
    (
        "gt_scanned/dinglehopper_lorem/lorem-ipsum-scan-bad.pdf",
        "gt_scanned/dinglehopper_lorem/lorem-ipsum-scan-bad.gt.txt",
    ),
]


@pytest.fixture(scope="module")
def tesseract():
    engine = create("tesseract")
    engine.load()
    yield engine
    engine.close()


@pytest.mark.parametrize(("scan", "truth"), SCANS, ids=[s.split("/")[-1] for s, _ in SCANS])
def test_jpeg_transport_reads_as_well_as_png_with_tesseract(shared_data, tesseract, scan, truth):
    path = shared_data / scan
    if path.suffix == ".pdf":
        image = decode(render_page(open_pdf(path.read_bytes())[0], 150, 40_000_000, "png").data)
    else:
        image = Image.open(path).convert("L")
    expected = (shared_data / truth).read_text()
    errors = {}
    for image_format in ("png", "jpeg"):
        (result,) = tesseract.predict_batch([decode(encode(image, image_format))])
        errors[image_format] = cer(expected, result.text)
    assert errors["jpeg"] <= errors["png"] + 0.005, errors
