"""A fake Anthropic + OpenAI server on loopback, so the real SDK clients run end to end.

Each provider has a queue of scripted replies; every request body and header is recorded.
A model id (the request's `model` field) scripted with `script_model` has its own queue, which
wins over its provider's: several models of one provider can be told apart.
A reply is {"text", "tool_calls": [{"name", "arguments"}], "usage": {...}} or {"status": 500}.
Faults: {"fault": "reset"} closes the connection without an answer; {"fault": "truncate"} cuts an
Anthropic stream (or an OpenAI body) short; a "delay" key (seconds) waits before answering.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.local_server import LocalServer

DEFAULT_USAGE = {"input_tokens": 1000, "output_tokens": 100, "cache_read_tokens": 0, "cache_write_tokens": 0}


def tool(name: str, **arguments: Any) -> dict[str, Any]:
    """A scripted tool call."""
    return {"name": name, "arguments": arguments}


def reply(*calls: dict[str, Any], text: str = "", usage: dict[str, int] | None = None) -> dict[str, Any]:
    """A scripted model reply."""
    return {"text": text, "tool_calls": list(calls), "usage": {**DEFAULT_USAGE, **(usage or {})}}


def review(verdict: str, findings: list[dict[str, Any]] | None = None, summary: str = "ok",
           usage: dict[str, int] | None = None) -> dict[str, Any]:
    """A scripted submit_review reply."""
    return reply(tool("submit_review", verdict=verdict, summary=summary, findings=findings or []), usage=usage)


class FakeModels(LocalServer):
    """The server: `anthropic` and `openai` reply queues, `requests` log per provider."""

    def __init__(self) -> None:
        self.queues: dict[str, deque[dict[str, Any]]] = {"anthropic": deque(), "openai": deque()}
        self.requests: dict[str, list[dict[str, Any]]] = {"anthropic": [], "openai": []}
        self.headers: dict[str, list[dict[str, str]]] = {"anthropic": [], "openai": []}
        self.raw_bodies: dict[str, list[bytes]] = {"anthropic": [], "openai": []}
        self.times: dict[str, list[float]] = {"anthropic": [], "openai": []}
        self.model_queues: dict[str, deque[dict[str, Any]]] = {}
        self.by_model: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        super().__init__(self._handler())


    def script(self, provider: str, *replies: dict[str, Any]) -> None:
        """Queue replies for a provider."""
        self.queues[provider].extend(replies)

    def script_model(self, model: str, *replies: dict[str, Any]) -> None:
        """Queue replies for one model id (of either provider)."""
        self.model_queues.setdefault(model, deque()).extend(replies)

    def _next(self, provider: str, body: dict[str, Any], headers: dict[str, str], raw: bytes) -> dict[str, Any]:
        with self._lock:
            self.requests[provider].append(body)
            self.headers[provider].append(headers)
            self.raw_bodies[provider].append(raw)
            self.times[provider].append(time.monotonic())
            self.by_model.setdefault(str(body.get("model")), []).append(body)
            if body.get("model") in self.model_queues:
                queue = self.model_queues[body["model"]]
                return queue.popleft() if queue else {"status": 500, "error": "fake server: no scripted reply left"}
            if not self.queues[provider]:
                return {"status": 500, "error": "fake server: no scripted reply left"}
            return self.queues[provider].popleft()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server naming)
                raw = self.rfile.read(int(self.headers.get("content-length", 0)))
                body = json.loads(raw or b"{}")
                provider = "anthropic" if self.path.endswith("/messages") else "openai"
                item = fake._next(provider, body, dict(self.headers), raw)
                time.sleep(item.get("delay", 0))
                if item.get("fault") == "reset":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if "status" in item:
                    payload = json.dumps({"type": "error", "error": {"type": "api_error",
                                                                      "message": item.get("error", "boom")}}).encode()
                    self.send_response(item["status"])
                    for k, v in item.get("headers", {}).items():
                        self.send_header(k, v)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                if provider == "anthropic":
                    self._anthropic(body, item)
                else:
                    self._openai(body, item)

            def _anthropic(self, body: dict[str, Any], item: dict[str, Any]) -> None:
                u = item["usage"]
                events: list[tuple[str, dict[str, Any]]] = [("message_start", {"type": "message_start", "message": {
                    "id": "msg_fake", "type": "message", "role": "assistant", "content": [], "model": body["model"],
                    "stop_reason": None, "stop_sequence": None,
                    "usage": {"input_tokens": u["input_tokens"], "output_tokens": 1,
                              "cache_read_input_tokens": u["cache_read_tokens"],
                              "cache_creation_input_tokens": u["cache_write_tokens"]}}})]
                index = 0
                if item["text"]:
                    events += [("content_block_start", {"type": "content_block_start", "index": index,
                                                        "content_block": {"type": "text", "text": ""}}),
                               ("content_block_delta", {"type": "content_block_delta", "index": index,
                                                        "delta": {"type": "text_delta", "text": item["text"]}}),
                               ("content_block_stop", {"type": "content_block_stop", "index": index})]
                    index += 1
                for n, call in enumerate(item["tool_calls"]):
                    partial = call.get("raw") or json.dumps(call["arguments"])
                    events += [("content_block_start", {"type": "content_block_start", "index": index,
                                                        "content_block": {"type": "tool_use", "id": f"toolu_{n}",
                                                                          "name": call["name"], "input": {}}}),
                               ("content_block_delta", {"type": "content_block_delta", "index": index,
                                                        "delta": {"type": "input_json_delta", "partial_json": partial}}),
                               ("content_block_stop", {"type": "content_block_stop", "index": index})]
                    index += 1
                stop = "tool_use" if item["tool_calls"] else "end_turn"
                events += [("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                                              "usage": {"output_tokens": u["output_tokens"]}}),
                           ("message_stop", {"type": "message_stop"})]
                if item.get("fault") == "truncate":
                    events = events[:2]
                data = "".join(f"event: {e}\ndata: {json.dumps(d)}\n\n" for e, d in events).encode()
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _openai(self, body: dict[str, Any], item: dict[str, Any]) -> None:
                u = item["usage"]
                calls = [{"id": f"call_{n}", "type": "function",
                          "function": {"name": c["name"], "arguments": c.get("raw") or json.dumps(c["arguments"])}}
                         for n, c in enumerate(item["tool_calls"])]
                prompt = u["input_tokens"] + u["cache_read_tokens"] + u["cache_write_tokens"]
                payload = {"id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": body["model"],
                           "choices": [{"index": 0, "finish_reason": "tool_calls" if calls else "stop",
                                        "message": {"role": "assistant", "content": item["text"] or None,
                                                    **({"tool_calls": calls} if calls else {})}}],
                           "usage": {"prompt_tokens": prompt, "completion_tokens": u["output_tokens"],
                                     "total_tokens": prompt + u["output_tokens"],
                                     "prompt_tokens_details": {"cached_tokens": u["cache_read_tokens"],
                                                               "cache_write_tokens": u["cache_write_tokens"]}}}
                data = json.dumps(payload).encode()
                if item.get("fault") == "truncate":
                    data = data[: len(data) // 2]
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
