"""The LLM judge against a real HTTP server on loopback (tests/openai_server.py): alignment under
concurrency, the concurrency bound, retries of transient failures only, per-item invalid results,
verdict parsing, the API key's handling, and the result table."""

from __future__ import annotations

import asyncio
import io
import json
import pickle
import re
import socket
import subprocess
import sys
from contextlib import contextmanager

import pyarrow as pa
import pytest
from PIL import Image, ImageDraw

from ops.judges import (
    JUDGE_SCHEMA,
    PROMPT_VERSION,
    JudgeItem,
    JudgeResult,
    LlmJudge,
    judge_items,
    to_table,
)
from ops.judges.prompt import VerdictError, instructions_digest, parse_verdict
from tests.openai_server import ChatServer, Reply

SECRET = "sk-judge-secret-123"


def png(index: int, size=(300, 400)) -> bytes:
    image = Image.new("L", size, 255)
    ImageDraw.Draw(image).text((20, 20 + 10 * index), f"page number {index}", fill=0)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def item(index: int, **overrides) -> JudgeItem:
    fields = {"text": f"page number {index}", "image_png": png(index), "truth": None}
    return JudgeItem(**{**fields, **overrides}, key=f"doc#{index}")


def transcription(prompt: str) -> str:
    match = re.search(r"<transcription>\n(.*)\n</transcription>", prompt, re.DOTALL)
    assert match, prompt
    return match.group(1)


def expected_score(text: str) -> int:
    """The server's verdict for a transcription: derived from it, so alignment is checkable."""
    return 1 + sum(map(ord, text)) % 5


def verdict(request, count) -> Reply:
    text = transcription(request.prompt)
    return Reply(text=json.dumps({"score": expected_score(text), "reason": f"graded {text}"}))


@pytest.fixture
def server():
    with ChatServer() as running:
        running.reply = verdict
        yield running


@contextmanager
def judge(server: ChatServer, **options):
    defaults = {"model": "judge-test", "base_url": server.url, "backoff_s": 0.01}
    with LlmJudge(**{**defaults, **options}) as instance:
        yield instance


