"""Build the bundled sample set in samples/ (deterministic; rerun to regenerate).

What it makes, all from text written for this project (no third-party content except the two
Apache-2.0 files copied from the shared corpus, see samples/SOURCES.md):

- born-digital PDFs with a real text layer (Helvetica, from ops.pdf.synth);
- image-only "scanned" PDFs: text rendered to a noisy, slightly skewed greyscale bitmap;
- a rotated scan (upside down) and a landscape scan turned 90°;
- a mixed document: text page, scanned page, text page;
- a multi-page TIFF;
- a broken file (a truncated PDF);
- page-level truth: samples/truth/<document stem>/<page number, 4 digits>.txt for every page whose
  text the script knows (scanned pages and born-digital pages alike).
"""

from __future__ import annotations

import io
import random
import shutil
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from ops.pdf.synth import merge_pages, text_pdf

ROOT = Path(__file__).resolve().parent.parent / "samples"
DOCS = ROOT / "docs"
TRUTH = ROOT / "truth"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"

PARAGRAPHS = [
    [
        "Page-level text extraction at scale",
        "A document pipeline turns large piles of PDF files into clean text,",
        "one record per page, so that search, analytics and model training",
        "can start from the same trusted table. Most born-digital pages carry",
        "a usable text layer and need no model at all; scanned pages are",
        "rendered to images and read by an optical character recognition engine.",
    ],
    [
        "Why the page is the unit of work",
        "Large reports with thousands of pages exhaust memory when a whole",
        "document is rendered at once. Splitting every file into bounded page",
        "ranges keeps memory flat, lets many workers share one document, and",
        "means that a single damaged page costs one row instead of a file.",
    ],
    [
        "Routing pages to the right engine",
        "Each page is scored on the quality of its embedded text. Pages with",
        "missing, hidden or garbled text go to the OCR route; the others keep",
        "their own text. The decision and the score are stored with the row",
        "so that every result can be audited later with a simple SQL query.",
    ],
    [
        "Measuring what matters",
        "Throughput is reported in pages per second next to a plain loop",
        "measured in the same run, and memory as peak resident set size.",
        "Quality is measured against ground truth with character error rate",
        "and word error rate, per route, per backend and per document.",
    ],
    [
        "Invoice 2041 for scanning services",
        "Item one: preparation of 1200 pages, total 180 dollars.",
        "Item two: colour scans at 300 dpi, total 95 dollars.",
        "Item three: quality review and indexing, total 60 dollars.",
        "Amount due within thirty days: 335 dollars.",
    ],
    [
        "Meeting notes from the archive committee",
        "The committee agreed to digitise the remaining boxes of letters",
        "before the end of the year. Volunteers will check every tenth page",
        "against the printed original and report any pages that need a rescan.",
    ],
]


def scan_image(lines: list[str], seed: int, dpi: int = 200, landscape: bool = False) -> Image.Image:
    """Text on a letter-size page, printed and scanned: slight skew, blur and speckle noise."""
    rng = random.Random(seed)
    width, height = (
        (int(11 * dpi), int(8.5 * dpi)) if landscape else (int(8.5 * dpi), int(11 * dpi))
    )
    page = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(page)
    title = ImageFont.load_default(size=int(dpi * 0.25))
    body = ImageFont.load_default(size=int(dpi * 0.17))
    y = int(dpi * 1.0)
    draw.text((int(dpi * 1.0), y), lines[0], font=title, fill=20)
    y += int(dpi * 0.5)
    for line in lines[1:]:
        draw.text((int(dpi * 1.0), y), line, font=body, fill=rng.randint(10, 50))
        y += int(dpi * 0.28)
    page = page.rotate(rng.uniform(-0.6, 0.6), resample=Image.Resampling.BICUBIC, fillcolor=255)
    page = page.filter(ImageFilter.GaussianBlur(0.6))
    pixels = page.load()
    for _ in range(width * height // 400):
        x, yy = rng.randrange(width), rng.randrange(height)
        pixels[x, yy] = rng.choice((0, 90, 200))
    return page


def image_pdf(images: list[Image.Image], dpi: int = 200) -> bytes:
    buffer = io.BytesIO()
    images[0].save(buffer, format="PDF", resolution=dpi, save_all=True, append_images=images[1:])
    return buffer.getvalue()


def write_truth(stem: str, pages: list[list[str] | None]) -> None:
    for number, lines in enumerate(pages, start=1):
        if lines is None:
            continue
        path = TRUTH / stem / f"{number:04d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> int:
    shutil.rmtree(DOCS, ignore_errors=True)
    shutil.rmtree(TRUTH, ignore_errors=True)
    DOCS.mkdir(parents=True)
    p = PARAGRAPHS

    born = text_pdf([p[0], p[1], p[2]])
    (DOCS / "born-digital-report.pdf").write_bytes(born)
    write_truth("born-digital-report", [p[0], p[1], p[2]])

    scanned = image_pdf([scan_image(p[3], seed=3), scan_image(p[4], seed=4)])
    (DOCS / "scanned-letter.pdf").write_bytes(scanned)
    write_truth("scanned-letter", [p[3], p[4]])

    upside_down = scan_image(p[5], seed=5).rotate(180)
    sideways = scan_image(p[1], seed=6, landscape=True).rotate(90, expand=True)
    (DOCS / "rotated-scans.pdf").write_bytes(image_pdf([upside_down, sideways]))
    write_truth("rotated-scans", [p[5], p[1]])

    text_pages = text_pdf([p[2], p[5]])
    scan_page = image_pdf([scan_image(p[4], seed=7)])
    (DOCS / "mixed.pdf").write_bytes(
        merge_pages([(text_pages, 0), (scan_page, 0), (text_pages, 1)])
    )
    write_truth("mixed", [p[2], p[4], p[5]])

    frames = [scan_image(p[0], seed=8), scan_image(p[3], seed=9)]
    frames[0].save(
        DOCS / "fax.tif",
        save_all=True,
        append_images=frames[1:],
        compression="tiff_deflate",
        dpi=(200, 200),
    )
    write_truth("fax", [p[0], p[3]])

    (DOCS / "broken-truncated.pdf").write_bytes(born[: len(born) * 2 // 3])

    for name in ("tracemonkey.pdf",):
        source = SHARED / "born_digital" / "papers" / name
        if source.exists():
            shutil.copyfile(source, DOCS / name)
    phototest = SHARED / "gt_scanned" / "tesseract_test"
    if phototest.exists():
        shutil.copyfile(phototest / "phototest.tif", DOCS / "phototest.tif")
        write_truth("phototest", [(phototest / "phototest.gold.txt").read_text().splitlines()])
    total = sum(path.stat().st_size for path in ROOT.rglob("*") if path.is_file())
    print(f"samples written to {ROOT} ({total / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
