"""The OpenAI-compatible backend against a real HTTP server on loopback (tests/openai_server.py):
protocol, alignment under concurrency, retries with backoff, timeouts, output checks."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from PIL import Image, ImageDraw

from ops.backends import create
from ops.backends.openai_http import EndpointError, TransientHttpError
from tests.openai_server import ChatServer, Reply, page_text

SENTENCE = "The committee met on Tuesday and approved the budget for the coming year."


def page(index: int, size=(600, 800)) -> Image.Image:
    image = Image.new("L", size, 255)
    ImageDraw.Draw(image).text((40, 40 + 10 * index), f"page number {index}", fill=0)
    return image


@pytest.fixture
def server():
    with ChatServer() as running:
        yield running


@contextmanager
def backend(server: ChatServer, **options):
    """A loaded backend talking to ``server``, closed afterwards."""
    defaults = {"model": "olmocr-test", "base_url": server.url, "backoff_s": "0.01"}
    instance = create("openai", {**defaults, **{k: str(v) for k, v in options.items()}})
    instance.load()
    try:
        yield instance
    finally:
        instance.close()


def test_pages_round_trip_over_http_aligned_with_their_inputs(server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret")
    # Later pages answer faster, so responses arrive out of order.
    server.reply = lambda request, count: Reply(delay_s=0.05 * (request.image.height % 7))
    pages = [page(index, (600, 800 + index)) for index in range(6)]
    with backend(server, max_concurrency=3) as engine:
        results = engine.predict_batch(pages)
    prepared = [engine.prepare(image) for image in pages]
    assert [result.text for result in results] == [page_text(image) for image in prepared]
    assert all(result.finish_reason == "stop" and result.attempts == 1 for result in results)
    assert all(result.input_tokens and result.output_tokens for result in results)
    request = server.requests[0]
    assert request.body["model"] == "olmocr-test"
    assert request.body["temperature"] == 0.0 and request.body["max_tokens"] == 4096
    assert request.headers["Authorization"] == "Bearer sk-test-secret"
    assert request.image.mode == "RGB" and max(request.image.size) <= 1288
    assert "Markdown" in request.body["messages"][0]["content"][1]["text"]
    assert engine.model == "olmocr-test"


def test_concurrency_per_actor_is_bounded(server):
    server.reply = lambda request, count: Reply(delay_s=0.1)
    with backend(server, max_concurrency=2) as engine:
        engine.predict_batch([page(index) for index in range(8)])
    assert server.max_in_flight == 2


def test_429_is_retried_after_the_servers_retry_after(server):
    server.reply = lambda request, count: (
        Reply(status=429, headers={"Retry-After": "0.2"}) if count <= 2 else Reply()
    )
    with backend(server) as engine:
        (result,) = engine.predict_batch([page(0)])
    assert result.text.startswith("# Page") and len(server.requests) == 3


def test_persistent_500_gives_up_after_the_retry_budget(server):
    server.reply = lambda request, count: Reply(status=500, error="backend overloaded")
    with (
        backend(server, max_retries=2) as engine,
        pytest.raises(TransientHttpError, match="HTTP 500: backend overloaded"),
    ):
        engine.predict_batch([page(0)])
    assert len(server.requests) == 3


def test_client_errors_are_not_retried(server):
    server.reply = lambda request, count: Reply(status=400, error="model does not support images")
    with (
        backend(server) as engine,
        pytest.raises(EndpointError, match=r"400 .* does not support images"),
    ):
        engine.predict_batch([page(0)])
    assert len(server.requests) == 1


def test_a_request_over_its_timeout_is_retried(server):
    server.reply = lambda request, count: Reply(delay_s=1.0) if count == 1 else Reply()
    with backend(server, timeout_s=0.3) as engine:
        (result,) = engine.predict_batch([page(0)])
    assert result.text.startswith("# Page") and len(server.requests) == 2


def test_runaway_output_is_retried_at_a_higher_temperature(server):
    server.reply = lambda request, count: (
        Reply(text=SENTENCE + " and so on" * 200) if request.temperature == 0 else Reply()
    )
    with backend(server) as engine:
        (result,) = engine.predict_batch([page(0)])
    assert result.problem is None and result.attempts == 2
    assert result.text.startswith("# Page")
    assert [request.temperature for request in server.requests] == [0.0, 0.4]
    # Tokens of both attempts are counted: they were paid for.
    assert result.output_tokens > 200


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        (Reply(text=SENTENCE, finish_reason="length"), "truncated"),
        (Reply(text=""), "empty"),
    ],
)
def test_output_still_unusable_after_the_last_attempt_is_flagged(server, reply, problem):
    server.reply = lambda request, count: reply
    with backend(server, max_attempts=3) as engine:
        (result,) = engine.predict_batch([page(0)])
    assert result.problem == problem and result.attempts == 3 and len(server.requests) == 3


def test_an_empty_answer_for_a_blank_page_is_fine(server):
    server.reply = lambda request, count: Reply(text="")
    with backend(server) as engine:
        (result,) = engine.predict_batch([Image.new("L", (600, 800), 255)])
    assert result.problem is None and result.text == "" and len(server.requests) == 1


def test_options_are_checked_before_any_work():
    with pytest.raises(ValueError, match="model=NAME"):
        create("openai", {})
    with pytest.raises(ValueError, match="max_attempts"):
        create("openai", {"model": "m", "max_attempts": "0"})
