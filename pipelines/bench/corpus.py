"""Benchmark corpora, built from the bundled samples (or any folder of PDFs) without downloads."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pypdfium2 as pdfium

from ops.pdf.synth import merge_pages, repeat_pages


def page_count(path: Path) -> int:
    document = pdfium.PdfDocument(str(path))
    try:
        return len(document)
    finally:
        document.close()


def replicate(sources: list[Path], folder: Path, min_pages: int) -> tuple[list[Path], int]:
    """Symlinks to ``sources`` (cycled) in ``folder`` until they hold at least ``min_pages``.

    Links keep a 5,000-page corpus cheap on disk; the pipeline and the baseline read the same
    files, so page-cache effects are shared by both.
    """
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    counts = [page_count(source) for source in sources]
    if not any(counts):
        raise ValueError("no pages in the benchmark sources")
    files: list[Path] = []
    total = 0
    index = 0
    while total < min_pages:
        source, count = sources[index % len(sources)], counts[index % len(sources)]
        link = folder / f"{index:05d}-{source.name}"
        os.symlink(source.resolve(), link)
        files.append(link)
        total += count
        index += 1
    return files, total


def big_pdf(sources: list[tuple[Path, int]], total_pages: int, path: Path) -> Path:
    """One PDF of ``total_pages`` pages cycling through the given (file, page index) pages."""
    cycle = merge_pages([(source.read_bytes(), index) for source, index in sources])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(repeat_pages(cycle, total_pages))
    return path
