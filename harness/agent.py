"""The implementer's tool loop: model on the host, tools in the sandbox.

The conversation is append-only: a revision appends the review's findings as a new user turn,
so the prefix sent on earlier steps is sent again byte for byte and stays cacheable. Old, large
tool outputs are stubbed by a block rule (harness.elision) that changes the prefix rarely.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from harness.budget import Meter
from harness.elision import ElisionRule, elide
from harness.models.base import ModelClient
from harness.prompts import IMPLEMENTER_SYSTEM
from harness.records import Message, ModelRequest, Record, ToolResult, ToolSpec
from harness.tools import TOOL_SPECS, ToolBox

# The same tool call this many times in a row is a loop, not progress.
_REPEAT_LIMIT = 3


class AgentOutcome(Record):
    """How an implementer session ended."""

    finished: bool
    stop_reason: str
    summary: str = ""
    steps: int = 0
    files_read: list[str] = []


class ImplementerSession:
    """One implementer conversation, kept across revision rounds of a task."""

    def __init__(self, model_name: str, client: ModelClient, meter: Meter, toolbox: ToolBox, context: str,
                 max_steps: int, max_bad_turns: int, max_tokens: int, task_id: str,
                 tools: list[ToolSpec] | None = None, on_step: Callable[[int, str], None] | None = None,
                 max_wall_s: float | None = None, elision: ElisionRule | None = ElisionRule()):
        self.model_name = model_name
        self.client = client
        self.meter = meter
        self.toolbox = toolbox
        self.system = IMPLEMENTER_SYSTEM + ("\n\n" + context if context else "")
        self.tools = tools if tools is not None else TOOL_SPECS
        self.max_steps = max_steps
        self.max_bad_turns = max_bad_turns
        self.max_tokens = max_tokens
        self.task_id = task_id
        self.on_step = on_step or (lambda _step, _what: None)
        self.elision = elision
        self.messages: list[Message] = []
        self.files_read: list[str] = []
        self.steps = 0
        # The wall-clock limit spans all rounds of the task, like the step budget of a person's time.
        self.deadline = time.monotonic() + max_wall_s if max_wall_s else None

    def run(self, instruction: str) -> AgentOutcome:
        """Append `instruction` as a user turn and loop until finish or a stop."""
        self.messages.append(Message(role="user", text=instruction))
        bad_turns = 0
        recent: list[str] = []
        start_step = self.steps
        while self.steps - start_step < self.max_steps:
            if self.deadline is not None and time.monotonic() > self.deadline:
                return self._outcome(False, "stopped at the wall-clock limit")
            self.steps += 1
            request = ModelRequest(system=self.system, messages=elide(self.messages, self.elision), tools=self.tools,
                                   max_tokens=self.max_tokens)
            reply = self.meter.call("implementer", self.model_name, self.client, request, self.task_id)
            self.messages.append(Message(role="assistant", text=reply.text, tool_calls=reply.tool_calls))
            if not reply.tool_calls:
                bad_turns += 1
                what = "an empty answer" if not reply.text.strip() else "text without a tool call"
                self.on_step(self.steps, what)
                if bad_turns >= self.max_bad_turns:
                    return self._outcome(False, f"stopped after {bad_turns} turns without a usable tool call")
                self.messages.append(Message(role="user", text=(
                    f"Your answer was {what}. Use the tools to work, and call finish(summary) when done.")))
                continue
            results: list[ToolResult] = []
            finished, summary, any_error = False, "", False
            for call in reply.tool_calls:
                self.on_step(self.steps, call.name)
                outcome = self.toolbox.execute(call)
                results.append(outcome.result)
                any_error = any_error or outcome.result.is_error
                if outcome.read_path and outcome.read_path not in self.files_read:
                    self.files_read.append(outcome.read_path)
                if outcome.finished:
                    finished, summary = True, outcome.summary
                recent.append(f"{call.name}:{json.dumps(call.arguments, sort_keys=True)}")
            self.messages.append(Message(role="tool", tool_results=results))
            if finished:
                return self._outcome(True, "finished", summary)
            bad_turns = bad_turns + 1 if any_error and all(r.is_error for r in results) else 0
            if bad_turns >= self.max_bad_turns:
                return self._outcome(False, f"stopped after {bad_turns} turns of failing tool calls")
            if len(recent) >= _REPEAT_LIMIT and len(set(recent[-_REPEAT_LIMIT:])) == 1:
                return self._outcome(False, f"stopped: the same tool call repeated {_REPEAT_LIMIT} times")
        return self._outcome(False, f"stopped at the step limit ({self.max_steps} steps)")

    def _outcome(self, finished: bool, reason: str, summary: str = "") -> AgentOutcome:
        return AgentOutcome(finished=finished, stop_reason=reason, summary=summary, steps=self.steps,
                            files_read=list(self.files_read))
