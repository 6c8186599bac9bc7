"""The reviewer: a different model judges the diff through the forced `submit_review` tool."""

from __future__ import annotations

import re
from difflib import SequenceMatcher

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
                        "message": {"type": "string", "description": (
                            "What is wrong and what to do. A `patterns` finding must cite the repository "
                            "location it compares with as path:line.")},
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
                         ("still failing", tests.still_failing), ("new tests", tests.new_tests),
                         ("passed on base, missing on head", tests.missing)):
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
        parts.append("## Findings from earlier rounds\nThe implementer was asked to address these. Do not repeat "
                     "one that is now fixed; raise one again only if it is still not fixed.\n" + "\n".join(
                         f"- [{f.severity}] {f.category} {f.path}:{f.line}: {f.message}" for f in earlier))
    if context:
        parts.append(context)
    return "\n\n".join(parts)


# A repository location as `path/to/file.ext:LINE` (the citation a `patterns` finding must carry).
_CITATION = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w.-]*\.\w+):(\d+)")
_STILL_OPEN = " (still open from an earlier round)"


def cited_locations(text: str) -> list[tuple[str, int]]:
    """The `path:line` locations a message cites."""
    return [(m.group(1), int(m.group(2))) for m in _CITATION.finditer(text)]


def ground(finding: Finding) -> Finding:
    """A `patterns` finding citing no repo location (other than its own) is downgraded to a nit.

    Why: "does not match the repo's patterns" without the pattern it compares with cannot be
    checked, so it must not block a change; it stays visible, marked as ungrounded.
    """
    if finding.category != "patterns":
        return finding
    if [c for c in cited_locations(finding.message) if c != (finding.path, finding.line)]:
        return finding
    note = f" [ungrounded: cites no repo location to compare with; was {finding.severity}]"
    return finding.model_copy(update={"severity": "nit", "message": finding.message + note})


def parse_review(arguments: dict | None, reviewer: str, round_number: int, max_findings: int) -> Review:
    """Validate submit_review arguments into a Review: ungrounded `patterns` findings downgraded,
    duplicates dropped, ordered by severity, capped at `max_findings`."""
    if arguments is None:
        raise ValueError("submit_review arguments were not valid JSON")
    findings = sorted((ground(Finding(**f, source="reviewer")) for f in arguments.get("findings", [])),
                      key=lambda f: (SEVERITY_ORDER[f.severity], f.path, f.line))
    return Review(verdict=arguments["verdict"], summary=arguments.get("summary", ""),
                  findings=dedupe(findings)[:max_findings], reviewer=reviewer, round=round_number)


def dedupe(findings: list[Finding]) -> list[Finding]:
    """Drop findings repeating an earlier one at the same place with the same message."""
    seen: set[tuple[str, int, str]] = set()
    out = []
    for f in findings:
        key = (f.path, f.line, _norm(f.message))
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def _norm(message: str) -> str:
    return " ".join(message.replace(_STILL_OPEN, "").lower().split())


def same_issue(a: Finding, b: Finding) -> bool:
    """Whether two findings (possibly of different rounds) are the same point.

    Lines move when the implementer revises, so the line is not compared; the file, the category
    and a near-identical message are.
    """
    if a.path != b.path or a.category != b.category or ((a.rule or b.rule) and a.rule != b.rule):
        return False
    ma, mb = _norm(a.message), _norm(b.message)
    return ma == mb or SequenceMatcher(None, ma, mb).ratio() >= 0.8


def against_earlier(review: Review, earlier: list[Finding], revised: bool) -> Review:
    """A re-review's findings, deduplicated against earlier rounds.

    A finding repeating an earlier one is dropped when the reviewer now approves and the
    implementer did revise (the point was fixed; repeating it would flood the receipt and the
    next revision). Otherwise it is still open: kept, so it still counts, and marked as such.
    """
    kept = []
    for f in review.findings:
        if not any(same_issue(f, e) for e in earlier):
            kept.append(f)
        elif not (review.verdict == "approve" and revised):
            kept.append(f if f.message.endswith(_STILL_OPEN) else
                        f.model_copy(update={"message": f.message + _STILL_OPEN}))
    return review.model_copy(update={"findings": kept})


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
