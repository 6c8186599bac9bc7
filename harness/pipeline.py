"""`harness do`: route -> implement -> test -> review -> decide -> record.

Everything the user sees as an outcome is a RunResult; the run, its tasks, calls, tests,
reviews and findings are in memory whatever the ending (trusted, rejected, budget, error, Ctrl-C).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from decimal import Decimal
from functools import partial
from pathlib import Path

from harness import gitops
from harness.attribution import attribute_run
from harness.budget import Meter, SpendLedger
from harness.classify import classify, history_from_memory
from harness.config import HarnessConfig
from harness.context import build_context
from harness.day_ledger import with_shared_day_cap
from harness.decide import after_attempt
from harness.errors import HarnessError, Interrupted, UsageError
from harness.lessons import Grounding
from harness.memory import Memory
from harness.models.base import ModelClient, build_client
from harness.models.pricing import Prices, resolve_prices
from harness.policy import RestrictedContent, apply_policy, guard_client
from harness.progress import Progress
from harness.receipt import build_result, record_rounds
from harness.records import Record, RunResult
from harness.roles import Roles, risk_receipt
from harness.router import RoutePlan, outcome_stats, plan_route
from harness.sandbox.host import check_image
from harness.sandbox.spec import size_bytes
from harness.scorecard import ObservedClient, SelfCheck, score_task
from harness.secrets import redact, secret_env_values
from harness.steps import StepInfo, run_steps
from harness.task import TaskResult, TaskSetup, run_task


class DoOptions(Record):
    """The knobs of one `harness do`."""

    request: str
    repo: Path
    config_path: Path
    implementer: str | None = None
    reviewer: str | None = None
    apply: bool = False
    max_cost: Decimal | None = None
    kind: str = "do"
    # A candidate diff saved by an interrupted queue job: the first attempt resumes from it.
    resume_diff: str = ""
    # Work from this recorded commit instead of HEAD (`harness eval` re-runs past tasks at their base).
    base_commit: str | None = None
    # Set on the child runs of a request the planner split into steps (harness.steps).
    step: StepInfo | None = None


def memory_path(repo: Path, config: HarnessConfig) -> Path:
    """The memory database for a repo; its folder ignores itself so the user's tree stays clean."""
    path = config.memory.file_in(repo)
    if not path.parent.exists():
        path.parent.mkdir(parents=True)
        (path.parent / ".gitignore").write_text("*\n")
    return path


def all_prices(config: HarnessConfig) -> dict[str, Prices]:
    """Prices of every configured model; any unknown price refuses the start."""
    return {name: resolve_prices(name, model) for name, model in config.models.items()}


def choose_route(options: DoOptions, config: HarnessConfig, memory: Memory, repo: Path) -> RoutePlan:
    """The router's plan, or the configured roles when routing is fixed (forced names always win).

    The request is classified as `harness route` does: trained on memory's labelled tasks, with the
    repo's features, so the plan shown there is the plan run here.
    """
    classification = classify(options.request, repo, history_from_memory(memory))
    if config.routing.strategy == "fixed":
        implementer = options.implementer or config.roles.implementer
        reviewer = options.reviewer or (config.roles.reviewer if config.roles.reviewer != implementer else None)
        return plan_route(classification, config, None, force_implementer=implementer, force_reviewer=reviewer)
    return plan_route(classification, config, outcome_stats(memory), options.implementer, options.reviewer)


