"""Routing replay benchmark: recorded per-task outcomes replayed through the real classifier and router.

For each task the router plans with what it learned from the other folds only; the replay then
walks the cascade, charging each attempt's recorded cost plus a review cost, and models the trust
layer honestly: a failed attempt is caught with probability `recall` (a missed one is accepted and
not resolved), a good one is wrongly flagged with probability `false_alarm` (escalation is paid; at
the last step a flagged change is not trusted). Draws are seeded per task, so results are
deterministic and independent of task order. The exact expectation is reported alongside.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

from pydantic import Field, ValidationError

from harness.cascade import DetectionModel, Outcome, OutcomeStats, Record
from harness.classify import LabelledRequest, train_classifier
from harness.errors import UsageError
from harness.router import Candidate, RoutingPolicy, plan_route


# The benchmark's default policy: the most likely plan expected to cost at most this fraction of the
# most likely single model (per task bucket, learned on the training folds); docs/routing.md has the numbers.
DEFAULT_BUDGET_FRACTION = 0.4


class BenchTask(Record):
    """One line of tasks.jsonl."""

    id: str
    repo: str = ""
    difficulty: str | None = None
    problem_statement: str


class BenchRun(Record):
    """One line of runs.jsonl: one model's recorded attempt at one task."""

    id: str
    model: str
    resolved: bool
    cost_usd: Decimal
    api_calls: int | None = None


class Row(Record):
    """One line of the result table."""

    name: str
    resolved: float
    cost_usd: Decimal
    cost_per_resolved_usd: Decimal | None
    pct_of_best_single_cost: float | None = None
    expected_resolved: float | None = None
    expected_cost_usd: Decimal | None = None


class ReplayResult(Record):
    """The whole benchmark result (what --json prints)."""

    tasks: int
    folds: int
    seed: int
    detection: DetectionModel
    models: list[Row]
    best_single: str
    oracle: Row
    router: Row
    plans: dict[str, int] = Field(default_factory=dict)
    difficulty_accuracy: float
    true_difficulty: bool = False
    value_usd: float | None = None
    budget_fraction: float | None = None


