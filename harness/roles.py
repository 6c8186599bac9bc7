"""Division of labour inside a run: who plans, who audits, and the hooks the pipeline calls.

The router picks implementer and reviewer; this module adds the judgment roles around them.
The planner and auditor come from [roles] when named, else from the judgment tier of the
remaining models. No model judges its own output: the reviewer differs from the implementer
and, when more than two models are configured, from the planner; the auditor differs from both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.audit import apply_audit, notes, run_audit
from harness.budget import Meter
from harness.config import HarnessConfig
from harness.attribution import RunFacts
from harness.errors import BudgetExceeded, ModelProtocolError, ProviderUnavailable
from harness.memory import Memory
from harness.models.base import ModelClient
from harness.planner import ArchiveRepo, Plan, make_plan
from harness.records import Finding, Review, TestComparison
from harness.review import review_diff
from harness.risk import Risk, assess, gate_reason
from harness.roles_store import record_audit, record_plan, record_risk
from harness.router import TIER_RANK, RoutePlan

ReviewHook = Callable[[Review, str, str, TestComparison, list[Finding], int], Review]


def _by_judgment(names: list[str], config: HarnessConfig, tier: str) -> str | None:
    """The model of the wanted tier (else the strongest), ties by name: judgment is worth paying for."""
    if not names:
        return None
    tiers = {n: config.models[n].tier for n in names}
    return max(sorted(names), key=lambda n: (tiers[n] == tier, TIER_RANK.get(tiers[n], 1)))


def choose_planner(config: HarnessConfig, route: RoutePlan) -> str | None:
    """The planner, or None when planning is off or skipped for a trivial request."""
    if not (config.planning.enabled or config.roles.planner):
        return None
    if config.planning.skip_trivial and route.classification.difficulty == "<15 min fix":
        return None
    if config.roles.planner in config.models:
        return config.roles.planner
    names = [n for n in config.models if len(config.models) <= 2 or n != route.reviewer]
    return _by_judgment(names, config, config.planning.tier)


def choose_auditor(config: HarnessConfig, implementer: str, reviewer: str) -> str | None:
    """A third model for audits (the configured one if it is neither implementer nor reviewer)."""
    if config.roles.auditor in config.models and config.roles.auditor not in (implementer, reviewer):
        return config.roles.auditor
    return _by_judgment([n for n in config.models if n not in (implementer, reviewer)], config, "frontier")


def risky_hunks(diff: str, risk: Risk) -> str:
    """Only the file sections of a diff that carry a risk signal."""
    paths = {s.detail.split(" ")[0] for s in risk.signals if s.kind != "size" and s.kind != "confidence"}
    blocks = ["diff --git " + b for b in diff.split("diff --git ")[1:]]
    return "".join(b for b in blocks if b.split(" b/", 1)[-1].split("\n", 1)[0].strip() in paths)


class Roles:
    """The per-run role services the pipeline calls: plan, review hook, reviewer choice, risk gate."""

    def __init__(self, config: HarnessConfig, memory: Memory, meter: Meter, client: Callable[[str], ModelClient],
                 run_id: str, route: RoutePlan, request: str):
        self.config = config
        self.memory = memory
        self.meter = meter
        self.client = client
        self.run_id = run_id
        self.route = route
        self.request = request
        self.planner = choose_planner(config, route)
        self.plan: Plan | None = None
        self.step: int | None = None
        # Planning was on but skipped for a trivial request (failure attribution asks).
        self.skipped = False

    @property
    def planner_name(self) -> str | None:
        """The model whose plan this run follows (None without a plan)."""
        return self.plan.planner if self.plan is not None else None

    def use_plan(self, plan: Plan, step: int) -> None:
        """Follow a plan made by the parent run of a split request, as its step `step`."""
        self.plan, self.step, self.planner = plan, step, plan.planner

    def facts(self) -> RunFacts:
        """What failure attribution needs to know about this run."""
        return RunFacts(run_id=self.run_id, difficulty=self.route.classification.difficulty, plan=self.plan,
                        planning_skipped=self.skipped)

    def make_plan(self, repo_tar: bytes, context: str, on_stage: Callable[[str, str], None]) -> Plan | None:
        """Ask the planner (if any) for a plan; a planner that fails leaves the run without one."""
        if self.planner is None:
            if self.config.planning.enabled or self.config.roles.planner:
                self.skipped = True
                record_plan(self.memory, self.run_id, "", None, "skipped", "trivial request")
            return None
        on_stage("plan", self.planner)
        try:
            self.plan = make_plan(self.meter, self.planner, self.client(self.planner), self.request,
                                  ArchiveRepo(repo_tar, self.config.agent.tool_output_chars),
                                  self.config.planning.max_steps, self.config.planning.max_split,
                                  self.config.models[self.planner].max_output_tokens, context)
        except (ModelProtocolError, ProviderUnavailable, BudgetExceeded) as exc:
            # The run goes on without a plan; a budget problem will stop the implementer's first call.
            record_plan(self.memory, self.run_id, self.planner, None, "failed", str(exc))
            on_stage("plan", f"no plan: {exc}")
            return None
        record_plan(self.memory, self.run_id, self.planner, self.plan.model_dump(), "planned")
        on_stage("plan", f"{len(self.plan.files)} files, {len(self.plan.steps) or 1} step(s): "
                         f"{self.plan.approach[:80]}")
        return self.plan

    def reviewer_for(self, implementer: str) -> str:
        """The router's reviewer, unless it is the planner and another model can review."""
        reviewer = self.route.reviewer_for(implementer)
        if self.planner is None or reviewer != self.planner or len(self.config.models) <= 2:
            return reviewer
        others = [n for n in self.config.models if n not in (implementer, self.planner)]
        return _by_judgment(others, self.config, self.config.models[reviewer].tier) or reviewer

    def review_context(self, inner: Callable[[str], str] | None) -> Callable[[str], str]:
        """The reviewer's grounding with the plan in front, so the diff is checked against it and its fence."""
        def context(diff: str) -> str:
            grounding = inner(diff) if inner else ""
            if self.plan is None:
                return grounding
            check = ("Check the diff against this plan and its scope fence as well as the request: "
                     "a change outside the fence is a finding.")
            return "\n\n".join(p for p in (self.plan.render(self.step) + "\n" + check, grounding) if p)
        return context

    def implementer_context(self, context: str) -> str:
        """The implementer's stable context with the plan appended (stays in the cached prefix)."""
        return context if self.plan is None else f"{context}\n\n{self.plan.render(self.step)}".strip()

    def review_hook(self, task_id: str, implementer: str, reviewer: str) -> ReviewHook:
        """After each review: a stronger review of risky hunks if the level needs it, then the audit."""
        def hook(review: Review, prompt: str, diff: str, tests: TestComparison, guards: list[Finding],
                 round_number: int) -> Review:
            risk = assess(diff, self.config.risk, self.route.classification.confidence)
            review = self._stronger_review(review, prompt, diff, risk, implementer, reviewer, round_number, task_id)
            auditor = choose_auditor(self.config, implementer, reviewer) if risk.policy.audit else None
            return review if auditor is None else self._audit(review, prompt, guards, auditor, reviewer,
                                                              round_number, task_id)
        return hook

    def _stronger_review(self, review: Review, prompt: str, diff: str, risk: Risk, implementer: str,
                         reviewer: str, round_number: int, task_id: str) -> Review:
        need = risk.policy.review_tier
        tiers = {n: TIER_RANK.get(m.tier, 1) for n, m in self.config.models.items()}
        if need is None or tiers[reviewer] >= TIER_RANK[need]:
            return review
        strong = [n for n in self.config.models if n not in (implementer, self.planner) and tiers[n] >= TIER_RANK[need]]
        hunks = risky_hunks(diff, risk)
        if not strong or not hunks:
            return review
        name = _by_judgment(strong, self.config, need) or strong[0]
        focused = prompt.replace(diff, hunks) + "\n\nYou review only the risky hunks above; a cheaper reviewer saw the rest."
        second = review_diff(self.meter, name, self.client(name), focused, round_number,
                             self.config.review.max_findings, task_id, self.config.models[name].max_output_tokens)
        order = ["approve", "request_changes", "reject"]
        verdict = max(review.verdict, second.verdict, key=order.index)
        return review.model_copy(update={"verdict": verdict, "findings": [*review.findings, *second.findings],
                                         "summary": f"{review.summary} | risky hunks ({name}): {second.summary}"})

    def _audit(self, review: Review, prompt: str, guards: list[Finding], auditor: str, reviewer: str,
               round_number: int, task_id: str) -> Review:
        tolerated = list(self.config.review.tolerated_severities)
        for attempt in range(self.config.risk.audit_retries + 1):
            audit = run_audit(self.meter, auditor, self.client(auditor), prompt, review, guards, tolerated,
                              round_number, task_id, self.config.models[auditor].max_output_tokens)
            record_audit(self.memory, task_id, {**audit.model_dump(), "attempt": attempt + 1,
                                                "review_verdict": review.verdict})
            if audit.sound:
                return review
            if attempt == self.config.risk.audit_retries:
                return apply_audit(review, audit)
            review = review_diff(self.meter, reviewer, self.client(reviewer), f"{prompt}\n\n{notes(audit, review)}",
                                 round_number, self.config.review.max_findings, task_id,
                                 self.config.models[reviewer].max_output_tokens)
        return review

    def gate(self, diff: str, task_id: str | None, trusted: bool) -> tuple[Risk, str | None]:
        """The final change's risk, recorded; the needs_human reason when policy stops a trusted change."""
        risk = assess(diff, self.config.risk, self.route.classification.confidence)
        stop = trusted and risk.policy.needs_human
        record_risk(self.memory, self.run_id, task_id, risk.model_dump(), stop)
        return risk, gate_reason(risk) if stop else None


def risk_receipt(risk: Risk, stopped: bool) -> dict[str, Any]:
    """The risk part of the result: level, signals, and what a person must check when stopped."""
    return {"level": risk.level, "needs_human": stopped, "signals": [s.model_dump() for s in risk.signals],
            "policy": risk.policy.model_dump(), "checks": risk.checks() if stopped else []}
