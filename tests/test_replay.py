"""The routing replay on a synthetic dataset whose answer is known by hand."""

import json
import random
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cascade import DetectionModel
from harness.cli import build_app
from harness.errors import UsageError
from harness.replay import expectation, folds_of, load, replay, walk
from harness.router import RoutingPolicy

# A solves t0..t5 for $0.01; B solves t0..t8 for $1.00; C solves nothing for $2.00.
MODELS = {"A": (6, "0.01"), "B": (9, "1.00"), "C": (0, "2.00")}


def write_dataset(tmp_path: Path) -> tuple[Path, Path]:
    tasks, runs = tmp_path / "tasks.jsonl", tmp_path / "runs.jsonl"
    tasks.write_text("".join(json.dumps({"id": f"t{i}", "repo": "o/r", "difficulty": "15 min - 1 hour",
                                         "problem_statement": f"Bug number {i}: the parser crashes."}) + "\n"
                             for i in range(10)))
    runs.write_text("".join(json.dumps({"id": f"t{i}", "model": m, "resolved": i < solved, "cost_usd": float(cost),
                                        "api_calls": 3}) + "\n"
                            for m, (solved, cost) in MODELS.items() for i in range(10)))
    return tasks, runs


def run(tmp_path: Path, **detection: float):
    tasks, runs = load(*write_dataset(tmp_path))
    return replay(tasks, runs, folds=5, seed=0, detection=DetectionModel(**detection))


def test_baselines_by_hand(tmp_path: Path) -> None:
    result = run(tmp_path)
    rows = {r.name: r for r in result.models}
    assert (rows["A"].resolved, rows["A"].cost_usd) == (6, Decimal("0.10"))
    assert (rows["B"].resolved, rows["B"].cost_usd) == (9, Decimal("10.00"))
    assert (rows["C"].resolved, rows["C"].cost_usd) == (0, Decimal("20.00"))
    assert result.best_single == "B"
    assert (result.oracle.resolved, result.oracle.cost_usd) == (9, Decimal("3.06"))  # 6 x 0.01 + 3 x 1.00


def test_perfect_detection_learns_cheap_then_strong(tmp_path: Path) -> None:
    result = run(tmp_path, recall=1.0, false_alarm=0.0, review_cost_usd=0.0)
    assert result.plans == {"A -> B": 10}
    assert result.router.resolved == 9
    assert result.router.cost_usd == Decimal("4.10")  # A on all 10, B on the 4 A misses
    assert result.router.pct_of_best_single_cost == 41.0


def test_review_cost_is_charged_per_attempt(tmp_path: Path) -> None:
    result = run(tmp_path, recall=1.0, false_alarm=0.0, review_cost_usd=0.02)
    assert result.router.cost_usd == Decimal("4.38")  # 4.10 + 14 attempts x 0.02


def test_imperfect_detection_expectation_by_hand(tmp_path: Path) -> None:
    result = run(tmp_path)  # recall 0.8, false alarm 0.05, review 0.02
    assert result.plans == {"A -> B": 10}
    # 6 A wins: accepted 0.95, flagged 0.05 then B wins 0.95; 3 B-only: caught 0.8 then B wins 0.95; t9: nobody.
    assert result.router.expected_resolved == pytest.approx(6 * (0.95 + 0.05 * 0.95) + 3 * 0.8 * 0.95, abs=0.01)
    # A (+review) everywhere; B (+review) on 0.05 of 6 tasks and 0.8 of 4 tasks.
    assert float(result.router.expected_cost_usd) == pytest.approx(10 * 0.03 + (6 * 0.05 + 4 * 0.8) * 1.02, abs=1e-3)
    # A sampled run is an integer count close to the expectation, and the same every time.
    assert result.router.resolved in range(6, 10)
    assert run(tmp_path) == result


class FixedDraws(random.Random):
    """random() returns the given values in order."""

    def __init__(self, values: list[float]):
        super().__init__(0)
        self.values = list(values)

    def random(self) -> float:
        return self.values.pop(0)


