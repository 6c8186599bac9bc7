"""Expected success and cost of implementer cascades, learned from recorded outcomes.

A cascade tries models in order and escalates when the trust layer says "not trusted".
The trust layer is imperfect: a failed attempt is caught with probability `recall`, a
good one is wrongly flagged with probability `false_alarm`. A change that is flagged at
the last step, or a failure that slips through, is not a trusted change.

Estimates are empirical over past task groups (one group = one request, possibly tried
by several models), weighted by how similar each group's bucket is to the new task's,
so correlated failures (a task hard for one model is hard for others) are not assumed
away. Where a group has no outcome for a model, the model's smoothed rate fills in.
"""

from __future__ import annotations

from collections import defaultdict

from pydantic import BaseModel, ConfigDict, Field


class Record(BaseModel):
    """Base for this module's records: unknown fields are errors."""

    model_config = ConfigDict(extra="forbid")


class Outcome(Record):
    """One recorded implementation attempt."""

    group: str
    kind: str
    difficulty: str
    model: str
    success: bool
    cost_usd: float = Field(ge=0)


class OutcomeStats(Record):
    """Everything the router learns from: attempts, plus the mean review cost per attempt."""

    outcomes: list[Outcome] = Field(default_factory=list)
    review_cost_usd: float | None = None


class Prior(Record):
    """What is assumed about a model before (or besides) evidence."""

    success: float = Field(ge=0, le=1)
    cost_usd: float = Field(ge=0)
    explore_bonus: float = Field(default=0.0, ge=0)


class DetectionModel(Record):
    """How well the trust layer separates good attempts from bad ones."""

    recall: float = Field(default=0.8, ge=0, le=1)
    false_alarm: float = Field(default=0.05, ge=0, le=1)
    review_cost_usd: float = Field(default=0.02, ge=0)
    # A correct LAST attempt that is wrongly flagged: False = a failure (production routing, where
    # success means a trusted change); True = still a success (the replay's "resolved": the patch is
    # correct and is delivered, marked not trusted, exactly as a single model's patch is scored).
    flagged_last_succeeds: bool = False


class Estimate(Record):
    """Expected outcome of a cascade on one task."""

    cascade: list[str]
    success: float
    cost_usd: float

    @property
    def cost_per_trusted(self) -> float:
        """Expected dollars per trusted change (inf when success is 0)."""
        return self.cost_usd / self.success if self.success > 0 else float("inf")


class _Group:
    """One past request with the outcomes and costs seen for it, and its weight for this query."""

    __slots__ = ("weight", "success", "cost")

    def __init__(self, weight: float):
        self.weight = weight
        self.success: dict[str, float] = {}
        self.cost: dict[str, float] = {}


