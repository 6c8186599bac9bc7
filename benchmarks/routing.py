"""Routing replay over several seeds, against the best single model of the same data.

Usage: .venv/bin/python benchmarks/routing.py [DATA_DIR] [--seeds N] [--value USD | --budget-fraction F]
           [--flagged-last resolved|unresolved] [--true-difficulty] [--upper-bound]
DATA_DIR holds tasks.jsonl and runs.jsonl (default /work/shared/routing-bench/dev; the data is
CC BY-NC and is read from there at run time, never copied into this repository).

`--upper-bound` also prints an in-sample bound: the best ONE cascade (up to 4 models, any order)
for all tasks, chosen knowing every task's outcome, that costs at most the budget fraction of the
best single model. No router that uses one plan per task bucket learned out of sample can be
expected to beat it unless its buckets carry real per-task signal.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from decimal import Decimal
from pathlib import Path

# A sibling script may shadow a stdlib module (benchmarks/queue.py vs `queue`): drop this directory.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from harness.cascade import DetectionModel  # noqa: E402
from harness.replay import DEFAULT_BUDGET_FRACTION, BenchRun, BenchTask, load, replay  # noqa: E402
from harness.router import RoutingPolicy  # noqa: E402


def upper_bound(tasks: list[BenchTask], runs: dict[str, dict[str, BenchRun]], detection: DetectionModel,
                budget_usd: float, max_length: int = 4) -> tuple[float, float, list[str]]:
    """In-sample best fixed cascade: max expected resolved with expected total cost <= budget_usd.

    Exhaustive depth-first search over cascades, pruned once a prefix's expected cost is over the
    budget (a longer cascade only costs more).
    """
    ids = [t.id for t in tasks]
    table = {m: ([1.0 if r[i].resolved else 0.0 for i in ids], [float(r[i].cost_usd) for i in ids])
             for m, r in runs.items()}
    fa, rec, review = detection.false_alarm, detection.recall, detection.review_cost_usd
    keep_last = 1.0 if detection.flagged_last_succeeds else 1 - fa
    best: tuple[float, float, list[str]] = (0.0, 0.0, [])

    def visit(prefix: list[str], reach: list[float], res: float, cost: float) -> None:
        nonlocal best
        for model, (succ, costs) in table.items():
            if model in prefix:
                continue
            new_cost = cost + sum(r * (c + review) for r, c in zip(reach, costs))
            if new_cost > budget_usd:
                continue
            ends_here = res + keep_last * sum(r * s for r, s in zip(reach, succ))
            if ends_here > best[0]:
                best = (ends_here, new_cost, prefix + [model])
            if len(prefix) + 1 < max_length:
                visit(prefix + [model], [r * (s * fa + (1 - s) * rec) for r, s in zip(reach, succ)],
                      res + (1 - fa) * sum(r * s for r, s in zip(reach, succ)), new_cost)

    visit([], [1.0] * len(ids), 0.0, 0.0)
    return best


def main() -> None:
    """Print router resolved/cost per seed, and the mean, as ratios of the best single model."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default="/work/shared/routing-bench/dev", type=Path)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--value", type=float, default=RoutingPolicy().value_usd)
    parser.add_argument("--budget-fraction", type=float, default=DEFAULT_BUDGET_FRACTION, help="0: use --value")
    parser.add_argument("--flagged-last", choices=("resolved", "unresolved"), default="resolved")
    parser.add_argument("--true-difficulty", action="store_true")
    parser.add_argument("--upper-bound", action="store_true")
    args = parser.parse_args()
    tasks, runs = load(args.data / "tasks.jsonl", args.data / "runs.jsonl")
    detection = DetectionModel(flagged_last_succeeds=args.flagged_last == "resolved")
    policy = RoutingPolicy(value_usd=args.value, budget_fraction=args.budget_fraction or None)
    sampled, expected, pct, exp_pct = [], [], [], []
    best_name, best_cost = "", Decimal(0)
    for seed in range(args.seeds):
        r = replay(tasks, runs, folds=5, seed=seed, detection=detection, policy=policy,
                   true_difficulty=args.true_difficulty)
        best = next(m for m in r.models if m.name == r.best_single)
        best_name, best_cost = f"{best.name} ({best.resolved:.0f} resolved, ${best.cost_usd:.2f})", best.cost_usd
        sampled.append(r.router.resolved)
        expected.append(r.router.expected_resolved or 0.0)
        pct.append(r.router.pct_of_best_single_cost or 0.0)
        exp_pct.append(float(r.router.expected_cost_usd or 0) / float(best.cost_usd) * 100)
        print(f"seed {seed}: router {r.router.resolved:.0f} resolved, ${r.router.cost_usd:.2f} "
              f"({pct[-1]:.1f}% of best); expectation {expected[-1]:.1f} resolved, {exp_pct[-1]:.1f}% of best",
              flush=True)
    print(f"best single: {best_name}")
    print(f"mean over {args.seeds} seeds: sampled {statistics.mean(sampled):.1f} resolved at "
          f"{statistics.mean(pct):.1f}% of best cost; expectation {statistics.mean(expected):.1f} at "
          f"{statistics.mean(exp_pct):.1f}%")
    if args.upper_bound:
        for fraction in (0.25, 0.4):
            res, cost, cascade = upper_bound(tasks, runs, detection, fraction * float(best_cost))
            print(f"in-sample best fixed cascade within {fraction:.0%} of the best single model's cost: "
                  f"{res:.1f} resolved at {cost / float(best_cost):.1%} ({' -> '.join(cascade)})")


if __name__ == "__main__":
    main()
