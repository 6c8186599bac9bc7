"""The run's result and receipt: branch, evidence, models, cost. Also the exit code per status."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from harness import gitops
from harness.memory import Memory
from harness.records import RunResult, TokenTotals
from harness.review import summarize_tests
from harness.secrets import redact

if TYPE_CHECKING:
    from harness.pipeline import DoOptions
    from harness.progress import Progress
    from harness.task import TaskResult

EXIT_CODES = {"trusted": 0, "not_trusted": 1, "budget_exceeded": 3, "error": 4, "interrupted": 130}


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


def build_result(repo: Path, base: str, options: DoOptions, run_id: str,
                 attempts: list[tuple[str, str, TaskResult]], memory: Memory, secrets: list[str],
                 progress: Progress) -> RunResult:
    """Leave the final candidate on a branch (never touching the user's tree unless --apply) and
    assemble the result object."""
    cost, tokens = run_totals(memory, run_id)
    if not attempts:
        return RunResult(status="error", run_id=run_id, reason="no attempt was made", cost_usd=cost, tokens=tokens)
    implementer, reviewer, final = attempts[-1]
    branch = None
    if final.diff.strip():
        suffix = "" if final.trusted else "-untrusted"
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
    tests = {}
    if final.tests is not None:
        t = final.tests
        tests = {"base": {"passed": t.base.passed, "failed": t.base.failed + t.base.errors},
                 "head": {"passed": t.head.passed, "failed": t.head.failed + t.head.errors},
                 "new_failures": t.new_failures, "fixed": t.fixed, "still_failing": t.still_failing,
                 "summary": summarize_tests(t)}
    review = {}
    if last_review is not None:
        review = {"verdict": last_review.verdict, "summary": redact(last_review.summary, secrets),
                  "reviewer": last_review.reviewer, "rounds": len(final.reviews),
                  "findings": [f.model_dump() for f in last_review.findings]}
    return RunResult(
        status=final.status, run_id=run_id, branch=branch, implementer=implementer, reviewer=reviewer,
        tests=tests, review=review, guards=final.guards, cost_usd=cost, tokens=tokens,
        reason=redact(final.reason, secrets), rounds=final.rounds,
        attempts=[{"implementer": i, "reviewer": r, "status": a.status, "reason": redact(a.reason, secrets)}
                  for i, r, a in attempts],
    )
