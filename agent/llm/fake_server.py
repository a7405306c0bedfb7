"""A fake OpenAI-compatible server on 127.0.0.1, for tests and benchmarks.

Real HTTP, so the real ``openai`` client, its parsing and tenacity are exercised. Replies
come from a script (consumed in order) or a function of the request; each can set the
status, headers (``retry-after-ms``), a delay, the ``finish_reason`` or a raw body
(malformed JSON). Every request is recorded, so tests can read what the model was sent.

    with FakeOpenAIServer([FakeReply(status=429, headers={"retry-after-ms": "10"}),
                           FakeReply(content=reply_json)]) as server:
        settings = LLMSettings(base_url=server.base_url, api_key="test")
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pydantic import BaseModel


@dataclass(frozen=True, slots=True)
class FakeReply:
    """One scripted answer."""

    content: str | dict[str, Any] | BaseModel | None = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    finish_reason: str = "stop"
    raw_body: str | None = None
    """Sent as the body instead of a chat completion (e.g. truncated JSON)."""
    usage: tuple[int, int] | None = None
    """(prompt, completion) tokens; estimated from the text when None."""


Responder = Callable[[dict[str, Any]], FakeReply]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


class FakeOpenAIServer:
    """Serves ``/v1/chat/completions`` from a script or a responder function."""

    def __init__(self, script: Iterable[FakeReply] | Responder = (),
                 default: FakeReply | None = None) -> None:
        self._responder = script if callable(script) else None
        self._script: deque[FakeReply] = deque(() if callable(script) else script)
        self._default = default
        self._lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        self._httpd = _Server(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """The URL to give the client (``http://127.0.0.1:PORT/v1``)."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def __enter__(self) -> FakeOpenAIServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def add(self, *replies: FakeReply) -> None:
        """Append replies to the script."""
        with self._lock:
            self._script.extend(replies)

    def _next(self, request: dict[str, Any]) -> FakeReply:
        with self._lock:
            self.requests.append(request)
            if self._responder is not None:
                responder = self._responder
            elif self._script:
                return self._script.popleft()
            elif self._default is not None:
                return self._default
            else:
                return FakeReply(status=500, raw_body='{"error": {"message": "script '
                                 'exhausted"}}')
        return responder(request)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                request = json.loads(self.rfile.read(length) or b"{}")
                reply = server._next(request)
                if reply.delay:
                    time.sleep(reply.delay)
                body = _body(reply, request).encode("utf-8")
                self.send_response(reply.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: tests read server.requests instead

        return Handler


def _body(reply: FakeReply, request: dict[str, Any]) -> str:
    if reply.raw_body is not None:
        return reply.raw_body
    if reply.status >= 400:
        return json.dumps({"error": {"message": f"fake error {reply.status}",
                                     "type": "fake", "code": None}})
    content = reply.content
    if isinstance(content, BaseModel):
        content = content.model_dump_json()
    elif isinstance(content, dict):
        content = json.dumps(content)
    text = content or ""
    prompt, completion = reply.usage or (len(json.dumps(request.get("messages", []))) // 4,
                                         max(1, len(text) // 4))
    return json.dumps({
        "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
        "model": request.get("model", "fake"),
        "choices": [{"index": 0, "finish_reason": reply.finish_reason, "logprobs": None,
                     "message": {"role": "assistant", "content": text, "refusal": None}}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                  "total_tokens": prompt + completion}})


_EVIDENCE = re.compile(r'<(record-[0-9a-f]+) kind="evidence" id="(E\d+)" fact="([a-z_0-9]+)"'
                       r'[^>]*>\n(.*?)\n</\1>', re.DOTALL)


def evidence_in(request: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(id, fact, text) of each evidence item in a request built by agent.llm.prompt."""
    user = next((m["content"] for m in request.get("messages", [])
                 if m.get("role") == "user"), "")
    return [(m.group(2), m.group(3), m.group(4)) for m in _EVIDENCE.finditer(user)]


def grounded_reply(request: dict[str, Any]) -> dict[str, Any]:
    """A reply that passes the guardrails (for tests and benchmarks).

    It has one paragraph per fact of the prompt, quoting the first words of one of its
    evidence items verbatim.
    """
    items = evidence_in(request)
    paragraphs = []
    for fact in dict.fromkeys(f for _, f, _ in items):
        texts = [t for _, f, t in items if f == fact and "[" not in t]
        sentence = "The medical record documents this fact for the service under appeal."
        if texts:
            sentence += f' The note states "{" ".join(texts[0].split()[:6])}".'
        paragraphs.append({"text": sentence, "facts": [fact]})
    return {"paragraphs": paragraphs, "proposed_evidence": []}
