"""The OpenAI-compatible backend inside the Ray pipeline, against a server on loopback."""

from __future__ import annotations

import pyarrow.dataset as pads
import pytest

from pipelines import RunConfig, run
from tests.cer import cer
from tests.openai_server import ChatServer, Reply

pytestmark = pytest.mark.usefixtures("ray_cluster")


def rows_of(output) -> list[dict]:
    table = pads.dataset(output / "pages", format="parquet").to_table()
    return sorted(table.to_pylist(), key=lambda row: row["page_number"])


def config(server: ChatServer, samples, output, **overrides) -> RunConfig:
    return RunConfig(
        input=str(samples / "docs" / "scanned-letter.pdf"),
        output=str(output),
        backend="openai",
        backend_options={"model": "olmocr-test", "base_url": server.url, "backoff_s": "0.01"},
        orientation="off",
        progress=False,
        **overrides,
    )


def test_pages_go_through_the_endpoint_with_faults_retried(samples, tmp_path):
    with ChatServer() as server:
        server.reply = lambda request, count: Reply(status=503) if count == 1 else Reply()
        result = run(config(server, samples, tmp_path))
    assert result.summary.by_route_status == {"ocr/ok": 2}
    for row in rows_of(tmp_path):
        assert row["backend"] == "openai" and row["model"] == "olmocr-test"
        assert row["text"].startswith("# Page") and row["finish_reason"] == "stop"
        assert row["attempts"] == 1 and row["is_fallback"] is False
        assert row["input_tokens"] > 100 and row["output_tokens"] > 0
        assert row["batch_size"] >= 1
    assert len(server.requests) == 4  # each page: one 503, then the answer
    rows = rows_of(tmp_path)
    assert result.summary.input_tokens == sum(row["input_tokens"] for row in rows)
    assert result.summary.fallback_pages == 0


def test_runaway_model_output_falls_back_to_tesseract(samples, tmp_path):
    with ChatServer() as server:
        server.reply = lambda request, count: Reply(text="the " * 800, finish_reason="length")
        result = run(config(server, samples, tmp_path))
    assert result.summary.by_route_status == {"ocr/ok": 2}
    assert result.summary.fallback_pages == 2 and result.summary.output_tokens > 0
    for row in rows_of(tmp_path):
        truth = samples / "truth" / "scanned-letter" / f"{row['page_number']:04d}.txt"
        assert row["is_fallback"] is True and row["backend"] == "tesseract"
        assert row["finish_reason"] == "length" and row["attempts"] == 3
        assert cer(truth.read_text(), row["text"]) <= 0.02
