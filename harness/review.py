"""The reviewer: a different model judges the diff through the forced `submit_review` tool."""

from __future__ import annotations

from pydantic import ValidationError

from harness.budget import Meter
from harness.errors import ModelProtocolError
from harness.models.base import ModelClient
from harness.prompts import REVIEWER_SYSTEM, SUBMIT_REVIEW_TOOL_DESCRIPTION
from harness.records import (
    SEVERITY_ORDER, Finding, Message, ModelRequest, Review, TestComparison, ToolResult, ToolSpec,
)

SUBMIT_REVIEW = ToolSpec(
    name="submit_review",
    description=SUBMIT_REVIEW_TOOL_DESCRIPTION,
    parameters={
        "type": "object",
        "properties": {
            "verdict": {"type": "string", "enum": ["approve", "request_changes", "reject"]},
            "summary": {"type": "string"},
            "findings": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "path": {"type": "string"},
                        "line": {"type": "integer"},
                        "severity": {"type": "string", "enum": ["blocker", "major", "minor", "nit"]},
                        "category": {"type": "string", "enum": ["correctness", "tests", "patterns",
                                                                "overbuilding", "security", "other"]},
                        "message": {"type": "string"},
                    },
                    "required": ["path", "line", "severity", "category", "message"],
                },
            },
        },
        "required": ["verdict", "summary", "findings"],
    },
)


def summarize_tests(tests: TestComparison) -> str:
    """A short text of base-vs-head results for prompts and receipts."""
    b, h = tests.base, tests.head
    lines = [f"base: {b.passed} passed, {b.failed} failed, {b.errors} errors (exit {b.exit_code})",
             f"head: {h.passed} passed, {h.failed} failed, {h.errors} errors (exit {h.exit_code})"]
    for label, names in (("new failures", tests.new_failures), ("fixed", tests.fixed),
                         ("still failing", tests.still_failing), ("new tests", tests.new_tests)):
        if names:
            lines.append(f"{label}: {', '.join(names[:20])}")
    return "\n".join(lines)


def review_prompt(request: str, diff: str, tests: TestComparison, guard_findings: list[Finding],
                  earlier: list[Finding], context: str) -> str:
    """The reviewer's user message: request, diff, tests, guards, earlier findings, repo patterns."""
    parts = [f"## Request\n{request}", f"## Diff\n```diff\n{diff}\n```", f"## Tests (base vs head)\n{summarize_tests(tests)}"]
    if guard_findings:
        parts.append("## Deterministic guard findings\n" + "\n".join(
            f"- [{f.severity}] {f.rule} {f.path}:{f.line}: {f.message}" for f in guard_findings))
    if earlier:
        parts.append("## Findings from earlier rounds (do not repeat ones that are fixed)\n" + "\n".join(
            f"- [{f.severity}] {f.path}:{f.line}: {f.message}" for f in earlier))
    if context:
        parts.append(context)
    return "\n\n".join(parts)


def parse_review(arguments: dict | None, reviewer: str, round_number: int, max_findings: int) -> Review:
    """Validate submit_review arguments into a Review; findings ordered by severity and capped."""
    if arguments is None:
        raise ValueError("submit_review arguments were not valid JSON")
    findings = sorted((Finding(**f, source="reviewer") for f in arguments.get("findings", [])),
                      key=lambda f: (SEVERITY_ORDER[f.severity], f.path, f.line))
    return Review(verdict=arguments["verdict"], summary=arguments.get("summary", ""),
                  findings=dedupe(findings)[:max_findings], reviewer=reviewer, round=round_number)


def dedupe(findings: list[Finding]) -> list[Finding]:
    """Drop findings repeating an earlier one at the same place with the same message."""
    seen: set[tuple[str, int, str]] = set()
    out = []
    for f in findings:
        key = (f.path, f.line, f.message.strip().lower())
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def review_diff(meter: Meter, reviewer: str, client: ModelClient, prompt: str, round_number: int,
                max_findings: int, task_id: str, max_tokens: int = 4096) -> Review:
    """Ask the reviewer for a verdict; one retry with the validation error if its answer is unusable."""
    messages = [Message(role="user", text=prompt)]
    problem = ""
    for _attempt in range(2):
        request = ModelRequest(system=REVIEWER_SYSTEM, messages=messages, tools=[SUBMIT_REVIEW],
                               force_tool="submit_review", max_tokens=max_tokens)
        reply = meter.call("reviewer", reviewer, client, request, task_id)
        call = next((c for c in reply.tool_calls if c.name == "submit_review"), None)
        if call is None:
            problem = "the answer did not call submit_review"
        else:
            try:
                return parse_review(call.arguments, reviewer, round_number, max_findings)
            except (ValidationError, ValueError, KeyError, TypeError) as exc:
                problem = f"submit_review arguments were invalid: {str(exc).splitlines()[0]}"
        messages = [*messages, Message(role="assistant", text=reply.text, tool_calls=reply.tool_calls)]
        if call is not None:
            messages.append(Message(role="tool", tool_results=[ToolResult(call_id=call.id, content=problem,
                                                                          is_error=True)]))
        else:
            messages.append(Message(role="user", text=f"{problem}. Call submit_review."))
    raise ModelProtocolError(f"reviewer {reviewer} gave no usable verdict: {problem}")