def test_results_align_with_their_items_under_concurrency(server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    # Later items answer faster, so answers arrive out of order.
    slow = {f"page number {index}": 0.03 * (9 - index) for index in range(10)}
    server.reply = lambda request, count: Reply(
        delay_s=slow[transcription(request.prompt)], text=verdict(request, count).text
    )
    items = [item(index) for index in range(10)]
    with judge(server, max_concurrency=4, image_longest_side=200) as grader:
        results = grader.evaluate(items)
    assert [result.key for result in results] == [it.key for it in items]
    for index, result in enumerate(results):
        raw = expected_score(f"page number {index}")
        assert result.valid and result.raw_score == raw and result.score == (raw - 1) / 4
        assert result.reason == f"graded page number {index}"
        assert result.attempts == 1 and result.input_tokens and result.output_tokens
        assert result.model == "judge-test" and result.prompt_version == PROMPT_VERSION
        assert result.graded_against == "image" and result.latency_ms > 0
    assert server.max_in_flight == 4
    request = server.requests[0]
    assert request.body["temperature"] == 0.0 and request.body["model"] == "judge-test"
    assert request.headers["Authorization"] == f"Bearer {SECRET}"
    assert request.image is not None and max(request.image.size) <= 200


def test_concurrency_is_bounded(server):
    server.reply = lambda request, count: Reply(delay_s=0.1, text=verdict(request, count).text)
    with judge(server, max_concurrency=2) as grader:
        results = grader.evaluate([item(index) for index in range(6)])
    assert all(result.valid for result in results)
    assert server.max_in_flight == 2


def test_429_is_retried_after_the_servers_retry_after(server):
    server.reply = lambda request, count: (
        Reply(status=429, headers={"Retry-After": "0.2"}) if count == 1 else verdict(request, 0)
    )
    with judge(server) as grader:
        (result,) = grader.evaluate([item(3)])
    assert result.valid and result.raw_score == expected_score("page number 3")
    assert result.attempts == 2
    assert len(server.requests) == 2
    assert result.latency_ms >= 200  # the server's wait, not the 10 ms backoff


def test_500s_are_retried_until_one_succeeds(server):
    server.reply = lambda request, count: (
        Reply(status=500, error="overloaded") if count <= 2 else verdict(request, 0)
    )
    with judge(server) as grader:
        (result,) = grader.evaluate([item(1)])
    assert result.valid and result.attempts == 3 and len(server.requests) == 3


def test_a_persistent_500_becomes_invalid_after_the_retry_budget(server):
    server.reply = lambda request, count: Reply(status=503, error="backend overloaded")
    with judge(server, max_retries=2) as grader:
        results = grader.evaluate([item(0), item(1)])
    for result in results:
        assert result.invalid_reason == "HTTP 503: backend overloaded (gave up after 3 attempts)"
        assert result.score is None and result.attempts == 3
    assert len(server.requests) == 6


def test_a_timeout_is_retried(server):
    server.reply = lambda request, count: (
        Reply(delay_s=1.0) if count == 1 else verdict(request, count)
    )
    with judge(server, timeout_s=0.3) as grader:
        (result,) = grader.evaluate([item(2)])
    assert result.valid and result.attempts == 2


def test_an_unreachable_endpoint_is_invalid_not_an_exception():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with LlmJudge(
        model="m", base_url=f"http://127.0.0.1:{port}/v1", max_retries=1, backoff_s=0.0
    ) as grader:
        (result,) = grader.evaluate([item(0)])
    assert result.invalid_reason.startswith("ConnectError")
    assert result.attempts == 2


def test_client_errors_are_not_retried(server):
    server.reply = lambda request, count: Reply(status=400, error="model does not support images")
    with judge(server) as grader:
        (result,) = grader.evaluate([item(0)])
    assert result.invalid_reason == "HTTP 400: model does not support images"
    assert result.attempts == 1 and len(server.requests) == 1


@pytest.mark.parametrize(
    ("reply", "invalid_reason"),
    [
        (Reply(text="The transcription looks fine to me."), "judge reply is not valid JSON"),
        (Reply(text='{"score": 7, "reason": "great"}'), "score out of range: 7 (expected 1-5)"),
        (Reply(text='{"verdict": "good"}'), "judge reply has no score"),
        (
            Reply(text='{"score": 4, "reason": "mostly', finish_reason="length"),
            "judge reply is not valid JSON (the reply reached max_tokens=512)",
        ),
    ],
)
def test_an_unusable_verdict_is_invalid_and_not_retried(server, reply, invalid_reason):
    server.reply = lambda request, count: reply
    with judge(server) as grader:
        (result,) = grader.evaluate([item(0)])
    assert result.invalid_reason == invalid_reason and result.score is None
    assert result.attempts == 1 and len(server.requests) == 1
    assert result.output_tokens is not None  # the tokens were paid for all the same


def test_a_fenced_verdict_is_parsed(server):
    server.reply = lambda request, count: Reply(
        text='Here is my grade:\n```json\n{"score": 2, "reason": "half the page is missing"}\n```'
    )
    with judge(server) as grader:
        (result,) = grader.evaluate([item(0)])
    assert result.raw_score == 2 and result.score == 0.25
    assert result.reason == "half the page is missing"


@pytest.mark.parametrize(
    ("reply", "score", "reason"),
    [
        ('{"score": 5, "reason": "exact"}', 5, "exact"),
        ('```json\n{"score": 3}\n```', 3, None),
        (
            'Set {x} aside. {"note": {"a": 1}} {"score": "4", "reason": " ok "} {"score": 1}',
            4,
            "ok",
        ),
        ('{"score": 4.0, "reason": ""}', 4, None),
    ],
)
def test_verdict_parsing(reply, score, reason):
    parsed = parse_verdict(reply)
    assert (parsed.score, parsed.reason) == (score, reason)


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        ("", "not valid JSON"),
        ("[1, 2]", "not valid JSON"),
        ('{"score": 4.5}', "not an integer"),
        ('{"score": true}', "not an integer"),
        ('{"score": 0}', "out of range"),
    ],
)
def test_unusable_verdicts(reply, message):
    with pytest.raises(VerdictError, match=message):
        parse_verdict(reply)


def test_missing_inputs_become_invalid_results_without_a_request(server):
    items = [
        item(0, image_png=None),
        item(1, text=None),
        item(2, image_png=b"not a png"),
        item(3),
    ]
    with judge(server) as grader:
        results = grader.evaluate(items)
    assert [result.invalid_reason for result in results[:2]] == [
        "no image and no truth to judge against",
        "no text to judge",
    ]
    assert results[2].invalid_reason.startswith("cannot decode page image")
    assert all(result.attempts == 0 and result.latency_ms is None for result in results[:3])
    assert results[3].valid and len(server.requests) == 1


