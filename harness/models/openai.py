"""OpenAI Chat Completions client: works with any OpenAI-compatible server via base_url."""

from __future__ import annotations

import json
from typing import Any

import openai

from harness.models.base import IncompleteAnswer, SdkClient
from harness.records import Message, ModelReply, ModelRequest, ToolCall, Usage


def _message_params(message: Message) -> list[dict[str, Any]]:
    if message.role == "tool":
        out: list[dict[str, Any]] = [
            {"role": "tool", "tool_call_id": r.call_id, "content": r.content} for r in message.tool_results
        ]
        if message.text:
            out.append({"role": "user", "content": message.text})
        return out
    param: dict[str, Any] = {"role": message.role, "content": message.text or None}
    if message.tool_calls:
        param["tool_calls"] = [
            {"id": c.id, "type": "function",
             "function": {"name": c.name, "arguments": c.raw_arguments or json.dumps(c.arguments or {})}}
            for c in message.tool_calls
        ]
    return [param]


def build_params(model: str, request: ModelRequest) -> dict[str, Any]:
    """Chat Completions parameters. The system prompt and tools come first and never change,
    so the serialised prefix stays byte-identical between steps and provider caching applies."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": request.system}]
    for m in request.messages:
        messages.extend(_message_params(m))
    params: dict[str, Any] = {"model": model, "messages": messages, "max_completion_tokens": request.max_tokens}
    if request.tools:
        params["tools"] = [
            {"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}
            for t in request.tools
        ]
    if request.force_tool:
        params["tool_choice"] = {"type": "function", "function": {"name": request.force_tool}}
    return params


def _parse_arguments(raw: str) -> dict[str, Any] | None:
    try:
        value = json.loads(raw or "{}")
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


class OpenAIClient(SdkClient):
    """A ModelClient on the official `openai` SDK (Chat Completions, any compatible server)."""

    provider = "openai"
    sdk = openai

    def __init__(self, model: str, api_key: str, base_url: str | None, max_retries: int, timeout_s: float,
                 http_client: Any = None):
        super().__init__(model, openai.OpenAI(api_key=api_key, base_url=base_url, max_retries=max_retries,
                                              timeout=timeout_s, http_client=http_client), max_retries)

    def _complete_once(self, request: ModelRequest) -> ModelReply:
        response = self._client.chat.completions.create(**build_params(self.model, request))
        if not response.choices:
            raise IncompleteAnswer("answer without choices")
        choice = response.choices[0]
        calls = [
            ToolCall(id=c.id, name=c.function.name, arguments=_parse_arguments(c.function.arguments),
                     raw_arguments=c.function.arguments or "")
            for c in (choice.message.tool_calls or []) if c.type == "function"
        ]
        usage = Usage()
        if response.usage is not None:
            details = response.usage.prompt_tokens_details
            cached = (details.cached_tokens or 0) if details else 0
            written = (details.cache_write_tokens or 0) if details else 0
            usage = Usage(input_tokens=response.usage.prompt_tokens - cached - written,
                          output_tokens=response.usage.completion_tokens,
                          cache_read_tokens=cached, cache_write_tokens=written)
        return ModelReply(text=choice.message.content or "", tool_calls=calls, usage=usage,
                          stop_reason=choice.finish_reason or "")

