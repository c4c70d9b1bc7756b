"""An in-process VLM (a tiny random Qwen2-VL) inside the Ray pipeline, on a cluster without GPUs:
the backend may use a GPU, so without one it gets a CPU actor pool instead of failing."""

from __future__ import annotations

import pyarrow.dataset as pads
import pytest

from pipelines import RunConfig, run
from pipelines.bench.tiny_vlm import build_tiny_vlm

pytestmark = pytest.mark.usefixtures("ray_cluster")


def test_tiny_qwen2_vl_reads_pages_in_cpu_actors(samples, tmp_path):
    model = build_tiny_vlm(tmp_path / "tiny-qwen2-vl")
    result = run(
        RunConfig(
            input=str(samples / "docs" / "scanned-letter.pdf"),
            output=str(tmp_path / "out"),
            backend="transformers",
            backend_options={"model": str(model), "max_tokens": "24"},
            orientation="off",
            progress=False,
        )
    )
    assert result.summary.by_route_status == {"ocr/ok": 2}
    table = pads.dataset(tmp_path / "out" / "pages", format="parquet").to_table()
    for row in table.to_pylist():
        assert row["backend"] == "transformers" and row["model"] == "tiny-qwen2-vl"
        assert row["finish_reason"] == "stop" and row["is_fallback"] is False
        assert row["input_tokens"] > 0 and 0 < row["output_tokens"] < 24
