"""Review an existing diff (a pull request) with the harness's trust layer, without an implementer.

Composes the same pieces as an implementation attempt: a sandbox on the merge base, base
tests, the PR's diff applied, head tests with evidence runs, the guards, the forced-verdict
reviewer and the decision policy. Everything is recorded in memory as a run of kind "pr".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path

from harness import gitops
from harness.budget import Meter
from harness.candidate import candidate_diff, mark_base
from harness.config import HarnessConfig
from harness.day_ledger import with_shared_day_cap
from harness.decide import decide
from harness.errors import (
    BudgetExceeded,
    ConfigError,
    GitError,
    HarnessError,
    ModelProtocolError,
    ProviderUnavailable,
    SandboxError,
    UsageError,
)
from harness.guards import GuardContext
from harness.memory import Memory
from harness.models.base import ModelClient, build_client
from harness.pipeline import all_prices, memory_path, record_task
from harness.records import Finding, Record, Review, TestComparison
from harness.review import review_diff, review_prompt
from harness.review_context import build_review_context
from harness.router import candidates_from_config, pick_reviewer
from harness.sandbox.docker import DockerSandbox
from harness.secrets import redact, secret_env_values
from harness.task import (
    TaskResult,
    apply_saved_candidate,
    check_candidate,
    run_base_tests,
)

# The trailer harness writes into its commits (see receipt._commit_message).
_HARNESS_TRAILER = re.compile(r"^harness run: \S+", re.MULTILINE)
_IMPLEMENTER_TRAILER = re.compile(r"^implementer: (\S+)\s*$", re.MULTILINE)


class DiffToReview(Record):
    """The change under review: commits in a local clone, the author's intent, and a spend label."""

    repo: Path
    base: str
    head: str
    request: str
    # Runs whose request starts with this label share the per-PR cap, e.g. "[pr owner/name#3]".
    label: str


class PullReview(Record):
    """The evidence and verdict for an existing diff."""

    status: str  # trusted | not_trusted | budget_exceeded | error
    trusted: bool = False
    reason: str = ""
    run_id: str = ""
    merge_base: str = ""
    reviewer: str | None = None
    authors: list[str] = []
    diff: str = ""
    tests: TestComparison | None = None
    guards: list[Finding] = []
    review: Review | None = None
    cost_usd: Decimal = Decimal(0)
    pr_spent_usd: Decimal = Decimal(0)
    pr_cap_usd: Decimal = Decimal(0)


def authoring_models(repo: Path, base: str, head: str) -> list[str]:
    """Models named as implementer by harness trailers in the commits base..head."""
    log = gitops.git(repo, "log", "--format=%B%x00", f"{base}..{head}").decode(errors="replace")
    names = {m for message in log.split("\0") if _HARNESS_TRAILER.search(message)
             for m in _IMPLEMENTER_TRAILER.findall(message)}
    return sorted(names)


def choose_reviewer(config: HarnessConfig, authors: list[str], forced: str | None) -> str:
    """The configured reviewer, unless a model that wrote the change would review it: then another one."""
    if forced is not None:
        if forced not in config.models:
            raise ConfigError(f"--reviewer {forced!r} is not a configured model")
        if forced in authors:
            raise ConfigError(f"--reviewer {forced!r} wrote this change; pick another model")
        return forced
    if config.roles.reviewer not in authors:
        return config.roles.reviewer
    candidates = [c for c in candidates_from_config(config) if c.name not in authors[1:]]
    return pick_reviewer(authors[0], candidates, preferred=config.roles.reviewer)


def pr_spend(memory: Memory, label: str) -> Decimal:
    """Dollars every run carrying `label` has spent (the per-PR cap spans jobs via persisted memory)."""
    rows = memory.db.execute(
        "SELECT c.cost_usd FROM calls c JOIN runs r ON r.id = c.run_id "
        "WHERE r.kind = 'pr' AND substr(r.request, 1, ?) = ?", (len(label), label))
    return sum((Decimal(r[0]) for r in rows), Decimal(0))


def resolve_commits(repo: Path, base: str, head: str) -> str:
    """The merge base of base and head (what GitHub's PR diff is against); a missing commit is a UsageError."""
    for sha in (base, head):
        try:
            gitops.git(repo, "cat-file", "-e", f"{sha}^{{commit}}")
        except GitError:
            raise UsageError(f"commit {sha[:12]} is not in the local clone; check out with "
                             "`fetch-depth: 0` (actions/checkout)") from None
    return gitops.git(repo, "merge-base", base, head).decode().strip()