def test_walk_models_the_trust_layer(tmp_path: Path) -> None:
    _, runs = load(*write_dataset(tmp_path))
    d = DetectionModel(recall=0.8, false_alarm=0.05, review_cost_usd=0.0)
    # t9 (nobody solves): A's failure slips through (draw 0.9 >= recall) -> accepted, unresolved, B never paid.
    assert walk(["A", "B"], "t9", runs, d, FixedDraws([0.9])) == (False, Decimal("0.01"))
    # t7 (only B): A's failure caught (0.1 < recall), B succeeds and is not flagged.
    assert walk(["A", "B"], "t7", runs, d, FixedDraws([0.1, 0.5])) == (True, Decimal("1.01"))
    # t0: A succeeds but is wrongly flagged (0.01 < false alarm): escalation is paid, B succeeds.
    assert walk(["A", "B"], "t0", runs, d, FixedDraws([0.01, 0.5])) == (True, Decimal("1.01"))
    # Flagged at the last step: nowhere to go, not trusted.
    assert walk(["B"], "t0", runs, d, FixedDraws([0.01])) == (False, Decimal("1.00"))
    assert expectation(["A", "B"], "t7", runs, d) == pytest.approx((0.8 * 0.95, 0.01 + 0.8 * 1.0))
    # The other modelling: a correct last attempt wrongly flagged is still delivered, and it resolves the task.
    delivered = d.model_copy(update={"flagged_last_succeeds": True})
    assert walk(["B"], "t0", runs, delivered, FixedDraws([0.01])) == (True, Decimal("1.00"))
    assert walk(["A", "B"], "t9", runs, delivered, FixedDraws([0.1, 0.5])) == (False, Decimal("1.01"))
    assert expectation(["A", "B"], "t7", runs, delivered) == pytest.approx((0.8 * 1.0, 0.01 + 0.8 * 1.0))
    assert expectation(["A", "B"], "t0", runs, delivered) == pytest.approx((0.95 + 0.05 * 1.0, 0.01 + 0.05 * 1.0))


def test_budget_fraction_policy_by_hand(tmp_path: Path) -> None:
    tasks, runs = load(*write_dataset(tmp_path))
    perfect = DetectionModel(recall=1.0, false_alarm=0.0, review_cost_usd=0.0)
    # B alone costs $1.00 a task; A -> B about 0.01 + 0.4 x 1.00 (0.5 in the worst training fold), solving as much.
    roomy = replay(tasks, runs, folds=5, seed=0, detection=perfect, policy=RoutingPolicy(budget_fraction=0.7))
    assert roomy.plans == {"A -> B": 10} and roomy.router.resolved == 9 and roomy.budget_fraction == 0.7
    # Under 20% of B's cost only A fits (A -> B costs over 25% in every training fold): A alone.
    tight = replay(tasks, runs, folds=5, seed=0, detection=perfect, policy=RoutingPolicy(budget_fraction=0.2))
    assert tight.plans == {"A": 10} and tight.router.resolved == 6


def test_folds_partition_and_are_seeded(tmp_path: Path) -> None:
    tasks, _ = load(*write_dataset(tmp_path))
    folds = folds_of(tasks, 5, seed=0)
    ids = [t.id for fold in folds for t in fold]
    assert sorted(ids) == sorted(t.id for t in tasks) and len(set(ids)) == 10
    assert [len(f) for f in folds] == [2] * 5
    assert folds_of(tasks, 5, seed=0) == folds and folds_of(tasks, 5, seed=1) != folds
    with pytest.raises(UsageError):
        folds_of(tasks, 11, seed=0)


def test_bad_input_is_a_usage_error(tmp_path: Path) -> None:
    tasks, runs = write_dataset(tmp_path)
    with pytest.raises(UsageError, match="cannot read"):
        load(tmp_path / "missing.jsonl", runs)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "t0", "model": "A"}\n')
    with pytest.raises(UsageError, match="bad.jsonl:1"):
        load(tasks, bad)


def test_cli_json_and_errors(tmp_path: Path) -> None:
    tasks, runs = write_dataset(tmp_path)
    args = ["bench", "routing", "--tasks", str(tasks), "--runs", str(runs), "--json",
            "--detect-recall", "1", "--false-alarm", "0", "--review-cost", "0"]
    result = CliRunner().invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["router"]["resolved"] == 9 and Decimal(data["router"]["cost_usd"]) == Decimal("4.10")
    assert data["oracle"]["resolved"] == 9 and data["best_single"] == "B"
    assert data["detection"]["flagged_last_succeeds"] is True
    bad = CliRunner().invoke(build_app(), [*args, "--flagged-last", "maybe"])
    assert bad.exit_code == 2 and bad.stderr.startswith("error: --flagged-last")
    table = CliRunner().invoke(build_app(), args[:-7])
    assert table.exit_code == 0 and "router" in table.stdout and "oracle" in table.stdout
    missing = CliRunner().invoke(build_app(), ["bench", "routing", "--tasks", str(tmp_path / "no.jsonl"), "--runs", str(runs)])
    assert missing.exit_code == 2
    assert missing.stderr.startswith("error: cannot read") and "Traceback" not in missing.output
