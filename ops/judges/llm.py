"""An LLM/VLM judge: grades each page's extracted text against its image and/or a reference
text through any OpenAI-compatible chat-completions endpoint.

The API is synchronous because its caller is a Ray task grading one bounded group of pages. The
requests run on a thread pool of ``max_concurrency`` workers rather than an event loop: a sync
method that called ``asyncio.run`` would fail wherever a loop is already running (a notebook, an
async actor), and an asyncio semaphore kept between calls breaks on the next ``asyncio.run``.
Threads have no loop to be bound to, the pool and the HTTP connections are reused from one
``evaluate`` to the next, and the retry machinery is the OCR backend's own (sync httpx + tenacity).
A thread per request in flight is cheap next to the model's seconds per page.

An item's failure is data (``invalid_reason``); only a bug escapes. ``httpx`` and ``tenacity``
are imported when the first request is about to be sent, so this module imports without the
``openai`` extra; building a judge without it fails at once with the install command.
"""

from __future__ import annotations

import importlib.util
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from functools import partial
from typing import Any

from ops import errors
from ops.backends.base import MissingDependency
from ops.imaging import decode
from ops.judges.prompt import (
    PROMPT_VERSION,
    VerdictError,
    build_messages,
    graded_against,
    normalise,
    parse_verdict,
)
from ops.judges.results import JudgeItem, JudgeResult
from ops.vlm.images import DEFAULT_LONGEST_SIDE, data_url, prepare_image

DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"
REQUIRES = ("httpx", "tenacity")


