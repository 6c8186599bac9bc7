"""Eliding old, large tool outputs without breaking the cacheable prompt prefix on every step.

Providers cache a request's longest prefix already seen, so changing an old message costs
a cache miss (and, on Anthropic, a cache write) for everything after it. Eliding "all outputs
older than K turns" on every step would do that on every step. Instead the rule has
hysteresis: tool turns are numbered 0, 1, 2, ...; the large outputs (over `min_chars`) still
shown in full are summed turn by turn, and only when they exceed `max_chars` does the cutoff
jump to "all but the `keep_recent` latest turns". Results before the cutoff that are longer than
`min_chars` become a short stub. Between jumps the conversation is append-only, so the
prefix is byte-identical; a jump happens about once per `max_chars` of new large output,
and a result once elided stays elided. The view is a pure function of the messages.

Trade-off (measured by benchmarks/cache.py): a jump re-sends everything after the first
newly elided result uncached (on Anthropic, re-written at the cache-write rate), so eliding
pays only over the following steps. A naive sliding window (no threshold) sends fewer tokens
and, at these prices, costs less over long sessions, but changes the prefix whenever a large
output leaves the window; this rule keeps at least 90% of input tokens an unchanged prefix.
"""

from __future__ import annotations

from harness.records import Message, Record, ToolResult


class ElisionRule(Record):
    """Which tool outputs are replaced by a stub, and when. Sizes are in characters."""

    keep_recent: int = 4
    min_chars: int = 2000
    # 4 x the default 12,000-character output cap: after a jump at most this much is shown,
    # so another jump needs new large output first (no jump on every step).
    max_chars: int = 48_000


def stub(content: str) -> str:
    """The deterministic replacement for an elided output (depends only on its length)."""
    return (f"[elided: an earlier tool output of {len(content)} characters, to keep the context small; "
            "run the tool again if you need it]")


def _shown(result: ToolResult, rule: ElisionRule) -> str:
    return stub(result.content) if len(result.content) > rule.min_chars else result.content


def cutoff(messages: list[Message], rule: ElisionRule) -> int:
    """How many of the first tool turns are elided, replaying the rule turn by turn."""
    # Only outputs the rule could elide count: stubs and small outputs cannot shrink further.
    large = [sum(len(r.content) for r in m.tool_results if len(r.content) > rule.min_chars)
             for m in messages if m.role == "tool"]
    point, shown = 0, 0
    for n, size in enumerate(large):
        shown += size
        target = n + 1 - rule.keep_recent
        if shown > rule.max_chars and target > point:
            shown -= sum(large[point:target])
            point = target
    return point


def elide(messages: list[Message], rule: ElisionRule | None) -> list[Message]:
    """The messages to send: old, large tool results stubbed by `rule` (None keeps all)."""
    if rule is None:
        return list(messages)
    point = cutoff(messages, rule)
    out: list[Message] = []
    ordinal = 0
    for message in messages:
        if message.role == "tool":
            if ordinal < point and any(len(r.content) > rule.min_chars for r in message.tool_results):
                results = [r.model_copy(update={"content": _shown(r, rule)}) for r in message.tool_results]
                message = message.model_copy(update={"tool_results": results})
            ordinal += 1
        out.append(message)
    return out