def _read_jsonl(path: Path, model: type[Record]) -> list:
    """Parse a JSONL file into records; one-line UsageError on a missing file or bad line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    out = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            out.append(model.model_validate(json.loads(line), strict=False))
        except (json.JSONDecodeError, ValidationError) as exc:
            first = str(exc).splitlines()[0]
            raise UsageError(f"{path}:{number}: not a valid {model.__name__}: {first}") from None
    return out


def load(tasks_path: Path, runs_path: Path, exclude: frozenset[str] = frozenset()) -> tuple[
        list[BenchTask], dict[str, dict[str, BenchRun]]]:
    """Tasks, and runs indexed by model then task id; only models with a run for every task are kept."""
    tasks = _read_jsonl(tasks_path, BenchTask)
    if not tasks:
        raise UsageError(f"{tasks_path}: no tasks")
    runs: dict[str, dict[str, BenchRun]] = defaultdict(dict)
    for run in _read_jsonl(runs_path, BenchRun):
        if run.model not in exclude:
            runs[run.model][run.id] = run
    ids = {t.id for t in tasks}
    complete = {m: r for m, r in sorted(runs.items()) if ids <= set(r)}
    if not complete:
        raise UsageError(f"{runs_path}: no model has a run for every task in {tasks_path}")
    return tasks, complete


def folds_of(tasks: list[BenchTask], k: int, seed: int) -> list[list[BenchTask]]:
    """Deterministic k-fold split: tasks ordered by a seeded hash of their id, dealt round-robin."""
    if not 2 <= k <= len(tasks):
        raise UsageError(f"--folds must be between 2 and the number of tasks ({len(tasks)}), got {k}")
    order = sorted(tasks, key=lambda t: hashlib.sha256(f"{seed}:{t.id}".encode()).hexdigest())
    return [order[i::k] for i in range(k)]


def walk(cascade: list[str], task_id: str, runs: dict[str, dict[str, BenchRun]], detection: DetectionModel,
         rng: random.Random) -> tuple[bool, Decimal]:
    """Sample one pass through the cascade: (resolved, dollars charged)."""
    review = Decimal(str(detection.review_cost_usd))
    cost = Decimal(0)
    for step, model in enumerate(cascade):
        run = runs[model][task_id]
        cost += run.cost_usd + review
        last = step == len(cascade) - 1
        if run.resolved:
            if rng.random() >= detection.false_alarm:
                return True, cost
            if last:
                # Wrongly flagged with nowhere to escalate: delivered as not trusted (see DetectionModel).
                return detection.flagged_last_succeeds, cost
        elif rng.random() >= detection.recall or last:
            return False, cost  # missed failure is accepted unresolved; a caught one at the end stops
    return False, cost


def expectation(cascade: list[str], task_id: str, runs: dict[str, dict[str, BenchRun]],
                detection: DetectionModel) -> tuple[float, float]:
    """Exact expected (resolved, cost) of the same walk."""
    reach, resolved, cost = 1.0, 0.0, 0.0
    for step, model in enumerate(cascade):
        run = runs[model][task_id]
        cost += reach * (float(run.cost_usd) + detection.review_cost_usd)
        s = 1.0 if run.resolved else 0.0
        last_counts = detection.flagged_last_succeeds and step == len(cascade) - 1
        resolved += reach * s * (1 if last_counts else 1 - detection.false_alarm)
        reach *= s * detection.false_alarm + (1 - s) * detection.recall
    return resolved, cost


def _per_resolved(cost: Decimal, resolved: float) -> Decimal | None:
    return (cost / Decimal(str(resolved))).quantize(Decimal("0.0001")) if resolved else None


def replay(tasks: list[BenchTask], runs: dict[str, dict[str, BenchRun]], folds: int = 5, seed: int = 0,
           detection: DetectionModel | None = None, policy: RoutingPolicy | None = None,
           true_difficulty: bool = False) -> ReplayResult:
    """Run the k-fold replay and the single-model and oracle baselines.

    `true_difficulty` is an ablation: the router sees the task's human difficulty label instead of the
    classifier's estimate, to measure what a perfect difficulty classifier would be worth.
    """
    detection = detection or DetectionModel()
    policy = (policy or RoutingPolicy()).model_copy(update={"detection": detection})
    candidates = [Candidate(name=m) for m in runs]
    resolved = 0
    cost = Decimal(0)
    exp_resolved = exp_cost = 0.0
    plan_counts: dict[str, int] = defaultdict(int)
    correct_difficulty = 0
    for fold in folds_of(tasks, folds, seed):
        test_ids = {t.id for t in fold}
        train = [t for t in tasks if t.id not in test_ids]
        classifier = train_classifier(LabelledRequest(request=t.problem_statement, difficulty=t.difficulty)
                                      for t in train)
        # The training tasks carry their human difficulty label but the classifier's kind (there is no kind label).
        stats = OutcomeStats(outcomes=[
            Outcome(group=t.id, kind=classifier.classify(t.problem_statement).kind,
                    difficulty=t.difficulty or "15 min - 1 hour", model=m, success=runs[m][t.id].resolved,
                    cost_usd=float(runs[m][t.id].cost_usd))
            for t in train for m in runs
        ], review_cost_usd=detection.review_cost_usd)
        cache: dict[tuple[str, str], list[str]] = {}
        for task in fold:
            c = classifier.classify(task.problem_statement)
            correct_difficulty += c.difficulty == task.difficulty
            if true_difficulty and task.difficulty:
                c = c.model_copy(update={"difficulty": task.difficulty})
            key = (c.kind, c.difficulty)
            if key not in cache:
                # The plan depends on the classification only through its bucket, so plan once per bucket.
                cache[key] = plan_route(c, None, stats, candidates=candidates, policy=policy).cascade
            cascade = cache[key]
            plan_counts[" -> ".join(cascade)] += 1
            ok, spent = walk(cascade, task.id, runs, detection, random.Random(f"{seed}:{task.id}"))
            resolved += ok
            cost += spent
            e_res, e_cost = expectation(cascade, task.id, runs, detection)
            exp_resolved += e_res
            exp_cost += e_cost
    models = [_single(m, tasks, runs) for m in runs]
    best = max(models, key=lambda r: (r.resolved, -r.cost_usd, r.name))
    router = Row(name="router", resolved=resolved, cost_usd=cost, cost_per_resolved_usd=_per_resolved(cost, resolved),
                 pct_of_best_single_cost=_pct(cost, best.cost_usd), expected_resolved=round(exp_resolved, 2),
                 expected_cost_usd=Decimal(str(round(exp_cost, 4))))
    for row in models:
        row.pct_of_best_single_cost = _pct(row.cost_usd, best.cost_usd)
    oracle = _oracle(tasks, runs)
    oracle.pct_of_best_single_cost = _pct(oracle.cost_usd, best.cost_usd)
    return ReplayResult(tasks=len(tasks), folds=folds, seed=seed, detection=detection, models=models,
                        best_single=best.name, oracle=oracle, router=router, plans=dict(sorted(plan_counts.items())),
                        difficulty_accuracy=round(correct_difficulty / len(tasks), 4), true_difficulty=true_difficulty,
                        value_usd=None if policy.budget_fraction else policy.value_usd,
                        budget_fraction=policy.budget_fraction)


def _pct(cost: Decimal, base: Decimal) -> float | None:
    return round(float(cost / base * 100), 1) if base else None


def _single(model: str, tasks: list[BenchTask], runs: dict[str, dict[str, BenchRun]]) -> Row:
    """A model run alone on every task, as recorded (no review, no detection)."""
    res = sum(runs[model][t.id].resolved for t in tasks)
    cost = sum((runs[model][t.id].cost_usd for t in tasks), Decimal(0))
    return Row(name=model, resolved=res, cost_usd=cost, cost_per_resolved_usd=_per_resolved(cost, res))


def _oracle(tasks: list[BenchTask], runs: dict[str, dict[str, BenchRun]]) -> Row:
    """Cheapest resolving model per task; unresolved tasks cost nothing."""
    res, cost = 0, Decimal(0)
    for t in tasks:
        winners = [runs[m][t.id].cost_usd for m in runs if runs[m][t.id].resolved]
        if winners:
            res += 1
            cost += min(winners)
    return Row(name="oracle", resolved=res, cost_usd=cost, cost_per_resolved_usd=_per_resolved(cost, res))