@dataclass(eq=False, kw_only=True)
class LlmJudge:
    """A named evaluator. Holds the name of the API key's environment variable, never the key,
    so neither its repr nor a pickled copy sent to a Ray worker can leak it; each process reads
    the key from its own environment when it opens its client."""

    model: str
    base_url: str | None = None  # None: $OPENAI_BASE_URL, else a local `vllm serve`
    api_key_env: str = "OPENAI_API_KEY"
    name: str = "llm_judge"
    max_concurrency: int = 8  # requests in flight
    max_retries: int = 4  # retries of a transient failure, after the first try
    timeout_s: float = 120.0  # per request
    backoff_s: float = 0.5  # a random wait up to backoff_s × 2^retry (≤ 30 s), or Retry-After
    max_text_chars: int = 20_000  # longer page and reference texts are cut, and marked so
    max_tokens: int = 512  # room for the verdict, and for a reasoning model's preamble
    image_longest_side: int | None = DEFAULT_LONGEST_SIDE  # page images are scaled down to this

    _client: Any = field(default=None, init=False, repr=False)
    _pool: Any = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.model:
            raise ValueError("the judge needs the served model's name: model=NAME")
        for option, minimum in (
            ("max_concurrency", 1),
            ("max_retries", 0),
            ("max_text_chars", 1),
            ("max_tokens", 1),
        ):
            if getattr(self, option) < minimum:
                raise ValueError(f"{option} must be at least {minimum}")
        if self.timeout_s <= 0 or self.backoff_s < 0:
            raise ValueError("timeout_s must be positive and backoff_s not negative")
        if self.image_longest_side is not None and self.image_longest_side < 1:
            raise ValueError("image_longest_side must be at least 1, or None")
        missing = [module for module in REQUIRES if importlib.util.find_spec(module) is None]
        if missing:
            raise MissingDependency(
                f"the LLM judge needs {', '.join(missing)}: pip install 'pagemill[openai]'"
            )
        self.base_url = (
            self.base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        ).rstrip("/")

    @property
    def prompt_version(self) -> str:
        return PROMPT_VERSION

    def evaluate(self, items: Sequence[JudgeItem]) -> list[JudgeResult]:
        """One result per item, in the items' order, whatever order the answers arrive in."""
        if not items:
            return []
        pool, client = self._open()
        return list(pool.map(partial(self._judge, client), items))

    def close(self) -> None:
        """Releases the threads and connections; a later ``evaluate`` opens new ones."""
        with self._lock:
            pool, client, self._pool, self._client = self._pool, self._client, None, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        if client is not None:
            client.close()

    def __enter__(self) -> LlmJudge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:
        """Settings only: threads, sockets and locks do not travel to another process."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.init}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            setattr(self, name, value)
        self._client, self._pool, self._lock = None, None, threading.Lock()

    def _open(self) -> tuple[Any, Any]:
        from concurrent.futures import ThreadPoolExecutor

        from ops.judges.client import ChatClient

        with self._lock:
            if self._pool is None:
                self._client = ChatClient(
                    base_url=str(self.base_url),
                    model=self.model,
                    api_key_env=self.api_key_env,
                    timeout_s=self.timeout_s,
                    max_connections=self.max_concurrency,
                    max_retries=self.max_retries,
                    backoff_s=self.backoff_s,
                    max_tokens=self.max_tokens,
                )
                self._pool = ThreadPoolExecutor(
                    self.max_concurrency, thread_name_prefix="pagemill-judge"
                )
            return self._pool, self._client

    def _judge(self, client: Any, item: JudgeItem) -> JudgeResult:
        from ops.judges.client import CallFailed

        source = graded_against(item.image_png is not None, item.truth is not None)
        text, text_cut = _clip(item.text, self.max_text_chars)
        truth, truth_cut = _clip(item.truth, self.max_text_chars)
        result = _Builder(self.model, item.key, source, text_cut, truth_cut)
        if text is None:
            return result.invalid("no text to judge")
        if source is None:
            return result.invalid("no image and no truth to judge against")
        try:
            image_url = self._image_url(item.image_png)
        except errors.ImageDecodeFailed as exc:
            return result.invalid(str(exc))
        cut_at = self.max_text_chars if text_cut or truth_cut else None
        messages = build_messages(text, truth, image_url, cut_at)
        started = time.perf_counter()
        try:
            completion = client.complete(messages)
        except CallFailed as exc:
            return result.invalid(exc.reason, attempts=exc.attempts, started=started)
        usage = {
            "attempts": completion.attempts,
            "input_tokens": completion.input_tokens,
            "output_tokens": completion.output_tokens,
            "started": started,
        }
        try:
            verdict = parse_verdict(completion.content)
        except VerdictError as exc:
            reason = str(exc)
            if completion.finish_reason == "length":
                reason += f" (the reply reached max_tokens={self.max_tokens})"
            return result.invalid(reason, **usage)
        return result.valid(verdict.score, verdict.reason, **usage)

    def _image_url(self, image_png: bytes | None) -> str | None:
        if image_png is None:
            return None
        image = prepare_image(decode(image_png), self.image_longest_side)
        return data_url(image, "png")


def _clip(text: str | None, limit: int) -> tuple[str | None, bool]:
    if text is None or len(text) <= limit:
        return text, False
    return text[:limit], True


@dataclass(frozen=True, slots=True)
class _Builder:
    """The parts of a result known before the request, shared by its valid and invalid ends."""

    model: str
    key: str
    source: str | None
    text_truncated: bool
    truth_truncated: bool

    def valid(self, score: int, reason: str | None, **usage: Any) -> JudgeResult:
        return self._result(score=normalise(score), raw_score=score, reason=reason, **usage)

    def invalid(self, why: str, **usage: Any) -> JudgeResult:
        return self._result(invalid_reason=why, **usage)

    def _result(
        self,
        *,
        score: float | None = None,
        raw_score: int | None = None,
        reason: str | None = None,
        invalid_reason: str | None = None,
        attempts: int = 0,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        started: float | None = None,
    ) -> JudgeResult:
        latency = None if started is None else (time.perf_counter() - started) * 1000
        return JudgeResult(
            key=self.key,
            score=score,
            raw_score=raw_score,
            reason=reason,
            invalid_reason=invalid_reason,
            model=self.model,
            prompt_version=PROMPT_VERSION,
            graded_against=self.source,
            latency_ms=latency,
            attempts=attempts,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            text_truncated=self.text_truncated,
            truth_truncated=self.truth_truncated,
        )
