"""The transformers backend for real, on CPU, with tiny random models of the Qwen2-VL and
Qwen2.5-VL architectures built locally (tests/tiny_vlm.py): load → preprocess → batched
generate → decode → result, and through the OCR runner into a row."""

from __future__ import annotations

import pytest
from PIL import Image, ImageDraw

from ops.backends import create
from ops.backends.transformers_vlm import split_generated
from ops.imaging import encode
from ops.ocr import OcrRunner
from ops.pages import STATUS_PENDING
from ops.schema import IMAGE_COLUMN, to_table
from pipelines.bench.tiny_vlm import build_tiny_vlm

FAMILIES = ["qwen2_vl", "qwen2_5_vl"]


@pytest.fixture(scope="module", params=FAMILIES)
def tiny_model(request, tmp_path_factory):
    return build_tiny_vlm(tmp_path_factory.mktemp(request.param) / request.param, request.param)


def page(index: int, size=(600, 800)) -> Image.Image:
    image = Image.new("L", size, 255)
    ImageDraw.Draw(image).text((20, 20 + 10 * index), f"page {index} has some words", fill=0)
    return image


def loaded(model_path, **options):
    backend = create("transformers", {"model": str(model_path), **options})
    backend.load()
    return backend


def test_batched_generation_gives_one_checked_result_per_page(tiny_model):
    backend = loaded(tiny_model, max_tokens="16")
    pages = [page(0), page(1, (800, 600)), page(2, (300, 300))]
    try:
        results = backend.predict_batch(pages)
        again = backend.predict_batch(pages)
    finally:
        backend.close()
    assert len(results) == 3
    for result in results:
        assert result.attempts == 1 and result.problem is None
        assert result.finish_reason == "stop" and result.text.strip()
        assert result.output_tokens == 15  # the 16th is the stop token, not text
    # The image is part of the prompt: a smaller page costs fewer input tokens.
    assert results[2].input_tokens < results[0].input_tokens
    assert [result.text for result in again] == [result.text for result in results]


def test_rows_from_the_model_through_the_ocr_runner(tiny_model):
    runner = OcrRunner(create("transformers", {"model": str(tiny_model)}), orientation="off")
    runner.load()
    row = {
        "doc_id": "d",
        "source_uri": "u",
        "page_index": 0,
        "page_number": 1,
        "route": "ocr",
        "status": STATUS_PENDING,
        IMAGE_COLUMN: encode(page(0)),
    }
    try:
        (out,) = runner.process(to_table([row])).to_pylist()
    finally:
        runner.close()
    assert out["status"] == "ok" and out["backend"] == "transformers"
    assert out["model"] == tiny_model.name and out["is_fallback"] is False
    assert out["text"] and out["input_tokens"] > 0 and out["batch_size"] == 1


def test_missing_model_folder_says_how_to_get_weights(tmp_path):
    backend = create("transformers", {"model": str(tmp_path / "nothing-here")})
    with pytest.raises(OSError, match="never downloads"):
        backend.load()


def test_options_are_checked_before_any_work():
    with pytest.raises(ValueError, match="model=PATH"):
        create("transformers", {})
    with pytest.raises(ValueError, match="dtype"):
        create("transformers", {"model": "m", "dtype": "int3"})
    cpu = create("transformers", {"model": "m", "device": "cpu"}).declared_resources()
    assert cpu.gpus == 0
    assert create("transformers", {"model": "m"}).declared_resources().gpu_optional


@pytest.mark.parametrize(
    ("row", "stop", "tokens"),
    [
        ([5, 6, 2, 0, 0], "stop", [5, 6]),  # stopped, then padded
        ([5, 6, 7, 8], "length", [5, 6, 7, 8]),  # budget of 4 used up
        ([2, 0, 0, 0], "stop", []),
    ],
)
def test_split_generated(row, stop, tokens):
    decoded = split_generated(row, frozenset({2}), max_new_tokens=4)
    assert decoded.finish_reason == stop and decoded.tokens == tokens
