"""Failure attribution: which stage caused a not-trusted, failed or escalated outcome.

Deterministic rules over recorded evidence (first match wins, see docs/roles.md), each answer
carrying links to the rows that justify it: `task:ID`, `tests:TASK`, `finding:ID`, `review:ID`,
`audit:ID`, `plan:RUN`, `risk:RUN`, `calls:TASK`.
"""

from __future__ import annotations

from typing import Any, Literal

from harness.memory import Memory
from harness.planner import Plan
from harness.records import Record
from harness.roles_store import audits, record_attribution
from harness.task import TaskResult

Stage = Literal["classification", "context", "planning", "execution", "testing", "review", "escalation"]
STAGES: tuple[str, ...] = ("classification", "context", "planning", "execution", "testing", "review", "escalation")
# Guard rules and the stage whose mistake they reveal.
_GUARD_STAGE = {"scope.out_of_scope": "context", "evidence": "testing", "tampering": "testing",
                "scope.protected_path": "execution", "scope.outside_repo": "execution", "secrets": "execution"}


class Attribution(Record):
    """The stage an outcome is attributed to, why, and the evidence."""

    stage: Stage
    reason: str
    evidence: list[str]
    task_id: str | None = None
    attempt: int | None = None


class RunFacts(Record):
    """What attribution needs to know about the run besides each attempt's result."""

    run_id: str
    difficulty: str = ""
    plan: Plan | None = None
    planning_skipped: bool = False


def _guard_stage(rule: str) -> str:
    return next((stage for prefix, stage in _GUARD_STAGE.items() if rule.startswith(prefix)), "execution")


def _finding_ids(memory: Memory, task_id: str, source: str, rule: str | None = None) -> list[str]:
    rows = memory.findings(task_id)
    return [f"finding:{r['id']}" for r in rows if r["source"] == source and (rule is None or r["rule"] == rule)]


def attribute_attempt(memory: Memory, task_id: str, attempt: int, result: TaskResult, facts: RunFacts,
                      later_trusted: bool) -> Attribution | None:
    """The stage behind one attempt that was not trusted (None for a trusted one, or one that passed
    every check and was stopped by the risk gate: attribute_run attributes that stop)."""
    if result.trusted or result.status == "needs_human":
        return None
    task = [f"task:{task_id}"]

    def out(stage: str, reason: str, evidence: list[str]) -> Attribution:
        return Attribution(stage=stage, reason=reason, evidence=[*task, *evidence], task_id=task_id, attempt=attempt)

    reason = result.reason
    if result.status == "budget_exceeded":
        return out("escalation" if attempt > 1 else "execution", reason, [f"calls:{task_id}"])
    if "reviewer" in reason and "no usable verdict" in reason or "auditor" in reason and "no usable audit" in reason:
        return out("review", reason, [f"calls:{task_id}"])
    if result.status == "error":
        return out("execution", f"infrastructure: {reason}", [f"calls:{task_id}"])
    if not result.diff.strip():
        if not result.files_read:
            return out("context", f"never found the code to change: {reason}", [f"calls:{task_id}"])
        return out("execution", reason, [f"calls:{task_id}"])
    checks = result.decision.checks if result.decision else {}
    if checks and not checks.get("finished", True):
        return out("execution", reason, [f"calls:{task_id}"])
    rows = audits(memory, task_id)
    if rows and not rows[-1]["sound"]:
        return out("review", "the auditor found the review unsound and the reviewer did not resolve it",
                   [f"audit:{r['id']}" for r in rows])
    if result.tests is not None and not result.tests.ok:
        failing = [*result.tests.new_failures, *result.tests.missing][:3]
        return out("testing", f"tests fail on head: {', '.join(failing) or 'the run failed'}", [f"tests:{task_id}"])
    blockers = [g for g in result.guards if g.severity == "blocker"] or [
        g for g in result.guards if g.severity == "major" and g.rule.startswith("scope.out_of_scope")]
    if blockers:
        g = blockers[0]
        stage = _guard_stage(g.rule)
        if stage == "context" and facts.plan is not None and g.path in facts.plan.files:
            stage = "planning"  # the plan sent the implementer there
        return out(stage, f"guard {g.rule}: {g.message}", _finding_ids(memory, task_id, "guard", g.rule))
    review = result.reviews[-1] if result.reviews else None
    evidence = [f"review:{r['id']}" for r in memory.reviews(task_id)] + _finding_ids(memory, task_id, "reviewer")
    if review is not None and review.verdict == "reject":
        planned = set() if facts.plan is None else {*facts.plan.files, *(t.split("::")[0] for t in facts.plan.tests)}
        if facts.plan is not None and _diff_paths(result.diff) <= planned:
            return out("planning", "the reviewer rejected the approach the implementer followed from the plan",
                       [*evidence, f"plan:{facts.run_id}"])
    if facts.planning_skipped and facts.difficulty == "<15 min fix" and later_trusted:
        return out("classification", "classified trivial (planning skipped, cheap route) but needed a stronger "
                   "attempt", [*evidence, f"plan:{facts.run_id}"])
    return out("execution", reason, evidence)


def _diff_paths(diff: str) -> set[str]:
    return {line.split(" b/", 1)[-1].strip() for line in diff.splitlines() if line.startswith("diff --git ")}


def attribute_run(memory: Memory, facts: RunFacts, attempts: list[tuple[str, TaskResult]],
                  needs_human: str | None = None) -> list[Attribution]:
    """Attribute every attempt that was not trusted, and a run stopped for a person; record them all."""
    out: list[Attribution] = []
    for n, (task_id, result) in enumerate(attempts, start=1):
        later = any(r.trusted for _, r in attempts[n:])
        found = attribute_attempt(memory, task_id, n, result, facts, later)
        if found is not None:
            out.append(found)
    if needs_human is not None:
        task_id = attempts[-1][0] if attempts else None
        out.append(Attribution(stage="escalation", reason=needs_human, task_id=task_id, attempt=len(attempts),
                               evidence=[f"risk:{facts.run_id}", *([f"task:{task_id}"] if task_id else [])]))
    for a in out:
        record_attribution(memory, facts.run_id, a.task_id, a.stage, a.reason, a.evidence)
    return out


def failures(memory: Memory, since: str | None = None) -> dict[str, Any]:
    """Attributions per stage (count and the most recent reasons with evidence), for `--failures`."""
    rows = memory.db.execute(
        "SELECT a.*, t.implementer, t.reviewer FROM attributions a LEFT JOIN tasks t ON t.id = a.task_id "
        "WHERE (? IS NULL OR a.created_at >= ?) ORDER BY a.id DESC", (since, since)).fetchall()
    stages: dict[str, dict[str, Any]] = {s: {"count": 0, "recent": []} for s in STAGES}
    for r in rows:
        entry = stages[r["stage"]]
        entry["count"] += 1
        if len(entry["recent"]) < 5:
            entry["recent"].append({"run_id": r["run_id"], "task_id": r["task_id"], "reason": r["reason"],
                                    "implementer": r["implementer"], "evidence": r["evidence_json"]})
    return {"total": len(rows), "stages": stages}
