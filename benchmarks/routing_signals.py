"""Per-task signals the routing replay could use beyond the router's buckets, measured out of sample.

Usage: .venv/bin/python benchmarks/routing_signals.py [DATA_DIR] [--seeds N] [--budget-fraction F]
DATA_DIR holds tasks.jsonl and runs.jsonl (default /work/shared/routing-bench/dev; CC BY-NC data, read
from there at run time, never copied into this repository).

The one per-task signal the harness sees after an attempt, besides its trust layer, is the attempt's
effort (agent steps; `api_calls` in the data). This measures
1. how well effort alone tells a failed attempt from a good one (AUC per model), and
2. whether escalating on high effort, on top of the trust layer's detection, lets a cascade reach
   more tasks within the budget: per fold, the best fixed cascade (up to 3 of MODELS) and per-step
   effort thresholds (quantiles of the training folds) are chosen on the training folds and scored,
   as exact expectations, on the held-out fold. Printed with and without thresholds.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
from pathlib import Path

# A sibling script may shadow a stdlib module (benchmarks/queue.py vs `queue`): drop this directory.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from harness.cascade import DetectionModel  # noqa: E402
from harness.replay import BenchRun, folds_of, load  # noqa: E402

MODELS = ("gpt-5-mini", "deepseek-v3.2-reasoner", "glm-4.6", "gpt-5", "gemini-3-pro-preview",
          "claude-sonnet-4.5", "claude-opus-4.5")
QUANTILES = (None, 0.9, 0.8, 0.7, 0.6)  # None: no effort trigger at that step
Runs = dict[str, dict[str, BenchRun]]


def auc(failed: list[int], good: list[int]) -> float:
    """P(a failed attempt took more calls than a good one), ties counting half."""
    wins = sum((f > g) + 0.5 * (f == g) for f in failed for g in good)
    return wins / (len(failed) * len(good)) if failed and good else 0.5


def quantile(values: list[int], q: float) -> float:
    """The q-quantile (nearest rank) of `values`."""
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))]


def expected(cascade: tuple[str, ...], limits: tuple[float, ...], ids: list[str], runs: Runs,
             detection: DetectionModel) -> tuple[float, float]:
    """Expected (resolved, cost) of a cascade that also escalates when an attempt's calls exceed its limit.

    A good attempt is delivered unless wrongly flagged or over its limit; the last step's patch is
    delivered as is (the replay's default `--flagged-last resolved`).
    """
    resolved = cost = 0.0
    for task in ids:
        reach = 1.0
        for step, model in enumerate(cascade):
            run = runs[model][task]
            cost += reach * (float(run.cost_usd) + detection.review_cost_usd)
            if step == len(cascade) - 1:
                resolved += reach * run.resolved
                break
            if (run.api_calls or 0) > limits[step]:
                continue  # escalated on effort, whatever the trust layer said
            resolved += reach * run.resolved * (1 - detection.false_alarm)
            reach *= detection.false_alarm if run.resolved else detection.recall
    return resolved, cost


def best_plan(ids: list[str], runs: Runs, detection: DetectionModel, budget: float, with_effort: bool,
              ) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """The cascade and effort limits resolving most of `ids` within `budget` (in sample)."""
    best: tuple[float, tuple[str, ...], tuple[float, ...]] = (-1.0, (), ())
    calls = {m: [runs[m][t].api_calls or 0 for t in ids] for m in MODELS}
    for length in (1, 2, 3):
        for cascade in itertools.permutations(MODELS, length):
            choices = QUANTILES if with_effort else (None,)
            for qs in itertools.product(choices, repeat=length - 1):
                limits = tuple(float("inf") if q is None else quantile(calls[m], q) for m, q in zip(cascade, qs))
                res, cost = expected(cascade, (*limits, float("inf")), ids, runs, detection)
                if cost <= budget and res > best[0]:
                    best = (res, cascade, (*limits, float("inf")))
    return best[1], best[2]


def main() -> None:
    """Print the effort AUC per model, then the out-of-sample cascades with and without effort triggers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default="/work/shared/routing-bench/dev", type=Path)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--budget-fraction", type=float, default=0.4)
    args = parser.parse_args()
    tasks, runs = load(args.data / "tasks.jsonl", args.data / "runs.jsonl")
    missing = [m for m in MODELS if m not in runs]
    if missing:
        sys.exit(f"error: {args.data} has no complete runs for {', '.join(missing)}")
    detection = DetectionModel()
    ids = [t.id for t in tasks]
    print("effort as a failure detector (AUC of api_calls, 0.5 = no signal):")
    for model in MODELS:
        failed = [runs[model][t].api_calls or 0 for t in ids if not runs[model][t].resolved]
        good = [runs[model][t].api_calls or 0 for t in ids if runs[model][t].resolved]
        print(f"  {model:24s} {auc(failed, good):.2f}")
    top = max(runs, key=lambda m: (sum(r.resolved for r in runs[m].values()), m))
    top_cost = sum(float(runs[top][t].cost_usd) for t in ids)
    for with_effort in (False, True):
        per_seed = []
        for seed in range(args.seeds):
            resolved = cost = 0.0
            for fold in folds_of(tasks, 5, seed):
                held = {t.id for t in fold}
                train = [t for t in ids if t not in held]
                budget = args.budget_fraction * sum(float(runs[top][t].cost_usd) for t in train)
                cascade, limits = best_plan(train, runs, detection, budget, with_effort)
                res, spent = expected(cascade, limits, sorted(held), runs, detection)
                resolved, cost = resolved + res, cost + spent
            per_seed.append((resolved, cost / top_cost * 100))
        label = "with effort triggers" if with_effort else "trust layer only    "
        print(f"fixed cascade learned out of sample, {label}: {statistics.mean(r for r, _ in per_seed):.1f} "
              f"resolved at {statistics.mean(p for _, p in per_seed):.1f}% of {top}'s cost "
              f"(mean of {args.seeds} seeds)", flush=True)


if __name__ == "__main__":
    main()
