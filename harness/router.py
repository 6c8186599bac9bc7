"""Model routing: implementer cascade and reviewer per task, learned from outcomes in memory.

Policy: among cascades of up to `max_cascade` models, take the one with the lowest expected
cost per trusted change whose expected success reaches `target_success` (else the most likely
to succeed within the per-task budget). Estimates come from harness.cascade; models without
evidence start from a tier prior with a bounded, fading exploration bonus.
"""

from __future__ import annotations

import hashlib
import sqlite3
from decimal import Decimal
from typing import Any

from pydantic import Field

from harness.cascade import (
    CascadeModel,
    DetectionModel,
    Estimate,
    Outcome,
    OutcomeStats,
    Prior,
    Record,
    choose,
)
from harness.classify import Classification, classify
from harness.config import HarnessConfig
from harness.errors import ConfigError, PriceUnknownError
from harness.models.pricing import resolve_prices
from harness.records import Usage

TIER_RANK = {"cheap": 0, "mid": 1, "frontier": 2}
# Prior success per tier, before any outcome is recorded (roughly SWE-bench-like rates).
TIER_SUCCESS = {"cheap": 0.5, "mid": 0.6, "frontier": 0.7}
# Typical tokens of one implementer attempt, scaled by difficulty, to price a model with no history.
TYPICAL_USAGE = Usage(input_tokens=60_000, output_tokens=6_000, cache_read_tokens=240_000, cache_write_tokens=30_000)
DIFFICULTY_SCALE = {"<15 min fix": 0.6, "15 min - 1 hour": 1.0, "1-4 hours": 1.6, ">4 hours": 2.5}


class Candidate(Record):
    """A model the router may choose."""

    name: str
    provider: str = ""
    tier: str = "mid"
    # Cost of a typical attempt from the price table; None when only history prices the model.
    typical_cost_usd: float | None = None


class RoutingPolicy(Record):
    """Knobs of the routing policy (defaults are the ones the replay benchmark uses)."""

    # Dollars one more expected trusted change is worth: the price of the success target.
    value_usd: float = Field(default=7.0, gt=0)
    # Instead of the value trade-off: the most likely plan costing at most this fraction of the most
    # likely single model (the replay benchmark's target is stated this way).
    budget_fraction: float | None = Field(default=None, gt=0)
    min_success: float = Field(default=0.0, ge=0, le=1)
    max_cascade: int = Field(default=4, ge=1, le=6)
    max_models: int = Field(default=8, ge=1)
    max_cost_usd: float = Field(default=2.0, gt=0)
    explore_bonus: float = Field(default=0.1, ge=0, le=1)
    # Pseudo-counts: how much tasks of the same difficulty but other kind, and of other difficulties,
    # weigh against the query's own bucket. Large values pool everything (difficulty is hard to predict).
    kind_mass: float = Field(default=20.0, ge=0)
    rest_mass: float = Field(default=20.0, ge=0)
    detection: DetectionModel = Field(default_factory=DetectionModel)


class CandidateEstimate(Record):
    """Per-model line of a plan: what one attempt is expected to cost and achieve."""

    model: str
    provider: str
    tier: str
    success: float
    cost_usd: float
    cost_per_trusted_usd: float | None
    observed: int


class RoutePlan(Record):
    """The router's answer: who implements (in cascade order), who reviews, and why."""

    implementer: str
    reviewer: str
    cascade: list[str]
    reviewers: dict[str, str]
    classification: Classification
    candidates: list[CandidateEstimate]
    expected_success: float
    expected_cost_usd: float
    expected_cost_per_trusted_usd: float | None
    forced: bool = False

    def reviewer_for(self, implementer: str) -> str:
        """The reviewer for a cascade step; never the implementer itself."""
        if implementer in self.reviewers:
            return self.reviewers[implementer]
        raise ConfigError(f"{implementer!r} is not a step of this plan's cascade")


def candidates_from_config(config: HarnessConfig) -> list[Candidate]:
    """Configured models that have a price; a model without one is never routed to."""
    out = []
    for name, model in sorted(config.models.items()):
        try:
            prices = resolve_prices(name, model)
        except PriceUnknownError:
            continue
        out.append(Candidate(name=name, provider=model.provider, tier=model.tier,
                             typical_cost_usd=float(prices.cost(TYPICAL_USAGE))))
    return out