def test_a_page_without_image_is_judged_against_its_truth_in_text_only(server):
    with judge(server) as grader:
        (result,) = grader.evaluate([item(4, image_png=None, truth="Page number 4.")])
    assert result.valid and result.graded_against == "truth"
    assert result.raw_score == expected_score("page number 4")
    (request,) = server.requests
    assert request.image is None
    assert "<reference>\nPage number 4.\n</reference>" in request.prompt


def test_image_and_truth_are_sent_together(server):
    with judge(server) as grader:
        (result,) = grader.evaluate([item(1, truth="Page number 1.")])
    assert result.graded_against == "image+truth"
    assert server.requests[0].image is not None and "<reference>" in server.requests[0].prompt


def test_long_texts_are_cut_and_marked(server):
    text = "word " * 100 + "7"
    with judge(server, max_text_chars=50) as grader:
        (cut, whole) = grader.evaluate([item(0, text=text, truth=text), item(1)])
    assert cut.text_truncated and cut.truth_truncated and cut.valid
    assert not whole.text_truncated and not whole.truth_truncated
    prompts = {transcription(request.prompt): request.prompt for request in server.requests}
    assert text[:50] in prompts
    assert "cut after 50 characters" in prompts[text[:50]]
    assert "cut after" not in prompts["page number 1"]


def test_columns_of_unequal_length_are_an_error():
    with pytest.raises(ValueError, match="differ in length"):
        judge_items(["a", "b"], ["text a", "text b"], images=[None])
    items = judge_items(["a", "b"], ["text a", None], truths=["truth a", "truth b"])
    assert items[1] == JudgeItem(text=None, image_png=None, truth="truth b", key="b")


def test_the_api_key_travels_only_in_the_authorization_header(server, monkeypatch):
    monkeypatch.setenv("JUDGE_KEY", SECRET)
    with judge(server, api_key_env="JUDGE_KEY") as grader:
        results = grader.evaluate([item(0)])
        assert server.requests[0].headers["Authorization"] == f"Bearer {SECRET}"
        shown = repr(grader) + repr(results) + str(to_table(results).to_pylist())
        assert SECRET not in shown and "JUDGE_KEY" in repr(grader)
        assert SECRET.encode() not in pickle.dumps(grader)


def test_evaluate_works_again_after_a_call_and_inside_a_running_event_loop(server):
    async def from_a_coroutine(grader: LlmJudge) -> list[JudgeResult]:
        return grader.evaluate([item(2)])

    with judge(server) as grader:
        first = grader.evaluate([item(0)])
        second = grader.evaluate([item(1)])
        third = asyncio.run(from_a_coroutine(grader))
        grader.close()
        reopened = grader.evaluate([item(3)])
    assert all(result.valid for result in first + second + third + reopened)
    assert grader.evaluate([]) == []


def test_a_pickled_judge_works_in_its_new_home(server):
    with judge(server) as grader:
        grader.evaluate([item(0)])
        copy = pickle.loads(pickle.dumps(grader))
    with copy:
        (result,) = copy.evaluate([item(1)])
    assert result.valid and copy.base_url == server.url


def test_the_table_keeps_its_schema_when_everything_is_null(server):
    with judge(server) as grader:
        results = grader.evaluate([item(0, text=None), item(1, image_png=None)])
    table = to_table(results)
    assert table.schema == JUDGE_SCHEMA and table.num_rows == 2
    assert table.column("score").null_count == 2
    assert to_table([]).schema == JUDGE_SCHEMA
    assert pa.concat_tables([table, to_table([])]).num_rows == 2
    assert JUDGE_SCHEMA.names == list(JudgeResult.__dataclass_fields__)


def test_options_are_checked_when_the_judge_is_built():
    with pytest.raises(ValueError, match="model=NAME"):
        LlmJudge(model="")
    with pytest.raises(ValueError, match="max_concurrency"):
        LlmJudge(model="m", max_concurrency=0)


def test_a_prompt_change_comes_with_a_new_version():
    # Changed the judge's instructions? Bump PROMPT_VERSION, then update the digest here.
    assert (PROMPT_VERSION, instructions_digest()) == ("fidelity-v1", "3e5577603dbc840c")


def test_the_package_imports_without_the_openai_extra():
    code = (
        "import sys\n"
        "sys.modules['httpx'] = sys.modules['tenacity'] = None\n"
        "import ops.judges\n"
        "try:\n"
        "    ops.judges.LlmJudge(model='m')\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "MissingDependency" in done.stdout and "pip install 'pagemill[openai]'" in done.stdout