class CascadeModel:
    """Estimates for one (kind, difficulty) query over a fixed set of candidate models."""

    def __init__(self, stats: OutcomeStats, kind: str, difficulty: str, priors: dict[str, Prior],
                 detection: DetectionModel, kind_mass: float = 20.0, rest_mass: float = 20.0,
                 prior_strength: float = 4.0):
        self.models = list(priors)
        self.detection = detection
        self.review_cost = stats.review_cost_usd if stats.review_cost_usd is not None else detection.review_cost_usd
        self.groups = self._weighted_groups(stats, kind, difficulty, kind_mass, rest_mass)
        self.marginal_success: dict[str, float] = {}
        self.marginal_cost: dict[str, float] = {}
        self.observed: dict[str, int] = defaultdict(int)
        for model, prior in priors.items():
            w_n = w_s = w_c = 0.0
            for g in self.groups:
                if model in g.success:
                    w_n += g.weight
                    w_s += g.weight * g.success[model]
                    w_c += g.weight * g.cost[model]
                    self.observed[model] += 1
            # Beta-style smoothing toward the prior; the bonus is optimism that fades with evidence.
            p = (w_s + prior_strength * prior.success) / (w_n + prior_strength)
            bonus = prior.explore_bonus * prior_strength / (w_n + prior_strength)
            self.marginal_success[model] = min(1.0, p + bonus)
            self.marginal_cost[model] = (w_c + prior_strength * prior.cost_usd) / (w_n + prior_strength)
        if not self.groups:
            # No history at all: one virtual group of pure priors keeps the arithmetic uniform.
            self.groups = [_Group(1.0)]

    @staticmethod
    def _weighted_groups(stats: OutcomeStats, kind: str, difficulty: str,
                         kind_mass: float, rest_mass: float) -> list[_Group]:
        """Groups weighted 1 in the query's bucket; other tiers share a fixed total mass each."""
        tiers: dict[int, list[list[Outcome]]] = {0: [], 1: [], 2: []}
        by_group: dict[str, list[Outcome]] = defaultdict(list)
        for o in stats.outcomes:
            by_group[o.group].append(o)
        for name in sorted(by_group):
            rows = by_group[name]
            same_diff = rows[0].difficulty == difficulty
            tier = 0 if same_diff and rows[0].kind == kind else (1 if same_diff else 2)
            tiers[tier].append(rows)
        groups: list[_Group] = []
        for tier, members in tiers.items():
            if not members:
                continue
            weight = 1.0 if tier == 0 else min(1.0, (kind_mass if tier == 1 else rest_mass) / len(members))
            for rows in members:
                g = _Group(weight)
                for o in rows:
                    # A model tried twice on one request: keep the mean outcome and cost.
                    n = sum(1 for r in rows if r.model == o.model)
                    g.success[o.model] = g.success.get(o.model, 0.0) + float(o.success) / n
                    g.cost[o.model] = g.cost.get(o.model, 0.0) + o.cost_usd / n
                groups.append(g)
        return groups

    def estimate(self, cascade: list[str]) -> Estimate:
        """Expected success and cost of running `cascade` on a task of this bucket."""
        total_w = sum(g.weight for g in self.groups)
        success = cost = 0.0
        for g in self.groups:
            s, c = self._run(cascade, g)
            success += g.weight * s
            cost += g.weight * c
        return Estimate(cascade=list(cascade), success=success / total_w, cost_usd=cost / total_w)

    def _run(self, cascade: list[str], g: _Group) -> tuple[float, float]:
        recall, false_alarm = self.detection.recall, self.detection.false_alarm
        reach = 1.0
        success = cost = 0.0
        for step, model in enumerate(cascade):
            s = g.success.get(model, self.marginal_success[model])
            cost += reach * (g.cost.get(model, self.marginal_cost[model]) + self.review_cost)
            last_counts = self.detection.flagged_last_succeeds and step == len(cascade) - 1
            success += reach * s * (1 if last_counts else 1 - false_alarm)
            reach *= s * false_alarm + (1 - s) * recall
        return success, cost

    def search(self, max_length: int, max_models: int, first: str | None = None,
               exclude: frozenset[str] = frozenset()) -> list[Estimate]:
        """Every cascade up to `max_length` over the most promising models, prefix-shared DFS."""
        pool = self.shortlist(max_models, exclude | ({first} if first else set()))
        starts = [first] if first else pool
        out: list[Estimate] = []
        total_w = sum(g.weight for g in self.groups)
        # State per group: (reach probability, success so far, cost so far, success if the cascade ends here).
        init = [(1.0, 0.0, 0.0, 0.0)] * len(self.groups)
        recall, false_alarm = self.detection.recall, self.detection.false_alarm
        last_keep = 1.0 if self.detection.flagged_last_succeeds else 1 - false_alarm

        def step(state: list[tuple[float, float, float, float]], model: str) -> list[tuple[float, float, float, float]]:
            new = []
            p_fill, c_fill = self.marginal_success[model], self.marginal_cost[model]
            for g, (reach, s_acc, c_acc, _) in zip(self.groups, state):
                s = g.success.get(model, p_fill)
                c = g.cost.get(model, c_fill) + self.review_cost
                new.append((reach * (s * false_alarm + (1 - s) * recall), s_acc + reach * s * (1 - false_alarm),
                            c_acc + reach * c, s_acc + reach * s * last_keep))
            return new

        def visit(prefix: list[str], state: list[tuple[float, float, float, float]]) -> None:
            s = sum(g.weight * st[3] for g, st in zip(self.groups, state)) / total_w
            c = sum(g.weight * st[2] for g, st in zip(self.groups, state)) / total_w
            out.append(Estimate(cascade=list(prefix), success=s, cost_usd=c))
            if len(prefix) >= max_length:
                return
            for model in pool:
                if model not in prefix:
                    visit(prefix + [model], step(state, model))

        for model in starts:
            visit([model], step(init, model))
        return out

    def shortlist(self, max_models: int, exclude: frozenset[str] | set[str]) -> list[str]:
        """Models worth putting in a cascade: the success/cost Pareto front first, then the most efficient."""
        models = [m for m in self.models if m not in exclude]
        front = [m for m in models if not any(self._dominates(o, m) for o in models if o != m)]
        rest = sorted((m for m in models if m not in front),
                      key=lambda m: (self.marginal_cost[m] / max(self.marginal_success[m], 1e-6), m))
        ordered = sorted(front, key=lambda m: (self.marginal_cost[m], m)) + rest
        return ordered[:max_models]

    def _dominates(self, a: str, b: str) -> bool:
        sa, sb = self.marginal_success[a], self.marginal_success[b]
        ca, cb = self.marginal_cost[a], self.marginal_cost[b]
        return sa >= sb and ca <= cb and (sa > sb or ca < cb)


def choose(estimates: list[Estimate], value_usd: float, max_cost_usd: float, min_success: float = 0.0,
           budget_fraction: float | None = None) -> Estimate:
    """The plan maximising value_usd * P(trusted) - E[cost] among affordable plans reaching `min_success`.

    `value_usd` is the Lagrange multiplier of a success target: a plan escalates to one more model
    only while each extra expected trusted change costs less than `value_usd`, which minimises
    expected cost per trusted change for the success level it buys. Falls back to the cheapest plan
    when none is affordable, and to the most likely one when none reaches `min_success`.

    With `budget_fraction`, the plan is instead the most likely to succeed among those expected to
    cost at most that fraction of the most likely single model's expected cost (ties: cheaper).
    """
    affordable = [e for e in estimates if e.cost_usd <= max_cost_usd] or [min(estimates, key=lambda e: e.cost_usd)]
    if budget_fraction is not None:
        singles = [e for e in affordable if len(e.cascade) == 1] or affordable
        reference = max(singles, key=lambda e: (round(e.success, 9), -e.cost_usd))
        within = [e for e in affordable if e.cost_usd <= budget_fraction * reference.cost_usd]
        if within:
            return max(within, key=lambda e: (round(e.success, 9), -e.cost_usd, -len(e.cascade), e.cascade))
        return min(affordable, key=lambda e: (e.cost_usd, -e.success))
    feasible = [e for e in affordable if e.success >= min_success]
    if not feasible:
        return max(affordable, key=lambda e: (round(e.success, 9), -e.cost_usd, -len(e.cascade)))
    return max(feasible, key=lambda e: (round(value_usd * e.success - e.cost_usd, 9), -len(e.cascade), e.cascade))
