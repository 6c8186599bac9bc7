"""Larger requests: the planner's ordered steps, each implemented and tested in turn on one branch.

Each step is a full run of the pipeline (routing, sandbox, tests, review, risk gate) whose base
is the commit the previous step left, so the branch of the last step holds one tested commit per
step. The guards keep judging against the user's own request (the step text is the planner's and
must not widen what the request permits); the step tells the implementer what to do through the
plan in its context. A step that is not trusted stops the chain with the work so far kept; when
every step is trusted, the whole change is reviewed once more at the end.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from harness import gitops
from harness.budget import Meter
from harness.decide import review_ok
from harness.errors import HarnessError
from harness.memory import Memory
from harness.models.base import ModelClient
from harness.planner import Plan
from harness.receipt import run_totals
from harness.records import Record, RunResult, TokenTotals
from harness.review import review_diff

if TYPE_CHECKING:
    from harness.config import HarnessConfig
    from harness.pipeline import DoOptions
    from harness.progress import Progress


class StepInfo(Record):
    """Which step of which plan a child run implements."""

    number: int
    plan: Plan
    parent_run: str


def _step_line(number: int, result: RunResult) -> dict[str, Any]:
    return {"step": number, "run_id": result.run_id, "status": result.status, "branch": result.branch,
            "implementer": result.implementer, "reviewer": result.reviewer, "reason": result.reason,
            "tests": result.tests, "cost_usd": str(result.cost_usd)}


def final_review(meter: Meter, reviewer: str, client: ModelClient, options: DoOptions, plan: Plan, diff: str,
                 lines: list[dict[str, Any]], config: HarnessConfig) -> dict[str, Any]:
    """One review of the whole change, with every step's tests, after all steps were trusted."""
    tests = "\n".join(f"step {s['step']}: " + (s["tests"].get("summary", "") if s["tests"] else "no tests")
                      for s in lines)
    prompt = (f"## Request\n{options.request}\n\n{plan.render()}\n\nThe change was made in {len(lines)} steps, each "
              f"tested and reviewed; judge the whole against the request, the plan and its fence.\n\n"
              f"## Diff (all steps)\n```diff\n{diff}\n```\n\n## Tests per step (base vs head)\n{tests}")
    review = review_diff(meter, reviewer, client, prompt, 1, config.review.max_findings, None,
                         config.models[reviewer].max_output_tokens)
    return review.model_dump(mode="json") | {"ok": review_ok(review, list(config.review.tolerated_severities))}


def run_steps(options: DoOptions, config: HarnessConfig, plan: Plan, run_id: str, base: str, memory: Memory,
              meter: Meter, client: Callable[[str], ModelClient], progress: Progress,
              do_step: Callable[[DoOptions], RunResult]) -> RunResult:
    """Run each step as a child run on top of the previous one; return the parent run's result."""
    lines: list[dict[str, Any]] = []
    results: list[RunResult] = []
    step_base = base
    for number, step in enumerate(plan.steps, start=1):
        progress.stage("step", f"{number}/{len(plan.steps)}: {step.title}")
        spent = memory.run_spend(run_id) + sum((r.cost_usd for r in results), Decimal(0))
        cap = (options.max_cost if options.max_cost is not None else config.budgets.run_usd) - spent
        child = options.model_copy(update={"base_commit": step_base, "kind": "step", "max_cost": max(cap, Decimal(0)),
                                           "apply": False, "step": StepInfo(number=number, plan=plan,
                                                                            parent_run=run_id)})
        result = do_step(child)
        results.append(result)
        lines.append(_step_line(number, result))
        if result.status != "trusted" or not result.branch:
            break
        step_base = gitops.git(options.repo, "rev-parse", f"refs/heads/{result.branch}").decode().strip()
    last = results[-1]
    status, reason, review = last.status, last.reason, {}
    if last.status == "trusted" and len(results) == len(plan.steps):
        diff = gitops.git(options.repo, "diff", "--binary", base, step_base).decode("utf-8", "replace")
        reviewer = last.reviewer or config.roles.reviewer
        try:
            review = final_review(meter, reviewer, client(reviewer), options, plan, diff, lines, config)
        except HarnessError as exc:  # budget, outage or no usable verdict: the steps' branch is kept
            review = {"ok": False, "verdict": "none", "summary": str(exc)}
        if not review["ok"]:
            status, reason = "not_trusted", f"the whole change was not approved: {review['verdict']} ({review['summary'][:120]})"
        elif options.apply:
            gitops.apply_to_worktree(options.repo, diff.encode())
    elif last.status == "trusted":
        status, reason = "not_trusted", f"stopped after step {len(results)} of {len(plan.steps)}"
    elif len(plan.steps) > 1:
        reason = f"step {len(results)} of {len(plan.steps)} failed: {last.reason}"
    own, tokens = run_totals(memory, run_id)
    cost = own + sum((r.cost_usd for r in results), Decimal(0))
    for r in results:
        tokens = TokenTotals(**{k: getattr(tokens, k) + getattr(r.tokens, k) for k in TokenTotals.model_fields})
    return RunResult(status=status, run_id=run_id, branch=last.branch, implementer=last.implementer,
                     reviewer=last.reviewer, tests=last.tests, review=review, guards=last.guards, cost_usd=cost,
                     tokens=tokens, reason=reason, rounds=sum(r.rounds for r in results),
                     attempts=[a for r in results for a in r.attempts], plan=plan.model_dump(), risk=last.risk,
                     steps=lines, attribution=[a for r in results for a in r.attribution])
