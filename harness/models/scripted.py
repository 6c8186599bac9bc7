"""A scripted model that replays a fixed transcript: used by the demo, never by real runs.

The transcript is a JSON list of replies; call N gets reply N. Usage is taken from
the reply if given, else estimated from the request size so the demo's cost is plausible.
"""

from __future__ import annotations

import json
from pathlib import Path

from harness.errors import ConfigError, ModelProtocolError
from harness.records import ModelReply, ModelRequest, ToolCall, Usage


class ScriptedClient:
    """Plays back `script` one reply per call. Clearly not a model."""

    provider = "scripted"

    def __init__(self, model: str, script: Path):
        self.model = model
        try:
            self._replies = json.loads(script.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"cannot read scripted transcript {script}: {exc}") from None
        self._next = 0

    def complete(self, request: ModelRequest) -> ModelReply:
        """The next scripted reply."""
        if self._next >= len(self._replies):
            raise ModelProtocolError(f"scripted model {self.model} ran out of replies")
        raw = self._replies[self._next]
        self._next += 1
        calls = [
            ToolCall(id=f"call_{self._next}_{i}", name=c["name"], arguments=c["arguments"],
                     raw_arguments=json.dumps(c["arguments"]))
            for i, c in enumerate(raw.get("tool_calls", []))
        ]
        prompt_chars = len(request.model_dump_json())
        usage = Usage(**raw["usage"]) if "usage" in raw else Usage(
            input_tokens=prompt_chars // 4, output_tokens=len(json.dumps(raw)) // 4)
        return ModelReply(text=raw.get("text", ""), tool_calls=calls, usage=usage,
                          stop_reason="tool_use" if calls else "end_turn")

    def close(self) -> None:
        """Nothing to release."""
