"""Eliding old, large tool outputs without breaking the cacheable prompt prefix.

Providers cache a request's longest prefix already seen. Eliding "everything older than K
turns" on every step would change an old message on every step and miss the cache from that
point on, each time. So the rule moves in blocks: tool turns are numbered 0, 1, 2, ...; with
n turns so far, turns before `cutoff(n) = floor((n - keep_recent) / block) * block` have their
results longer than `min_chars` replaced by a short stub. The cutoff only moves when
n - keep_recent crosses a multiple of `block`, so the request prefix changes at most once every
`block` tool turns (and then only from the first newly elided result on); between those
steps the conversation is append-only. A result, once elided, stays elided.

Trade-off: a larger `block` means fewer cache breaks but keeps stale large outputs longer
(up to keep_recent + block - 1 turns). benchmarks/cache.py measures both.
"""

from __future__ import annotations

from harness.records import Message, Record, ToolResult


class ElisionRule(Record):
    """Which tool outputs are replaced by a stub. All sizes in characters."""

    keep_recent: int = 8
    min_chars: int = 2000
    block: int = 8

    def cutoff(self, tool_turns: int) -> int:
        """Tool turns with an ordinal below this are eligible for elision."""
        if tool_turns <= self.keep_recent:
            return 0
        return (tool_turns - self.keep_recent) // self.block * self.block


def stub(content: str) -> str:
    """The deterministic replacement for an elided output (depends only on its length)."""
    return (f"[elided: an earlier tool output of {len(content)} characters, to keep the context small; "
            "run the tool again if you need it]")


def elide(messages: list[Message], rule: ElisionRule | None) -> list[Message]:
    """The messages to send: old, large tool results stubbed by `rule` (None keeps all)."""
    if rule is None:
        return list(messages)
    tool_turns = sum(1 for m in messages if m.role == "tool")
    cutoff = rule.cutoff(tool_turns)
    out: list[Message] = []
    ordinal = 0
    for message in messages:
        if message.role == "tool":
            if ordinal < cutoff and any(len(r.content) > rule.min_chars for r in message.tool_results):
                results = [_elided(r, rule) for r in message.tool_results]
                message = message.model_copy(update={"tool_results": results})
            ordinal += 1
        out.append(message)
    return out


def _elided(result: ToolResult, rule: ElisionRule) -> ToolResult:
    if len(result.content) <= rule.min_chars:
        return result
    return result.model_copy(update={"content": stub(result.content)})
