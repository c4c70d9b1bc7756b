"""vLLM on a real GPU with a real model. Not run by CI (no GPU there): run it on a CUDA machine
with vLLM installed and a model downloaded beforehand:

    PAGEMILL_VLLM_MODEL=/models/olmOCR-7B-0725 pytest -m gpu tests/gpu
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image

from tests.cer import cer

pytestmark = pytest.mark.gpu

MODEL = os.environ.get("PAGEMILL_VLLM_MODEL")


@pytest.fixture(scope="module")
def engine():
    torch = pytest.importorskip("torch")
    pytest.importorskip("vllm")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    if not MODEL or not Path(MODEL).is_dir():
        pytest.skip("set PAGEMILL_VLLM_MODEL to a local model folder")
    from ops.backends import create

    backend = create("vllm", {"model": MODEL, "max_model_len": "8192"})
    backend.load()
    yield backend
    backend.close()


def test_a_real_model_reads_a_scanned_page(engine, shared_data):
    scan = Image.open(shared_data / "gt_scanned/tesseract_test/phototest.tif").convert("L")
    truth = (shared_data / "gt_scanned/tesseract_test/phototest.gold.txt").read_text()
    (result,) = engine.predict_batch([scan])
    assert result.problem is None and result.finish_reason == "stop"
    assert result.input_tokens > 0 and result.output_tokens > 0
    assert cer(truth, result.text) <= 0.1


def test_a_batch_comes_back_in_order(engine, shared_data):
    scan = Image.open(shared_data / "gt_scanned/tesseract_test/phototest.tif").convert("L")
    blank = Image.new("L", scan.size, 255)
    results = engine.predict_batch([scan, blank, scan])
    assert results[1].text.strip() == "" and results[0].text and results[2].text
