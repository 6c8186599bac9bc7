"""The run's result and receipt: branch, evidence, models, cost. Also the exit code per status."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness import gitops
from harness.memory import Memory
from harness.records import Finding, RunResult, TestComparison, TokenTotals
from harness.review import summarize_tests
from harness.secrets import redact

if TYPE_CHECKING:
    from harness.decide import Decision
    from harness.pipeline import DoOptions
    from harness.progress import Progress
    from harness.task import TaskResult

EXIT_CODES = {"trusted": 0, "not_trusted": 1, "needs_human": 1, "budget_exceeded": 3, "error": 4,
              "interrupted": 130}


def run_totals(memory: Memory, run_id: str) -> tuple[Decimal, TokenTotals]:
    """Dollars and tokens of every call of a run, summed exactly from memory."""
    cost, tokens = Decimal(0), TokenTotals()
    for c in memory.calls(run_id):
        cost += Decimal(c["cost_usd"])
        tokens = TokenTotals(input=tokens.input + c["input_tokens"], output=tokens.output + c["output_tokens"],
                             cache_read=tokens.cache_read + c["cache_read_tokens"],
                             cache_write=tokens.cache_write + c["cache_write_tokens"])
    return cost, tokens


def _commit_message(request: str, run_id: str, result: TaskResult, implementer: str, reviewer: str) -> str:
    trust = "trusted" if result.trusted else f"NOT TRUSTED: {result.reason}"
    return (f"{request.strip().splitlines()[0][:72]}\n\n{request.strip()}\n\n"
            f"harness run: {run_id} ({trust})\nimplementer: {implementer}\nreviewer: {reviewer}\n")


def tests_receipt(t: TestComparison | None) -> dict[str, Any]:
    """Base -> head test evidence of one candidate."""
    if t is None:
        return {}
    return {"base": {"passed": t.base.passed, "failed": t.base.failed + t.base.errors},
            "head": {"passed": t.head.passed, "failed": t.head.failed + t.head.errors},
            "new_failures": t.new_failures, "fixed": t.fixed, "still_failing": t.still_failing,
            "new_tests": t.new_tests, "ok": t.ok, "summary": summarize_tests(t)}


def _finding(f: Finding, secrets: list[str], **extra: Any) -> dict[str, Any]:
    return {**f.model_dump(), "message": redact(f.message, secrets), **extra}


def models_used(memory: Memory, task_id: str) -> dict[str, dict[str, Any]]:
    """Per model of one task: its role(s), number of calls and exact cost."""
    out: dict[str, dict[str, Any]] = {}
    for c in memory.db.execute("SELECT role, model, cost_usd FROM calls WHERE task_id = ? ORDER BY id", (task_id,)):
        m = out.setdefault(c["model"], {"roles": [], "calls": 0, "cost_usd": Decimal(0)})
        if c["role"] not in m["roles"]:
            m["roles"].append(c["role"])
        m["calls"] += 1
        m["cost_usd"] += Decimal(c["cost_usd"])
    return {k: {**v, "cost_usd": str(v["cost_usd"])} for k, v in out.items()}


def attempt_receipt(memory: Memory, number: int, task_id: str | None, implementer: str, reviewer: str,
                    result: TaskResult, secrets: list[str], tiers: dict[str, str]) -> dict[str, Any]:
    """The evidence behind one candidate's trusted / not trusted: checks, tests, guards per round,
    every review round with its findings, the models used and what the attempt cost."""
    models = models_used(memory, task_id) if task_id else {}
    rounds = result.guard_rounds or ([result.guards] if result.guards else [])
    decision = result.decision
    return {
        "attempt": number, "task_id": task_id, "implementer": implementer, "reviewer": reviewer,
        "tiers": {implementer: tiers.get(implementer), reviewer: tiers.get(reviewer)},
        "status": result.status, "trusted": result.trusted, "reason": redact(result.reason, secrets),
        "decision": ({"action": decision.action, "reason": redact(decision.reason, secrets),
                      "checks": decision.checks} if decision else None),
        "rounds": result.rounds, "tests": tests_receipt(result.tests),
        "guards": [_finding(f, secrets, round=n) for n, found in enumerate(rounds, start=1) for f in found],
        "reviews": [{"round": r.round, "reviewer": r.reviewer, "verdict": r.verdict,
                     "summary": redact(r.summary, secrets), "findings": [_finding(f, secrets) for f in r.findings]}
                    for r in result.reviews],
        "models": models,
        "cost_usd": str(sum((Decimal(m["cost_usd"]) for m in models.values()), Decimal(0))),
    }


def record_rounds(memory: Memory, task_id: str, result: TaskResult, secrets: list[str]) -> None:
    """Store the guard findings of every round (redacted), and the round of every finding of the task.

    Call after the task's reviews are recorded.
    """
    rounds = result.guard_rounds or ([result.guards] if result.guards else [])
    for number, found in enumerate(rounds, start=1):
        memory.record_findings(task_id, [f.model_copy(update={"message": redact(f.message, secrets)})
                                         for f in found])
        memory.db.execute("UPDATE findings SET round = ? WHERE task_id = ? AND review_id IS NULL AND round IS NULL",
                          (number, task_id))
    memory.db.execute("UPDATE findings SET round = (SELECT r.round FROM reviews r WHERE r.id = findings.review_id) "
                      "WHERE task_id = ? AND review_id IS NOT NULL AND round IS NULL", (task_id,))


def build_result(repo: Path, base: str, options: DoOptions, run_id: str,
                 attempts: list[tuple[str, str, TaskResult]], memory: Memory, secrets: list[str],
                 progress: Progress, decision: Decision | None = None, task_ids: list[str] | None = None,
                 tiers: dict[str, str] | None = None) -> RunResult:
    """Leave the final candidate on a branch (never touching the user's tree unless --apply) and
    assemble the result object, with a receipt per attempt and the run's final decision as reason."""
    cost, tokens = run_totals(memory, run_id)
    if not attempts:
        return RunResult(status="error", run_id=run_id, reason="no attempt was made", cost_usd=cost, tokens=tokens)
    implementer, reviewer, final = attempts[-1]
    branch = None
    if final.diff.strip():
        suffix = "" if final.trusted else "-untrusted"
        # Race-safe: two runs finishing at once never take the same branch name.
        branch = gitops.commit_to_new_branch(repo, base, final.diff.encode(),
                                             f"harness/{gitops.slugify(options.request)}{suffix}",
                                             _commit_message(options.request, run_id, final, implementer, reviewer))
        progress.stage("branch", f"{branch} ({'trusted' if final.trusted else 'not trusted'})")
        if options.apply and final.trusted:
            gitops.apply_to_worktree(repo, final.diff.encode())
            progress.stage("apply", "applied to your working tree")
        elif options.apply:
            progress.note("not applied: the change is not trusted")
    last_review = final.reviews[-1] if final.reviews else None
    review = {}
    if last_review is not None:
        review = {"verdict": last_review.verdict, "summary": redact(last_review.summary, secrets),
                  "reviewer": last_review.reviewer, "rounds": len(final.reviews),
                  "findings": [_finding(f, secrets) for f in last_review.findings]}
    ids = task_ids or []
    reason = decision.reason if decision is not None and not final.trusted else final.reason
    return RunResult(
        status=final.status, run_id=run_id, branch=branch, implementer=implementer, reviewer=reviewer,
        tests=tests_receipt(final.tests), review=review, guards=final.guards, cost_usd=cost, tokens=tokens,
        reason=redact(reason, secrets), rounds=final.rounds,
        attempts=[attempt_receipt(memory, n, ids[n - 1] if n <= len(ids) else None, i, r, a, secrets, tiers or {})
                  for n, (i, r, a) in enumerate(attempts, start=1)],
    )
