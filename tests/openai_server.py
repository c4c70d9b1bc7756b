"""A deterministic OpenAI-compatible chat-completions server on loopback, for tests.

It speaks the real protocol over real HTTP: ``POST /v1/chat/completions`` with an image data URL
and a prompt in, ``choices[0].message.content``, ``finish_reason`` and ``usage`` out. By default it
answers with a text derived from the page image (so a test can check that each page got its own
answer back); a test installs a ``reply`` function to inject faults: 429 with ``Retry-After``,
500s, slow answers, truncated or runaway outputs. The image is optional (a judge grading against
a reference text sends text only); ``Request.prompt`` holds the request's text, so a reply can be
derived from it too.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from PIL import Image


@dataclass
class Reply:
    status: int = 200
    text: str | None = None  # None: the page's own deterministic text
    finish_reason: str = "stop"
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    error: str = "injected failure"


@dataclass
class Request:
    body: dict[str, Any]
    headers: dict[str, str]
    image: Image.Image | None  # None: a text-only request

    @property
    def temperature(self) -> float:
        return float(self.body.get("temperature", 1.0))

    @property
    def prompt(self) -> str:
        """The text parts of every message, in order."""
        return "\n".join(
            part["text"] for part in _content_parts(self.body) if part.get("type") == "text"
        )

    @property
    def identity(self) -> bytes:
        """What makes two requests 'the same page': the image, else the text."""
        return self.image.tobytes() if self.image is not None else self.prompt.encode("utf-8")


def page_text(image: Image.Image) -> str:
    """What the server 'reads' from a page: unique per image content."""
    digest = hashlib.sha1(image.convert("L").tobytes()).hexdigest()[:12]
    return f"# Page {image.width}x{image.height}\n\ntext of page {digest}"


def prompt_text(prompt: str) -> str:
    """The answer to a text-only request: unique per prompt."""
    return f"text of prompt {hashlib.sha1(prompt.encode('utf-8')).hexdigest()[:12]}"


def _content_parts(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Every message's content as parts; a plain string content is one text part."""
    parts: list[dict[str, Any]] = []
    for message in body.get("messages", []):
        content = message.get("content")
        if isinstance(content, str):
            parts.append({"type": "text", "text": content})
        elif isinstance(content, list):
            parts.extend(part for part in content if isinstance(part, dict))
    return parts


class ChatServer:
    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.reply: Callable[[Request, int], Reply] = lambda request, count: Reply()
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        # A short poll interval: shutdown() waits up to one interval, once per test.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> ChatServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        if handler.path != "/v1/chat/completions":
            _send(handler, 404, {"error": {"message": f"no route {handler.path}"}})
            return
        body = json.loads(handler.rfile.read(int(handler.headers["Content-Length"])))
        url = next(
            (
                part["image_url"]["url"]
                for part in _content_parts(body)
                if part.get("type") == "image_url"
            ),
            None,
        )
        image = (
            None if url is None else Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
        )
        request = Request(body, dict(handler.headers), image)
        with self._lock:
            self.requests.append(request)
            count = sum(1 for seen in self.requests if seen.identity == request.identity)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            reply = self.reply(request, count)
            time.sleep(reply.delay_s)
            if reply.status != 200:
                _send(handler, reply.status, {"error": {"message": reply.error}}, reply.headers)
                return
            if reply.text is not None:
                text = reply.text
            else:
                text = page_text(image) if image is not None else prompt_text(request.prompt)
            prompt_tokens = 100 + (image.width // 10 if image is not None else 0)
            _send(
                handler,
                200,
                {
                    "id": f"chatcmpl-{len(self.requests)}",
                    "object": "chat.completion",
                    "model": body["model"],
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text},
                            "finish_reason": reply.finish_reason,
                        }
                    ],
                    "usage": {
                        "prompt_tokens": prompt_tokens,
                        "completion_tokens": len(text.split()),
                        "total_tokens": prompt_tokens + len(text.split()),
                    },
                },
                reply.headers,
            )
        finally:
            with self._lock:
                self.in_flight -= 1

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                server._handle(self)

            def log_message(self, *args: object) -> None:
                pass

        return Handler


def _send(
    handler: BaseHTTPRequestHandler,
    status: int,
    payload: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> None:
    data = json.dumps(payload).encode("utf-8")
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the client gave up (a timeout test)
