"""The decision policy in one place: accept, revise, escalate or reject, and why."""

from __future__ import annotations

from typing import Literal

from harness.config import ReviewConfig
from harness.records import Finding, Record, Review, TestComparison


class Decision(Record):
    """What to do with a candidate, whether it is trusted, and the reason in one line."""

    action: Literal["accept", "revise", "escalate", "reject"]
    trusted: bool
    reason: str


def review_ok(review: Review, tolerated: list[str]) -> bool:
    """The reviewer approves, or only tolerated (minor/nit) findings remain; a reject never passes."""
    if review.verdict == "reject":
        return False
    return all(f.severity in tolerated for f in review.findings)


def decide(tests: TestComparison, guard_findings: list[Finding], review: Review | None, finished: bool,
           round_number: int, config: ReviewConfig) -> Decision:
    """Trusted = tests hold, no blocking guard, the review passes, and the implementer finished."""
    blockers = [f for f in guard_findings if f.severity == "blocker"]
    problems = []
    if not finished:
        problems.append("the implementer did not finish")
    if not tests.ok:
        problems.append(f"tests fail on head ({', '.join(tests.new_failures[:3]) or 'run failed'})")
    if blockers:
        problems.append(f"blocked by guard {blockers[0].rule}: {blockers[0].message}")
    if review is None:
        problems.append("not reviewed")
    elif not review_ok(review, config.tolerated_severities):
        problems.append(f"review: {review.verdict} ({review.summary[:120]})")
    if not problems:
        return Decision(action="accept", trusted=True, reason="tests pass, guards clear, review approves")
    reason = "; ".join(problems)
    if review is not None and review.verdict == "reject":
        return Decision(action="escalate", trusted=False, reason=reason)
    if finished and round_number <= config.max_revisions:
        return Decision(action="revise", trusted=False, reason=reason)
    return Decision(action="escalate", trusted=False, reason=reason)


def revision_message(tests: TestComparison, findings: list[Finding]) -> str:
    """The user turn asking the implementer to address findings and failures."""
    lines = ["Your change was reviewed and checked. Address these points, then call finish again:"]
    for f in findings:
        where = f"{f.path}:{f.line}" if f.path else "(whole change)"
        lines.append(f"- [{f.severity}] {where}: {f.message}")
    if tests.new_failures:
        lines.append(f"- tests now failing: {', '.join(tests.new_failures[:10])}")
        lines.append(f"  output tail:\n{tests.head.output_tail[-1500:]}")
    return "\n".join(lines)