def priors_for(candidates: list[Candidate], stats: OutcomeStats, difficulty: str, policy: RoutingPolicy) -> dict[str, Prior]:
    """Tier prior per candidate; cost from its price, else its mean recorded cost, else the overall mean."""
    seen: dict[str, list[float]] = {}
    for o in stats.outcomes:
        seen.setdefault(o.model, []).append(o.cost_usd)
    all_costs = [c for costs in seen.values() for c in costs]
    overall = sum(all_costs) / len(all_costs) if all_costs else 0.5
    scale = DIFFICULTY_SCALE.get(difficulty, 1.0)
    priors = {}
    for c in candidates:
        if c.typical_cost_usd is not None:
            cost = c.typical_cost_usd * scale
        else:
            cost = sum(seen[c.name]) / len(seen[c.name]) if c.name in seen else overall
        priors[c.name] = Prior(success=TIER_SUCCESS.get(c.tier, 0.6), cost_usd=cost, explore_bonus=policy.explore_bonus)
    return priors


def pick_reviewer(implementer: str, candidates: list[Candidate], preferred: str | None = None) -> str:
    """A reviewer that is not the implementer: other provider first, then other tier, then strongest.

    `preferred` (the configured reviewer) wins among equally suitable models.
    """
    by_name = {c.name: c for c in candidates}
    impl = by_name.get(implementer, Candidate(name=implementer))
    others = [c for c in candidates if c.name != implementer]
    if not others:
        raise ConfigError(f"no reviewer available: {implementer!r} is the only priced model")

    def key(c: Candidate) -> tuple[Any, ...]:
        return (c.provider != impl.provider or not impl.provider, c.tier != impl.tier, c.name == preferred,
                TIER_RANK.get(c.tier, 1), -(c.typical_cost_usd or 0.0), c.name)

    return max(others, key=key).name


def plan_route(request_or_classification: str | Classification, config: HarnessConfig | None,
               stats: OutcomeStats | None, force_implementer: str | None = None,
               force_reviewer: str | None = None, *, candidates: list[Candidate] | None = None,
               policy: RoutingPolicy | None = None) -> RoutePlan:
    """Classify (if given text), then choose the implementer cascade and reviewers.

    `candidates` defaults to the priced models of `config`; the replay benchmark passes its own.
    Raises ConfigError for an unknown or unpriced forced model, or implementer == reviewer.
    """
    policy = policy or RoutingPolicy()
    stats = stats or OutcomeStats()
    classification = (request_or_classification if isinstance(request_or_classification, Classification)
                      else classify(request_or_classification))
    if candidates is None:
        if config is None:
            raise ConfigError("plan_route needs a config or an explicit candidate list")
        candidates = candidates_from_config(config)
        for forced in (force_implementer, force_reviewer):
            if forced is not None and forced in config.models and forced not in {c.name for c in candidates}:
                resolve_prices(forced, config.models[forced])  # raises PriceUnknownError with the reason
    names = {c.name for c in candidates}
    for role, forced in (("implementer", force_implementer), ("reviewer", force_reviewer)):
        if forced is not None and forced not in names:
            raise ConfigError(f"--{role} {forced!r} is not a configured, priced model (choose from: "
                              f"{', '.join(sorted(names)) or 'none'})")
    if force_implementer is not None and force_implementer == force_reviewer:
        raise ConfigError("the reviewer must be a different model from the implementer")
    if not candidates:
        raise ConfigError("no configured model has a known price; nothing to route to")

    priors = priors_for(candidates, stats, classification.difficulty, policy)
    model = CascadeModel(stats, classification.kind, classification.difficulty, priors, policy.detection,
                         kind_mass=policy.kind_mass, rest_mass=policy.rest_mass)
    # A forced reviewer cannot also implement, so it is left out of the cascade.
    exclude = frozenset({force_reviewer} if force_reviewer else set())
    if len(candidates) - len(exclude) < 1:
        raise ConfigError("no implementer left once the forced reviewer is excluded")
    estimates = model.search(policy.max_cascade, policy.max_models, first=force_implementer, exclude=exclude)
    best = choose(estimates, policy.value_usd, policy.max_cost_usd, policy.min_success, policy.budget_fraction)
    preferred = config.roles.reviewer if config is not None else None
    reviewers = {m: force_reviewer or pick_reviewer(m, candidates, preferred) for m in best.cascade}
    return RoutePlan(
        implementer=best.cascade[0], reviewer=reviewers[best.cascade[0]], cascade=best.cascade,
        reviewers=reviewers, classification=classification,
        candidates=_candidate_lines(model, candidates),
        expected_success=round(best.success, 4), expected_cost_usd=round(best.cost_usd, 4),
        expected_cost_per_trusted_usd=_finite(best.cost_per_trusted),
        forced=force_implementer is not None or force_reviewer is not None,
    )


