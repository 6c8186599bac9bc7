"""Routing replay over several seeds, against the best single model of the same data.

Usage: .venv/bin/python benchmarks/routing.py [DATA_DIR] [--seeds N] [--value USD]
DATA_DIR holds tasks.jsonl and runs.jsonl (default /work/shared/routing-bench/dev; the data is
CC BY-NC and is read from there at run time, never copied into this repository).
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from harness.cascade import DetectionModel
from harness.replay import load, replay
from harness.router import RoutingPolicy


def main() -> None:
    """Print router resolved/cost per seed, and the mean, as ratios of the best single model."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default="/work/shared/routing-bench/dev", type=Path)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--value", type=float, default=RoutingPolicy().value_usd)
    parser.add_argument("--true-difficulty", action="store_true")
    args = parser.parse_args()
    tasks, runs = load(args.data / "tasks.jsonl", args.data / "runs.jsonl")
    policy = RoutingPolicy(value_usd=args.value)
    sampled, expected, pct, exp_pct = [], [], [], []
    best_name = ""
    for seed in range(args.seeds):
        r = replay(tasks, runs, folds=5, seed=seed, detection=DetectionModel(), policy=policy,
                   true_difficulty=args.true_difficulty)
        best = next(m for m in r.models if m.name == r.best_single)
        best_name = f"{best.name} ({best.resolved:.0f} resolved, ${best.cost_usd:.2f})"
        sampled.append(r.router.resolved)
        expected.append(r.router.expected_resolved or 0.0)
        pct.append(r.router.pct_of_best_single_cost or 0.0)
        exp_pct.append(float(r.router.expected_cost_usd or 0) / float(best.cost_usd) * 100)
        print(f"seed {seed}: router {r.router.resolved:.0f} resolved, ${r.router.cost_usd:.2f} "
              f"({pct[-1]:.1f}% of best); expectation {expected[-1]:.1f} resolved, {exp_pct[-1]:.1f}% of best")
    print(f"best single: {best_name}")
    print(f"mean over {args.seeds} seeds: sampled {statistics.mean(sampled):.1f} resolved at "
          f"{statistics.mean(pct):.1f}% of best cost; expectation {statistics.mean(expected):.1f} at "
          f"{statistics.mean(exp_pct):.1f}%")


if __name__ == "__main__":
    main()