def review_existing_diff(target: DiffToReview, config: HarnessConfig, config_dir: Path,
                         environ: Mapping[str, str], forced_reviewer: str | None = None,
                         on_stage: Callable[[str, str], None] = lambda *_: None) -> PullReview:
    """Test, guard and review the diff between target.base and target.head; never raises for outcomes."""
    env = dict(environ)
    merge_base = resolve_commits(target.repo, target.base, target.head)
    diff = gitops.git(target.repo, "diff", "--binary", "--no-color", "-U5", merge_base, target.head).decode(
        errors="replace")
    authors = authoring_models(target.repo, merge_base, target.head)
    reviewer = choose_reviewer(config, authors, forced_reviewer)
    prices = all_prices(config)
    secrets = secret_env_values(env, [m.api_key_env for m in config.models.values() if m.api_key_env])
    request = f"{target.label} {target.request}"
    with Memory(memory_path(target.repo, config)) as memory, with_shared_day_cap(config.budgets) as ledger:
        spent = pr_spend(memory, target.label)
        cap = config.github.pr_usd
        result = PullReview(status="not_trusted", merge_base=merge_base, reviewer=reviewer, authors=authors,
                            diff=diff, pr_spent_usd=spent, pr_cap_usd=cap)
        run_id = memory.start_run("pr", str(target.repo), request, merge_base)
        result = result.model_copy(update={"run_id": run_id})
        on_stage("route", f"reviewer {reviewer}" + (f" (change written by {', '.join(authors)})" if authors else "")
                 + f", run {run_id}")
        try:
            if spent >= cap:
                raise BudgetExceeded("per-PR", cap, spent, Decimal(0))
            meter = Meter(memory, run_id, config.budgets, prices, cap - spent, ledger=ledger)
            meter.check(None, Decimal(0))  # a day already spent stops here, before any sandbox work
            if not diff.strip():
                result = result.model_copy(update={"reason": "the pull request changes nothing"})
            else:
                client = build_client(reviewer, config.models[reviewer], config.agent, config_dir, env)
                try:
                    result = _evaluate(target, config, meter, memory, run_id, reviewer, client, result, secrets,
                                       on_stage)
                finally:
                    client.close()
        except BudgetExceeded as exc:
            result = result.model_copy(update={"status": "budget_exceeded", "reason": str(exc)})
        except (ProviderUnavailable, SandboxError) as exc:
            result = result.model_copy(update={"status": "error", "reason": str(exc)})
        except HarnessError as exc:  # e.g. a missing API key: the run is closed, the caller reports it
            memory.finish_run(run_id, "error", redact(str(exc), secrets), {}, reviewer=reviewer)
            raise
        cost = memory.run_spend(run_id)
        result = result.model_copy(update={"cost_usd": cost, "pr_spent_usd": spent + cost,
                                           "reason": redact(result.reason, secrets)})
        memory.finish_run(run_id, result.status, result.reason, result.model_dump(mode="json", exclude={"diff"}),
                          reviewer=reviewer)
        return result


def _evaluate(target: DiffToReview, config: HarnessConfig, meter: Meter, memory: Memory, run_id: str,
              reviewer: str, client: ModelClient, result: PullReview, secrets: list[str],
              on_stage: Callable[[str, str], None]) -> PullReview:
    request = f"{target.label} {target.request}"
    # No implementer: a NULL implementer keeps PR reviews out of the router's outcome statistics.
    task_id = memory.start_task(run_id, request, None, reviewer)  # type: ignore[arg-type]
    task = TaskResult(status="not_trusted", diff=result.diff)
    try:
        on_stage("sandbox", f"starting {config.sandbox.image}")
        archive = gitops.archive(target.repo, result.merge_base)
        with DockerSandbox(config.sandbox, archive, label=task_id) as sandbox:
            mark_base(sandbox)
            base_report = run_base_tests(sandbox, config, on_stage, memory)
            applied = apply_saved_candidate(sandbox, result.diff)
            if not applied.finished:
                raise SandboxError(f"the pull request's diff does not apply to its merge base: {applied.stop_reason}")
            diff = candidate_diff(sandbox)
            tests, guards = check_candidate(sandbox, config, diff, base_report,
                                            GuardContext(request=target.request), on_stage)
        task = task.model_copy(update={"tests": tests, "guards": guards})
        on_stage("review", reviewer)
        # Grounded like `harness do`: sibling code and tests from the base, each cited by path:line.
        prompt = review_prompt(target.request, diff, tests, guards, [],
                               build_review_context(archive, diff, config.guards))
        review = review_diff(meter, reviewer, client, prompt, 1, config.review.max_findings,
                             task_id, config.models[reviewer].max_output_tokens)
        # A model may echo a secret it saw in the diff: nothing key-like reaches memory or comments.
        review = review.model_copy(update={"summary": redact(review.summary, secrets), "findings": [
            f.model_copy(update={"message": redact(f.message, secrets)}) for f in review.findings]})
        # The last round: there is no implementer to revise, so the decision is final.
        decision = decide(tests, guards, review, True, config.review.max_revisions + 1, config.review)
        status = "trusted" if decision.trusted else "not_trusted"
        task = task.model_copy(update={"reviews": [review], "decision": decision, "trusted": decision.trusted,
                                       "status": status, "reason": decision.reason})
        return result.model_copy(update={"status": status, "trusted": decision.trusted, "reason": decision.reason,
                                         "tests": tests, "guards": guards, "review": review})
    except ModelProtocolError as exc:
        task = task.model_copy(update={"reason": str(exc)})
        return result.model_copy(update={"tests": task.tests, "guards": task.guards, "reason": str(exc)})
    except (BudgetExceeded, ProviderUnavailable, SandboxError) as exc:
        # The evidence gathered before the stop is kept and shown.
        status = "budget_exceeded" if isinstance(exc, BudgetExceeded) else "error"
        task = task.model_copy(update={"status": status, "reason": str(exc)})
        return result.model_copy(update={"status": status, "tests": task.tests, "guards": task.guards,
                                         "reason": str(exc)})
    finally:
        record_task(memory, task_id, task, secrets)
