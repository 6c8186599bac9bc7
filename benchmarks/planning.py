"""Planning replay: cost per trusted change with and without a planner, per task difficulty.

Usage: .venv/bin/python benchmarks/planning.py [DATA_DIR] [--cascade A,B] [--planner P]
       [--plan-cost 0.15] [--lift 0.3] [--saving 0.1]

Reuses the routing replay's data (harness.replay.load: recorded per-(model, task) outcomes and
costs) and its cost model (each attempt pays its recorded cost plus a review; a failed attempt is
caught with probability `recall`, a good one wrongly flagged with `false_alarm`; escalation walks
the cascade). A role assignment is: planner (optional), implementer cascade, reviewer (priced by
the replay's review cost). The recorded runs have no planner, so its cost and effect are
ASSUMPTIONS, explicit and adjustable:

- cost: one plan costs `plan_cost` x the planner model's recorded cost on that task (it reads
  and writes a short plan instead of editing and testing);
- effect on failures: an implementer attempt that failed succeeds with probability `lift` when
  the planner's own recorded attempt resolved the task (a plan can only carry an approach the
  planner could find), and is unchanged otherwise;
- effect on successes: they stay successes and cost `saving` less (fewer exploratory steps).

It prints the three policies (no planner, always plan, plan unless the classifier says trivial)
per difficulty, and the break-even lift: the smallest lift at which planning is no more
expensive per trusted change than not planning. Results are exact expectations (no sampling).
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

from harness.cascade import DetectionModel
from harness.classify import LabelledRequest, train_classifier
from harness.replay import BenchRun, BenchTask, load


def expected(task: str, cascade: list[str], runs: dict[str, dict[str, BenchRun]], det: DetectionModel,
             planner: str | None, plan_cost: float, lift: float, saving: float) -> tuple[float, float]:
    """Expected (trusted, dollars) of one task under one role assignment (the replay's walk, with a plan)."""
    plan_ok = planner is not None and runs[planner][task].resolved
    cost = plan_cost * float(runs[planner][task].cost_usd) if planner else 0.0
    reach, trusted = 1.0, 0.0
    for model in cascade:
        run = runs[model][task]
        s = 1.0 if run.resolved else (lift if plan_ok else 0.0)
        attempt = float(run.cost_usd) * (1 - saving if planner and run.resolved else 1.0)
        cost += reach * (attempt + det.review_cost_usd)
        trusted += reach * s * (1 - det.false_alarm)
        reach *= s * det.false_alarm + (1 - s) * det.recall
    return trusted, cost


def trivial_tasks(tasks: list[BenchTask]) -> set[str]:
    """Tasks the classifier calls "<15 min fix" (the ones `skip_trivial` plans nothing for)."""
    classifier = train_classifier(LabelledRequest(request=t.problem_statement, difficulty=t.difficulty) for t in tasks)
    return {t.id for t in tasks if classifier.classify(t.problem_statement).difficulty == "<15 min fix"}


def table(tasks: list[BenchTask], runs: dict[str, dict[str, BenchRun]], cascade: list[str], planner: str,
          det: DetectionModel, plan_cost: float, lift: float, saving: float,
          trivial: set[str]) -> dict[str, dict[str, list[float]]]:
    """Per difficulty and policy: [trusted, dollars, tasks]."""
    out: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(lambda: [0.0, 0.0, 0.0]))
    for t in tasks:
        policies = {"no planner": None, "always plan": planner, "skip trivial": None if t.id in trivial else planner}
        for name, who in policies.items():
            ok, cost = expected(t.id, cascade, runs, det, who, plan_cost, lift, saving)
            for bucket in (t.difficulty or "?", "all"):
                cell = out[bucket][name]
                cell[0] += ok
                cell[1] += cost
                cell[2] += 1
    return out


def per_trusted(cell: list[float]) -> float:
    """Dollars per expected trusted change."""
    return cell[1] / cell[0] if cell[0] else float("inf")


def break_even(tasks: list[BenchTask], runs: dict[str, dict[str, BenchRun]], cascade: list[str], planner: str,
               det: DetectionModel, plan_cost: float, saving: float, trivial: set[str]) -> dict[str, float | None]:
    """Per difficulty, the smallest lift (0..1, step 0.02) at which always planning is not dearer per trusted change."""
    found: dict[str, float | None] = {}
    for step in range(51):
        lift = step / 50
        for bucket, cells in table(tasks, runs, cascade, planner, det, plan_cost, lift, saving, trivial).items():
            plan, none = per_trusted(cells["always plan"]), per_trusted(cells["no planner"])
            if bucket not in found and plan != float("inf") and plan <= none:
                found[bucket] = lift
    return found


def main() -> None:
    """Print cost per trusted change per difficulty for the three planning policies, and the break-even lift."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default="/work/shared/routing-bench/dev", type=Path)
    parser.add_argument("--cascade", default="gpt-5-mini,claude-sonnet-4.5")
    parser.add_argument("--planner", default="claude-opus-4.5")
    parser.add_argument("--plan-cost", type=float, default=0.15)
    parser.add_argument("--lift", type=float, default=0.3)
    parser.add_argument("--saving", type=float, default=0.1)
    args = parser.parse_args()
    tasks, runs = load(args.data / "tasks.jsonl", args.data / "runs.jsonl")
    cascade = args.cascade.split(",")
    for name in [*cascade, args.planner]:
        if name not in runs:
            parser.error(f"{name} has no run for every task; choose from {', '.join(runs)}")
    det = DetectionModel()
    print(f"cascade {' -> '.join(cascade)}, planner {args.planner}; plan cost {args.plan_cost:.0%} of the planner's "
          f"attempt, lift {args.lift:.0%}, saving {args.saving:.0%}; review ${det.review_cost_usd}, "
          f"recall {det.recall}, false alarm {det.false_alarm}")
    trivial = trivial_tasks(tasks)
    cells = table(tasks, runs, cascade, args.planner, det, args.plan_cost, args.lift, args.saving, trivial)
    even = break_even(tasks, runs, cascade, args.planner, det, args.plan_cost, args.saving, trivial)
    print(f"{'difficulty':<16}{'tasks':>6}  {'no planner':>22}  {'always plan':>22}  {'skip trivial':>22}  break-even lift")
    for bucket in ["<15 min fix", "15 min - 1 hour", "1-4 hours", ">4 hours", "all"]:
        if bucket not in cells:
            continue
        row = cells[bucket]
        shown = "  ".join(f"${per_trusted(row[p]):>6.3f} ({row[p][0]:>5.1f} ok)".rjust(22)
                          for p in ("no planner", "always plan", "skip trivial"))
        lift = even.get(bucket)
        print(f"{bucket:<16}{row['no planner'][2]:>6.0f}  {shown}  {'never' if lift is None else f'{lift:.2f}'}")


if __name__ == "__main__":
    main()
