"""The decision policy in one place: approve, revise, escalate or reject, and why.

Per round (`decide`): approve when every trust check holds; revise while rounds are left and
the implementer can act on the findings; otherwise the attempt is over ("escalate": this
implementer will not get there). Per run (`after_attempt`): an attempt that is not trusted is
escalated to the next STRONGER-tier implementer of the router's cascade while the run's spend
is under `[review] escalation_cap_usd`; otherwise the run ends as rejected, with the reason.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field

from harness.config import ReviewConfig
from harness.records import Finding, Record, Review, TestComparison

TIER_RANK = {"cheap": 0, "mid": 1, "frontier": 2}


class Decision(Record):
    """What to do next, whether the candidate is trusted, and the reason in one line.

    `checks` is the evidence behind "trusted" (each must hold); `model` names the implementer
    an escalation goes to.
    """

    action: Literal["approve", "revise", "escalate", "reject"]
    trusted: bool
    reason: str
    checks: dict[str, bool] = Field(default_factory=dict)
    model: str | None = None


def review_ok(review: Review, tolerated: list[str]) -> bool:
    """The reviewer approves, or only tolerated (minor/nit) findings remain; a reject never passes."""
    if review.verdict == "reject":
        return False
    return all(f.severity in tolerated for f in review.findings)


def decide(tests: TestComparison, guard_findings: list[Finding], review: Review | None, finished: bool,
           round_number: int, config: ReviewConfig) -> Decision:
    """Trusted = the implementer finished, tests hold, no blocking guard, and the review passes."""
    blockers = [f for f in guard_findings if f.severity == "blocker"]
    checks = {"finished": finished, "tests_hold": tests.ok, "no_blocking_guard": not blockers,
              "review_passes": review is not None and review_ok(review, config.tolerated_severities)}
    problems = []
    if not finished:
        problems.append("the implementer did not finish")
    if not tests.ok:
        missing = [f"{t} (gone)" for t in getattr(tests, "missing", [])]
        problems.append(f"tests fail on head ({', '.join([*tests.new_failures, *missing][:3]) or 'run failed'})")
    if blockers:
        problems.append(f"blocked by guard {blockers[0].rule}: {blockers[0].message}")
    if review is None:
        problems.append("not reviewed")
    elif not checks["review_passes"]:
        problems.append(f"review: {review.verdict} ({review.summary[:120]})")
    if not problems:
        return Decision(action="approve", trusted=True, reason="tests pass, guards clear, review approves",
                        checks=checks)
    reason = "; ".join(problems)
    # A reject means a wrong approach: another round of the same implementer will not fix it.
    rejected = review is not None and review.verdict == "reject"
    if finished and not rejected and round_number <= config.max_revisions:
        return Decision(action="revise", trusted=False, reason=reason, checks=checks)
    if not rejected and finished:
        reason += f" (after {round_number} round{'s' if round_number > 1 else ''})"
    return Decision(action="escalate", trusted=False, reason=reason, checks=checks)


def after_attempt(status: str, trusted: bool, reason: str, tried: list[str], cascade: list[str],
                  tiers: dict[str, str], spent: Decimal, config: ReviewConfig, enabled: bool) -> Decision:
    """The run-level step after an attempt: approve, escalate to a stronger tier, or reject.

    `tried` are the implementers used so far (in order), `cascade` the router's order,
    `tiers` each model's tier and `spent` the run's dollars so far (every call, all attempts).
    """
    if trusted:
        return Decision(action="approve", trusted=True, reason=reason)
    if status in ("budget_exceeded", "error"):
        return Decision(action="reject", trusted=False, reason=reason)
    if not enabled:
        return Decision(action="reject", trusted=False, reason=f"{reason}; escalation is off")
    strongest = max(TIER_RANK.get(tiers.get(m, "mid"), 1) for m in tried)
    # Only a stronger tier is worth paying again for: a same- or lower-tier model is expected to fail too.
    stronger = [m for m in cascade if m not in tried and TIER_RANK.get(tiers.get(m, "mid"), 1) > strongest]
    if not stronger:
        return Decision(action="reject", trusted=False,
                        reason=f"{reason}; no stronger-tier implementer left to escalate to")
    if spent >= config.escalation_cap_usd:
        return Decision(action="reject", trusted=False,
                        reason=f"{reason}; escalation cap ${config.escalation_cap_usd} reached (${spent:.4f} spent)")
    target = stronger[0]
    return Decision(action="escalate", trusted=False, model=target,
                    reason=f"{reason}; escalating to {target} ({tiers.get(target, 'mid')} tier)")


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
