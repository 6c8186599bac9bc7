"""Anthropic Messages API client: streaming, tool use, prompt-cache markers."""

from __future__ import annotations

from typing import Any

import anthropic

from harness.models.base import IncompleteAnswer, SdkClient
from harness.records import Message, ModelReply, ModelRequest, ToolCall, Usage

_CACHE = {"type": "ephemeral"}


def _message_param(message: Message) -> dict[str, Any]:
    if message.role == "tool":
        blocks: list[dict[str, Any]] = [
            {"type": "tool_result", "tool_use_id": r.call_id, "content": r.content, "is_error": r.is_error}
            for r in message.tool_results
        ]
        if message.text:
            blocks.append({"type": "text", "text": message.text})
        return {"role": "user", "content": blocks}
    blocks = [{"type": "text", "text": message.text}] if message.text else []
    for call in message.tool_calls:
        blocks.append({"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments or {}})
    return {"role": message.role, "content": blocks}


def build_params(model: str, request: ModelRequest) -> dict[str, Any]:
    """The Messages API parameters: cache markers on the stable prefix and on the latest turn."""
    messages = [_message_param(m) for m in request.messages]
    if messages and messages[-1]["content"]:
        messages[-1]["content"][-1] = {**messages[-1]["content"][-1], "cache_control": _CACHE}
    params: dict[str, Any] = {
        "model": model,
        "max_tokens": request.max_tokens,
        "system": [{"type": "text", "text": request.system, "cache_control": _CACHE}],
        "messages": messages,
    }
    if request.tools:
        tools = [{"name": t.name, "description": t.description, "input_schema": t.parameters} for t in request.tools]
        tools[-1] = {**tools[-1], "cache_control": _CACHE}
        params["tools"] = tools
    if request.force_tool:
        params["tool_choice"] = {"type": "tool", "name": request.force_tool}
    return params


class AnthropicClient(SdkClient):
    """A ModelClient on the official `anthropic` SDK (streamed Messages)."""

    provider = "anthropic"
    sdk = anthropic

    def __init__(self, model: str, api_key: str, base_url: str | None, max_retries: int, timeout_s: float,
                 http_client: Any = None):
        super().__init__(model, anthropic.Anthropic(api_key=api_key, base_url=base_url, max_retries=max_retries,
                                                    timeout=timeout_s, http_client=http_client), max_retries)

    def _complete_once(self, request: ModelRequest) -> ModelReply:
        with self._client.messages.stream(**build_params(self.model, request)) as stream:
            final = stream.get_final_message()
        text = "".join(b.text for b in final.content if b.type == "text")
        calls = [
            ToolCall(id=b.id, name=b.name, arguments=b.input if isinstance(b.input, dict) else None,
                     raw_arguments=str(b.input))
            for b in final.content if b.type == "tool_use"
        ]
        u = final.usage
        usage = Usage(input_tokens=u.input_tokens, output_tokens=u.output_tokens,
                      cache_read_tokens=u.cache_read_input_tokens or 0,
                      cache_write_tokens=u.cache_creation_input_tokens or 0)
        if not final.stop_reason:
            # The SDK hands back whatever arrived when a stream ends early; without a stop reason
            # the tool calls may be missing or half-written.
            raise IncompleteAnswer("the stream ended before the message was complete", usage)
        return ModelReply(text=text, tool_calls=calls, usage=usage, stop_reason=final.stop_reason or "")

