"""Any OpenAI-compatible chat-completions endpoint: ``vllm serve``, sglang, hosted APIs.

Each actor keeps one HTTP client and sends up to ``max_concurrency`` pages at once. Transient
failures (connection errors, timeouts, 408/425/429/5xx) are retried with exponential backoff and
jitter, honouring ``Retry-After``; other HTTP errors fail the page at once, because retrying a bad
request or a bad key only repeats it. The API key is read from the environment variable named by
``api_key_env`` and is never logged or written anywhere.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, ClassVar

from PIL import Image

from ops.backends.base import Resources
from ops.backends.registry import register
from ops.vlm.backend import VLM_OPTIONS, VlmBackend
from ops.vlm.images import data_url
from ops.vlm.output import Generation
from ops.vlm.prompt import chat_messages

DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"
TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
MAX_RETRY_AFTER_S = 60.0


class TransientHttpError(RuntimeError):
    def __init__(self, status: int, detail: str, retry_after: float | None) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.retry_after = retry_after


class EndpointError(RuntimeError):
    """A response that retrying cannot fix (bad request, bad key, unknown model, bad JSON)."""


@register
class OpenAIBackend(VlmBackend):
    name = "openai"
    requires = ("httpx", "tenacity")
    extra = "openai"
    # The model runs elsewhere: an actor only encodes pages and waits on sockets.
    resources: ClassVar[Resources] = Resources(cpus=0.25)
    rows_per_call: ClassVar[int] = 32  # several calls' worth of requests in flight per actor
    option_defaults: ClassVar[dict[str, Any]] = {
        **VLM_OPTIONS,
        "model": "",
        "base_url": "",  # default: $OPENAI_BASE_URL, else a local `vllm serve`
        "api_key_env": "OPENAI_API_KEY",
        "max_concurrency": 8,  # requests in flight per actor
        "timeout_s": 300.0,  # per request
        "max_retries": 5,  # retries of a transient failure, after the first try
        "backoff_s": 0.5,  # backoff scale: a random wait up to backoff_s × 2^retry, ≤ 30 s
        "image_format": "png",
    }

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        if not self.options["model"]:
            raise ValueError(
                "backend 'openai' needs the served model's name: --backend-option model=NAME"
            )
        self.base_url = (
            self.options["base_url"] or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        ).rstrip("/")
        self._client: Any = None
        self._pool: Any = None

    @property
    def model(self) -> str:
        return str(self.options["model"])

    def load(self) -> None:
        from concurrent.futures import ThreadPoolExecutor

        import httpx

        headers = {}
        key = os.environ.get(str(self.options["api_key_env"]))
        if key:
            headers["Authorization"] = f"Bearer {key}"
        concurrency = max(1, int(self.options["max_concurrency"]))
        self._client = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=float(self.options["timeout_s"]),
            limits=httpx.Limits(max_connections=concurrency),
        )
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="pagemill-openai")

    def generate(self, images: Sequence[Image.Image], temperature: float) -> list[Generation]:
        assert self._client is not None, "load() first"
        urls = [data_url(image, str(self.options["image_format"])) for image in images]
        return list(self._pool.map(lambda url: self._complete(url, temperature), urls))

    def _complete(self, image_url: str, temperature: float) -> Generation:
        import tenacity

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(int(self.options["max_retries"]) + 1),
            wait=_BackoffOrRetryAfter(float(self.options["backoff_s"])),
            retry=tenacity.retry_if_exception(_is_transient),
            reraise=True,
        )
        return retrying(self._request, image_url, temperature)

    def _request(self, image_url: str, temperature: float) -> Generation:
        body = {
            "model": self.options["model"],
            "messages": chat_messages(image_url, self.prompt),
            "max_tokens": int(self.options["max_tokens"]),
            "temperature": temperature,
        }
        response = self._client.post("/chat/completions", json=body)
        if response.status_code in TRANSIENT_STATUS:
            raise TransientHttpError(
                response.status_code, _detail(response), _retry_after(response)
            )
        if response.status_code >= 400:
            status, detail = response.status_code, _detail(response)
            raise EndpointError(f"HTTP {status} from the endpoint: {detail}")
        try:
            payload = response.json()
            choice = payload["choices"][0]
            text = choice["message"].get("content") or ""
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise EndpointError(f"not a chat-completions response: {exc!r}") from None
        usage = payload.get("usage") or {}
        return Generation(
            text=text,
            finish_reason=choice.get("finish_reason"),
            input_tokens=usage.get("prompt_tokens"),
            output_tokens=usage.get("completion_tokens"),
        )

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        if self._client is not None:
            self._client.close()
            self._client = None


class _BackoffOrRetryAfter:
    """Exponential backoff with full jitter (a random wait up to ``initial_s`` × 2^retry, at most
    30 s), or the server's ``Retry-After`` when it sent one."""

    def __init__(self, initial_s: float) -> None:
        import tenacity

        self._exponential = tenacity.wait_random_exponential(multiplier=initial_s, max=30.0)

    def __call__(self, retry_state: Any) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, TransientHttpError) and exc.retry_after is not None:
            return min(exc.retry_after, MAX_RETRY_AFTER_S)
        return float(self._exponential(retry_state))


def _is_transient(exc: BaseException) -> bool:
    import httpx

    return isinstance(exc, TransientHttpError | httpx.TimeoutException | httpx.TransportError)


def _retry_after(response: Any) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def _detail(response: Any) -> str:
    """The server's error message, short; never the request (it holds the page and headers)."""
    try:
        error = response.json().get("error")
        message = error.get("message") if isinstance(error, dict) else error
    except (ValueError, AttributeError):
        message = None
    return str(message or response.text or response.reason_phrase)[:300]