def _finite(value: float) -> float | None:
    return round(value, 4) if value != float("inf") else None


def _candidate_lines(model: CascadeModel, candidates: list[Candidate]) -> list[CandidateEstimate]:
    lines = []
    for c in candidates:
        single: Estimate = model.estimate([c.name])
        lines.append(CandidateEstimate(
            model=c.name, provider=c.provider, tier=c.tier, success=round(single.success, 4),
            cost_usd=round(single.cost_usd, 4), cost_per_trusted_usd=_finite(single.cost_per_trusted),
            observed=model.observed.get(c.name, 0),
        ))
    return sorted(lines, key=lambda line: (line.cost_per_trusted_usd is None, line.cost_per_trusted_usd or 0, line.model))


# Failures attributed to these stages say nothing about the implementer model: they are left out of
# its estimates. A change stopped only by the risk gate passed every check, so it counts as a success.
_NOT_THE_IMPLEMENTER = frozenset({"review", "planning", "classification", "infrastructure"})


def _attributed_stages(memory: Any) -> dict[str, str]:
    """Task id -> the stage its failure was attributed to (from the attributions table, if any)."""
    try:
        rows = memory.db.execute("SELECT task_id, stage, reason, evidence_json FROM attributions "
                                 "WHERE task_id IS NOT NULL")
    except sqlite3.OperationalError:  # a memory file from before failure attribution existed
        return {}
    stages: dict[str, str] = {}
    for r in rows:
        if r["stage"] == "escalation" and '"risk:' in r["evidence_json"]:  # stopped by the risk gate
            stages[r["task_id"]] = "gated"
        elif r["stage"] == "execution" and r["reason"].startswith("infrastructure:"):
            stages[r["task_id"]] = "infrastructure"
        else:
            stages[r["task_id"]] = r["stage"]
    return stages


def outcome_stats(memory: Any) -> OutcomeStats:
    """Attempts from memory: each task row is one implementer attempt; its cost is every call of that task.

    Rows still running, or without an implementer, are skipped. A group is one request at one base
    commit of one repo, so escalations within a run, and `harness eval` runs of a past request
    (runs.kind = 'eval', which do count here: they are how a new model earns its estimates), show
    which models failed on the same task.
    """
    rows = memory.db.execute(
        "SELECT t.id, r.repo, r.base_commit, r.request, t.task_kind, t.difficulty, t.implementer, t.trusted, "
        "c.role AS role, c.cost_usd AS cost FROM tasks t JOIN runs r ON r.id = t.run_id "
        "LEFT JOIN calls c ON c.task_id = t.id "
        "WHERE t.status != 'running' AND t.implementer IS NOT NULL ORDER BY t.started_at, t.id"
    )
    tasks: dict[str, dict[str, Any]] = {}
    for r in rows:
        group = hashlib.sha256(f"{r['repo']}\0{r['base_commit']}\0{r['request']}".encode()).hexdigest()[:16]
        t = tasks.setdefault(r["id"], {"group": group, "kind": r["task_kind"] or "bug_fix",
                                       "difficulty": r["difficulty"] or "15 min - 1 hour",
                                       "model": r["implementer"], "success": bool(r["trusted"]),
                                       "impl": Decimal(0), "review": Decimal(0)})
        if r["cost"] is not None:
            t["review" if r["role"] == "reviewer" else "impl"] += Decimal(r["cost"])
    blame = _attributed_stages(memory)
    outcomes = [Outcome(group=t["group"], kind=t["kind"], difficulty=t["difficulty"], model=t["model"],
                        success=t["success"] or blame.get(tid) == "gated", cost_usd=float(t["impl"]))
                for tid, t in tasks.items() if t["success"] or blame.get(tid) not in _NOT_THE_IMPLEMENTER]
    review_total = sum((t["review"] for t in tasks.values()), Decimal(0))
    review = float(review_total / len(tasks)) if tasks else None
    return OutcomeStats(outcomes=outcomes, review_cost_usd=review)
