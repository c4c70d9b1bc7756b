"""One chat-completions call under the OCR backend's retry policy (``ops.backends.openai_http``).

A judge's failures are per page, so every failure here ends as a :class:`CallFailed` carrying a
short reason and the number of attempts, for the caller to record; nothing else escapes. Only
transient failures are retried (connection errors, timeouts, 408/425/429/5xx, waiting out
``Retry-After`` up to a cap); a bad request, a bad key or an unreadable response is final at once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from ops.backends.openai_http import (
    TRANSIENT_STATUS,
    EndpointError,
    TransientHttpError,
    _BackoffOrRetryAfter,
    _detail,
    _is_transient,
    _retry_after,
)


@dataclass(frozen=True, slots=True)
class Completion:
    content: str
    finish_reason: str | None
    attempts: int
    input_tokens: int | None
    output_tokens: int | None


class CallFailed(Exception):
    def __init__(self, reason: str, attempts: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.attempts = attempts


class ChatClient:
    """A thread-safe ``httpx.Client`` for one endpoint and model. The API key goes into the
    client's headers and nowhere else: not an attribute, not a message, not a result."""

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key_env: str,
        timeout_s: float,
        max_connections: int,
        max_retries: int,
        backoff_s: float,
        max_tokens: int,
    ) -> None:
        import httpx

        headers = {}
        key = os.environ.get(api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self._http = httpx.Client(
            base_url=base_url,
            headers=headers,
            timeout=timeout_s,
            limits=httpx.Limits(max_connections=max_connections),
        )
        self._model = model
        self._max_retries = max_retries
        self._backoff_s = backoff_s
        self._max_tokens = max_tokens

    def complete(self, messages: list[dict[str, Any]]) -> Completion:
        import httpx
        import tenacity

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self._max_retries + 1),
            wait=_BackoffOrRetryAfter(self._backoff_s),
            retry=tenacity.retry_if_exception(_is_transient),
            reraise=True,
        )
        attempts = 0
        try:
            for attempt in retrying:
                with attempt:
                    attempts += 1
                    payload = self._post(messages)
        except EndpointError as exc:
            raise CallFailed(str(exc), attempts) from None
        except TransientHttpError as exc:
            raise CallFailed(f"{exc} (gave up after {attempts} attempts)", attempts) from None
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            raise CallFailed(f"{detail} (gave up after {attempts} attempts)", attempts) from None
        return _completion(payload, attempts)

    def _post(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        body = {
            "model": self._model,
            "messages": messages,
            "max_tokens": self._max_tokens,
            "temperature": 0.0,
        }
        response = self._http.post("/chat/completions", json=body)
        if response.status_code in TRANSIENT_STATUS:
            raise TransientHttpError(
                response.status_code, _detail(response), _retry_after(response)
            )
        if response.status_code >= 400:
            raise EndpointError(f"HTTP {response.status_code}: {_detail(response)}")
        try:
            payload = response.json()
        except ValueError:
            raise EndpointError("endpoint reply is not JSON") from None
        if not isinstance(payload, dict):
            raise EndpointError("not a chat-completions response")
        return payload

    def close(self) -> None:
        self._http.close()


def _completion(payload: dict[str, Any], attempts: int) -> Completion:
    try:
        choice = payload["choices"][0]
        content = choice["message"].get("content") or ""
    except (KeyError, IndexError, TypeError, AttributeError):
        raise CallFailed("not a chat-completions response", attempts) from None
    usage = payload.get("usage") or {}
    return Completion(
        content=str(content),
        finish_reason=choice.get("finish_reason"),
        attempts=attempts,
        input_tokens=_count(usage, "prompt_tokens"),
        output_tokens=_count(usage, "completion_tokens"),
    )


def _count(usage: Any, name: str) -> int | None:
    value = usage.get(name) if isinstance(usage, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None