def do(options: DoOptions, config: HarnessConfig, progress: Progress | None = None,
       environ: Mapping[str, str] | None = None, ledger: SpendLedger | None = None,
       on_candidate: Callable[[str, str, str], None] | None = None) -> RunResult:
    """Run the whole pipeline for one request and return its result (never raises for outcomes).

    The queue passes `ledger` (a spend ledger shared by all workers, checked before each call) and
    `on_candidate` (told run id, implementer and diff of each finished candidate of the first attempt,
    the one `options.resume_diff` resumes, so an interrupted job can resume from it).
    """
    env = dict(os.environ if environ is None else environ)
    progress = progress or Progress(quiet=True)
    repo = gitops.repo_root(options.repo)
    base = options.base_commit or gitops.head_commit(repo)
    prices = all_prices(config)
    if gitops.is_dirty(repo) and not options.base_commit:
        progress.note("[yellow]uncommitted changes are not part of the base; harness works from HEAD[/]")
    secrets = secret_env_values(env, [m.api_key_env for m in config.models.values() if m.api_key_env])
    # Model policy first: a denied model is never routed to nor built a client for.
    config = apply_policy(config, {"implementer": options.implementer, "reviewer": options.reviewer})
    with Memory(memory_path(repo, config), secrets) as memory, ExitStack() as stack:
        plan = choose_route(options, config, memory, repo)
        clients: dict[str, ModelClient] = {}
        self_check = SelfCheck()
        repo_tar = gitops.archive(repo, base)
        restricted = RestrictedContent(repo_tar, config.policy) if config.policy.restricted_paths else None

        def client(name: str) -> ModelClient:
            if name not in clients:
                built = build_client(name, config.models[name], config.agent, options.config_path.parent, env)
                stack.callback(built.close)
                clients[name] = ObservedClient(guard_client(name, built, config, restricted), self_check)
            return clients[name]

        # Keys of the first implementer and its reviewer, and the sandbox image, are checked before
        # anything is spent.
        client(plan.implementer), client(plan.reviewer)
        check_image(config.sandbox.image)
        if len(repo_tar) > config.sandbox.max_repo_mb * 1_000_000:
            raise UsageError(f"the repository's tracked files are {len(repo_tar) / 1e6:.1f} MB, over "
                             f"[sandbox] max_repo_mb = {config.sandbox.max_repo_mb:g}")
        if len(repo_tar) > size_bytes(config.sandbox.disk):
            raise UsageError(f"the repository's tracked files are {len(repo_tar) / 1e6:.1f} MB, more than the "
                             f"sandbox's writable space, [sandbox] disk = {config.sandbox.disk!r}")
        grounding = Grounding(memory, str(repo), repo_tar, options.request, plan.classification.kind,
                              config.guards, config.review.max_lessons)
        with gitops.extracted(repo_tar) as base_tree:
            context = build_context(repo, options.request, grounding.implementer_lessons,
                                    memory_path(repo, config).parent / "cache", map_root=base_tree)
        # The child runs of a split request open their own handle on the shared daily ledger.
        shared = stack.enter_context(with_shared_day_cap(config.budgets, ledger))
        run_id = memory.start_run(options.kind, str(repo), options.request, base)
        meter = Meter(memory, run_id, config.budgets, prices, options.max_cost, on_call=progress.call,
                      ledger=shared)
        progress.stage("route", f"{plan.classification.kind}, {plan.classification.difficulty}: "
                                f"implementer {plan.implementer}, reviewer {plan.reviewer}, run {run_id}")
        roles = Roles(config, memory, meter, client, run_id, plan, options.request)
        if options.step is not None:
            roles.use_plan(options.step.plan, options.step.number)
        elif roles.make_plan(repo_tar, context.text, progress.stage) and roles.plan and roles.plan.steps:
            result = run_steps(options, config, roles.plan, run_id, base, memory, meter, client, progress,
                               partial(do, config=config, progress=progress, environ=environ, ledger=ledger))
            memory.finish_run(run_id, result.status, result.reason, result.model_dump(mode="json"),
                              branch=result.branch, implementer=result.implementer, reviewer=result.reviewer)
            return result
        attempts: list[tuple[str, str, TaskResult]] = []
        task_ids: list[str] = []
        tiers = {name: model.tier for name, model in config.models.items()}
        implementer, decision = plan.implementer, None
        try:
            while decision is None or decision.action == "escalate":
                implementer = decision.model if decision is not None and decision.model else implementer
                attempt = len(attempts) + 1
                reviewer = roles.reviewer_for(implementer)
                task_id = memory.start_task(run_id, options.request, implementer, reviewer, attempt,
                                            plan.classification.kind, plan.classification.difficulty)
                setup = TaskSetup(request=options.request, repo_tar=repo_tar, task_id=task_id, implementer=implementer,
                                  reviewer=reviewer, context=roles.implementer_context(context.text),
                                  task_kind=plan.classification.kind,
                                  resume_diff=options.resume_diff if attempt == 1 else "",
                                  on_candidate=partial(on_candidate, run_id, implementer)
                                  if on_candidate and attempt == 1 else None,
                                  review_context=roles.review_context(grounding.review_context),
                                  after_review=roles.review_hook(task_id, implementer, reviewer),
                                  base_report=attempts[-1][2].base_report if attempts else None,
                                  base_reports=memory)
                self_check.start(task_id)
                result = run_task(setup, config, meter, client(implementer), client(reviewer), context.tools,
                                  context.specs, on_stage=progress.stage, on_step=progress.step)
                record_task(memory, task_id, result, secrets)
                score_task(memory, run_id, task_id, implementer, reviewer, roles.planner_name, result,
                           options.request, config.guards, self_check)
                attempts.append((implementer, reviewer, result))
                task_ids.append(task_id)
                # Escalation (stronger tier only, under the cost cap) or the final verdict: harness.decide.
                decision = after_attempt(result.status, result.trusted, result.reason, [a[0] for a in attempts],
                                         plan.cascade, tiers, memory.run_spend(run_id), config.review,
                                         config.routing.escalate)
                if decision.action == "escalate":
                    progress.stage("escalate", f"{result.reason[:100]} -> {decision.model}")
            learned = grounding.learn(run_id, list(zip(task_ids, [a[2] for a in attempts])))
            if learned:
                progress.stage("lessons", f"{len(learned)} written: " + "; ".join(x.text[:60] for x in learned))
        except KeyboardInterrupt:
            memory.end_unfinished(run_id, "interrupted", "interrupted by the user")
            raise Interrupted("interrupted; the sandbox was removed and your tree is untouched") from None
        except HarnessError as exc:
            # Infrastructure failures (sandbox, git) end the run as an error; its spend stays recorded.
            memory.end_unfinished(run_id, "error", str(exc))
            raise
        # The risk gate: a change policy does not let through automatically stops as needs_human.
        risk, stop = roles.gate(attempts[-1][2].diff, task_ids[-1], attempts[-1][2].trusted)
        if stop:
            attempts[-1] = (*attempts[-1][:2], attempts[-1][2].model_copy(
                update={"status": "needs_human", "trusted": False, "reason": stop}))
            decision = None
            progress.stage("gate", f"{stop}; check: " + "; ".join(risk.checks()))
        result = build_result(repo, base, options, run_id, attempts, memory, secrets, progress,
                              decision=decision, task_ids=task_ids, tiers=tiers)
        blamed = attribute_run(memory, roles.facts(), list(zip(task_ids, [a[2] for a in attempts])), stop)
        result = result.model_copy(update={"risk": risk_receipt(risk, stop is not None),
                                           "plan": roles.plan.model_dump() if roles.plan else {},
                                           "attribution": [a.model_dump() for a in blamed]})
        memory.finish_run(run_id, result.status, result.reason, result.model_dump(mode="json"),
                          branch=result.branch, implementer=result.implementer, reviewer=result.reviewer)
        return result


def record_task(memory: Memory, task_id: str, result: TaskResult, secrets: list[str]) -> None:
    """Store an attempt's tests, guard findings, reviews and outcome (secrets redacted)."""
    if result.tests is not None:
        memory.record_tests(task_id, result.tests)
    for review in result.reviews:
        memory.record_review(task_id, review)
    record_rounds(memory, task_id, result, secrets)
    memory.finish_task(task_id, result.status, result.trusted, redact(result.reason, secrets),
                       redact(result.diff, secrets))
