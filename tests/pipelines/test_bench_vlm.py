"""The VLM benchmark's accounting, on its CPU smoke run (tiny random Qwen2-VL)."""

from __future__ import annotations

import pytest

from pipelines.bench.vlm import vlm_route

pytestmark = pytest.mark.usefixtures("ray_cluster")


def test_smoke_run_reports_throughput_tokens_and_hours(samples, tmp_path):
    report = vlm_route(samples / "docs", tmp_path, 4, "transformers", None, None)
    assert report["backend"] == "transformers" and report["routes"] == {"ocr/ok": 4}
    assert report["engine_pages_per_s"] > report["pages_per_s"]  # the job's start left out
    assert report["pages_per_s"] > 0 and report["output_tokens_per_s"] > 0
    assert report["gpu_hours_per_million_pages"] == 0.0  # no GPU in the test cluster
    # 2 CPUs for 1/pages_per_s seconds a page, per million pages, in hours:
    expected = 2 / report["pages_per_s"] * 1e6 / 3600
    assert report["cpu_core_hours_per_million_pages"] == pytest.approx(expected, rel=0.02)
    assert sum(report["batch_size_pages"].values()) == 4
    assert report["batch_size_trajectory"][0] in report["batch_size_pages"]
    assert report["gpu_utilisation_percent"] in ("no GPU", "no samples") or isinstance(
        report["gpu_utilisation_percent"], dict
    )
