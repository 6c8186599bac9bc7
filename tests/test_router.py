"""The router: cascade choice from outcome stats, reviewer rules, forced choices, unpriced models, CLI JSON."""

import json
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cascade import Outcome, OutcomeStats
from harness.classify import Classification
from harness.cli import build_app
from harness.config import HarnessConfig
from harness.errors import ConfigError, PriceUnknownError
from harness.memory import Memory
from harness.router import RoutePlan, outcome_stats, plan_route
from tests.conftest import run_cli
from tests.fake_models import FakeModels, reply, tool
from tests.memory_support import call

TOML = """
[models.cheap]
provider = "openai"
model = "cheap-x"
tier = "cheap"
input_per_mtok = 0.1
output_per_mtok = 0.4

[models.mid]
provider = "openai"
model = "mid-x"
tier = "mid"
input_per_mtok = 1
output_per_mtok = 4

[models.strong]
provider = "anthropic"
model = "strong-x"
tier = "frontier"
input_per_mtok = 5
output_per_mtok = 25

[models.mystery]
provider = "scripted"
model = "mystery"
script = "nowhere.json"

[roles]
implementer = "strong"
reviewer = "mid"
"""
MEDIUM = "15 min - 1 hour"


@pytest.fixture
def config(tmp_path: Path) -> HarnessConfig:
    import tomllib

    return HarnessConfig.model_validate(tomllib.loads(TOML))


def bug(difficulty: str = MEDIUM) -> Classification:
    return Classification(kind="bug_fix", difficulty=difficulty, confidence=0.9, features={})


def fixture_stats(n: int = 20) -> OutcomeStats:
    """cheap solves 70% at $0.05, mid 60% at $0.30, strong 90% at $1.00; strong solves most of cheap's misses."""
    outcomes = []
    for i in range(n):
        group = f"t{i}"
        for model, solved, cost in (("cheap", i < 14, 0.05), ("mid", i < 12, 0.30), ("strong", i < 18, 1.0)):
            outcomes.append(Outcome(group=group, kind="bug_fix", difficulty=MEDIUM, model=model,
                                    success=solved, cost_usd=cost))
    return OutcomeStats(outcomes=outcomes, review_cost_usd=0.02)


def test_learned_cascade_is_cheap_first_then_strong(config: HarnessConfig) -> None:
    plan = plan_route(bug(), config, fixture_stats())
    # mid adds nothing strong does not already cover, so the plan stops at two steps.
    assert plan.cascade == ["cheap", "strong"]
    assert plan.implementer == "cheap"
    # By hand, recall 0.8, false alarm 0.05, review $0.02 per attempt, over the 20 recorded tasks:
    # 14 cheap wins: 0.95 accepted + 0.05 flagged -> strong wins (0.95);  4 tasks only strong wins: 0.8 * 0.95;
    # 2 nobody wins.  cost: 0.07 each, plus strong's 1.02 on 0.05 of 14 tasks and 0.8 of 6 tasks.
    assert plan.expected_success == pytest.approx((14 * (0.95 + 0.05 * 0.95) + 4 * 0.8 * 0.95) / 20, abs=1e-4)
    assert plan.expected_cost_usd == pytest.approx((20 * 0.07 + (14 * 0.05 + 6 * 0.8) * 1.02) / 20, abs=1e-4)
    by_model = {c.model: c for c in plan.candidates}
    assert by_model["strong"].success == pytest.approx(0.9 * 0.95, abs=1e-4)
    assert by_model["cheap"].cost_usd == pytest.approx(0.07, abs=1e-4)
    assert by_model["cheap"].observed == 20


def test_deterministic(config: HarnessConfig) -> None:
    assert plan_route(bug(), config, fixture_stats()) == plan_route(bug(), config, fixture_stats())


def test_reviewer_prefers_other_provider_then_configured(config: HarnessConfig) -> None:
    plan = plan_route(bug(), config, fixture_stats())
    assert plan.reviewer_for("cheap") == "strong"  # other provider, strongest
    assert plan_route(bug(), config, fixture_stats(), force_implementer="strong").reviewer == "mid"  # configured


def _all_plans(config: HarnessConfig) -> list[RoutePlan]:
    plans = []
    for stats in (None, fixture_stats(), fixture_stats(5)):
        for difficulty in ("<15 min fix", MEDIUM, "1-4 hours", ">4 hours"):
            for impl in (None, "cheap", "mid", "strong"):
                for rev in (None, "cheap", "mid", "strong"):
                    if impl is not None and impl == rev:
                        continue
                    plans.append(plan_route(bug(difficulty), config, stats, impl, rev))
    return plans


def test_reviewer_never_equals_implementer_in_any_plan(config: HarnessConfig) -> None:
    plans = _all_plans(config)
    assert len(plans) == 3 * 4 * 13
    for plan in plans:
        assert plan.reviewer != plan.implementer
        assert plan.cascade[0] == plan.implementer
        assert set(plan.reviewers) == set(plan.cascade)
        for step in plan.cascade:
            assert plan.reviewer_for(step) != step


def test_unpriced_model_is_never_routed_to(config: HarnessConfig) -> None:
    for plan in _all_plans(config):
        assert "mystery" not in plan.cascade
        assert "mystery" not in plan.reviewers.values()
        assert "mystery" not in {c.model for c in plan.candidates}
    with pytest.raises(PriceUnknownError):
        plan_route(bug(), config, None, force_implementer="mystery")
    with pytest.raises(PriceUnknownError):
        plan_route(bug(), config, None, force_reviewer="mystery")


def test_forced_choices(config: HarnessConfig) -> None:
    plan = plan_route(bug(), config, fixture_stats(), force_implementer="mid", force_reviewer="cheap")
    assert plan.implementer == "mid" and plan.reviewer == "cheap" and plan.forced
    assert "cheap" not in plan.cascade
    with pytest.raises(ConfigError, match="not a configured"):
        plan_route(bug(), config, None, force_implementer="gpt-99")
    with pytest.raises(ConfigError, match="different model"):
        plan_route(bug(), config, None, force_implementer="mid", force_reviewer="mid")


def test_new_model_explored_a_bounded_amount(config: HarnessConfig) -> None:
    fresh = config.model_copy(deep=True)
    fresh.models["fresh"] = fresh.models["mid"].model_copy(update={"model": "fresh-x"})
    plan = plan_route(bug(), fresh, fixture_stats())
    line = {c.model: c for c in plan.candidates}["fresh"]
    assert line.observed == 0 and line.success == pytest.approx((0.6 + 0.1) * 0.95, abs=1e-4)  # prior + bonus
    failures = [Outcome(group=f"f{i}", kind="bug_fix", difficulty=MEDIUM, model="fresh", success=False, cost_usd=0.3)
                for i in range(30)]
    stats = fixture_stats()
    stats = OutcomeStats(outcomes=stats.outcomes + failures, review_cost_usd=0.02)
    plan = plan_route(bug(), fresh, stats)
    line = {c.model: c for c in plan.candidates}["fresh"]
    assert line.success < 0.1  # 30 failures outweigh the prior; the bonus has faded to ~0.01
    assert plan.cascade[:2] == ["cheap", "strong"]  # at most a last resort after the proven models


def test_outcome_stats_from_memory(tmp_path: Path) -> None:
    with Memory(tmp_path / "m.db") as memory:
        run = memory.start_run("do", "/repo", "fix it", None)
        first = memory.start_task(run, "fix it", "cheap", "strong", 1, "bug_fix", "<15 min fix")
        memory.record_call(run, first, call("implementer", "cheap", Decimal("0.10")))
        memory.record_call(run, first, call("reviewer", "strong", Decimal("0.04")))
        memory.finish_task(first, "not_trusted", False, "rejected", None)
        second = memory.start_task(run, "fix it", "strong", "mid", 2, "bug_fix", "<15 min fix")
        memory.record_call(run, second, call("implementer", "strong", Decimal("0.90")))
        memory.record_call(run, second, call("implementer", "strong", Decimal("0.30")))
        memory.record_call(run, second, call("reviewer", "mid", Decimal("0.02")))
        memory.finish_task(second, "trusted", True, "", "diff")
        memory.start_task(run, "other", "mid", "cheap")  # still running: ignored
        # An eval run of the same request at the same base joins the same group; another base does not.
        again = memory.start_run("eval", "/repo", "fix it", None)
        memory.finish_task(memory.start_task(again, "fix it", "new", "strong", 1, "bug_fix", "<15 min fix"),
                           "trusted", True, "", "diff")
        elsewhere = memory.start_run("eval", "/repo", "fix it", "abc123")
        memory.finish_task(memory.start_task(elsewhere, "fix it", "new", "strong", 1, "bug_fix", "<15 min fix"),
                           "not_trusted", False, "", "diff")
        stats = outcome_stats(memory)
    got = sorted((o.model, o.success, round(o.cost_usd, 6), o.difficulty) for o in stats.outcomes)
    assert got == [("cheap", False, 0.1, "<15 min fix"), ("new", False, 0.0, "<15 min fix"),
                   ("new", True, 0.0, "<15 min fix"), ("strong", True, 1.2, "<15 min fix")]
    groups = {(o.model, o.success): o.group for o in stats.outcomes}
    assert groups[("cheap", False)] == groups[("strong", True)] == groups[("new", True)] != groups[("new", False)]
    assert stats.review_cost_usd == pytest.approx(0.015)  # $0.06 of review over 4 attempts


def test_route_json_schema(tmp_path: Path) -> None:
    (tmp_path / "harness.toml").write_text(TOML)
    result = CliRunner().invoke(build_app(), ["route", "Fix the crash in parser.py", "--json", "--repo", str(tmp_path)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"implementer", "reviewer", "cascade", "reviewers", "classification", "candidates",
                         "expected_success", "expected_cost_usd", "expected_cost_per_trusted_usd", "forced"}
    assert set(data["classification"]) == {"kind", "difficulty", "confidence", "features"}
    assert data["cascade"][0] == data["implementer"] and data["reviewer"] != data["implementer"]
    for line in data["candidates"]:
        assert set(line) == {"model", "provider", "tier", "success", "cost_usd", "cost_per_trusted_usd", "observed"}
        assert 0 <= line["success"] <= 1 and line["cost_usd"] > 0
    assert {c["model"] for c in data["candidates"]} == {"cheap", "mid", "strong"}
    assert not (tmp_path / "memory").exists()  # route never creates the database
    RoutePlan.model_validate(data)


def test_route_bad_forced_model_is_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "harness.toml").write_text(TOML)
    result = CliRunner().invoke(build_app(), ["route", "x", "--implementer", "nope", "--repo", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert "Traceback" not in result.output


def test_cascade_search_matches_estimate_and_budget_choice() -> None:
    from harness.cascade import CascadeModel, DetectionModel, Prior, choose

    # Two past requests: A solves r1 only ($0.10), B solves both ($1.00).
    stats = OutcomeStats(outcomes=[
        Outcome(group=g, kind="bug_fix", difficulty="<15 min fix", model=m, success=ok, cost_usd=c)
        for g, m, ok, c in (("r1", "A", True, 0.1), ("r2", "A", False, 0.1), ("r1", "B", True, 1.0), ("r2", "B", True, 1.0))
    ])
    priors = {m: Prior(success=0.5, cost_usd=0.5) for m in ("A", "B")}
    for delivered in (False, True):
        detection = DetectionModel(recall=0.8, false_alarm=0.05, review_cost_usd=0.0, flagged_last_succeeds=delivered)
        model = CascadeModel(stats, "bug_fix", "<15 min fix", priors, detection)
        found = {tuple(e.cascade): e for e in model.search(2, 2)}
        for cascade, e in found.items():
            direct = model.estimate(list(cascade))
            assert (e.success, e.cost_usd) == pytest.approx((direct.success, direct.cost_usd))
        # By hand: A -> B over r1, r2 (weight 1 each): r1 A wins (0.95) or is flagged (0.05) and B wins;
        # r2 A is caught (0.8) and B wins. B's last win counts 1 when a flagged last patch is delivered.
        last = 1.0 if delivered else 0.95
        assert found[("A", "B")].success == pytest.approx((0.95 + 0.05 * last + 0.8 * last) / 2)
        assert found[("A", "B")].cost_usd == pytest.approx((0.1 + 0.05 * 1.0 + 0.1 + 0.8 * 1.0) / 2)
    # B alone costs $1.00: within 60% of it, A -> B ($0.525) is the most likely plan; within 20%, only A.
    estimates = list(found.values())
    assert choose(estimates, 7.0, 10.0, budget_fraction=0.6).cascade == ["A", "B"]
    assert choose(estimates, 7.0, 10.0, budget_fraction=0.2).cascade == ["A"]


def test_failures_not_caused_by_the_implementer_do_not_count_against_it(tmp_path: Path) -> None:
    from harness.attribution import record_attribution
    from harness.router import outcome_stats

    with Memory(tmp_path / "m.db") as memory:
        blames = {"execution": "the change broke things", "review": "the reviewer raised a false positive",
                  "infra": "infrastructure: sandbox failed", "gate": "payments/ needs a human"}
        ids = {}
        for name, reason in blames.items():
            run = memory.start_run("do", "/r", f"request {name}", "base")
            task = memory.start_task(run, f"request {name}", "cheap", "strong")
            memory.finish_task(task, "not_trusted", False, reason, "")
            stage = {"infra": "execution", "gate": "escalation"}.get(name, name)
            evidence = [f"risk:{run}"] if name == "gate" else [f"task:{task}"]
            record_attribution(memory, run, task, stage, reason, evidence)
            ids[name] = task
        stats = outcome_stats(memory)
    by_group = [(o.model, o.success) for o in stats.outcomes]
    assert len(ids) == 4
    # Only the implementer's own failure counts as one; the gated change counts as a success.
    assert sorted(by_group) == [("cheap", False), ("cheap", True)]


def test_harness_do_runs_the_plan_harness_route_shows(repo: Path, fake: FakeModels) -> None:
    # Memory's labelled history teaches the classifier a kind and difficulty the seeds alone would not give.
    request = "frobnicate the quux widget"
    with Memory(repo / "memory" / "harness.db") as memory:
        run_id = memory.start_run("do", str(repo), "history", None)
        for _ in range(40):
            memory.start_task(run_id, request, "gpt", "claude", 1, "docs", "1-4 hours")
    fake.script("openai", reply(tool("finish", summary="nothing to do")))

    shown = json.loads(run_cli("route", request, "--json", cwd=repo).stdout)["classification"]
    done = run_cli("do", request, "--json", cwd=repo)

    assert (shown["kind"], shown["difficulty"]) == ("docs", "1-4 hours")
    result = json.loads(done.stdout)
    row = sqlite3.connect(repo / "memory" / "harness.db").execute(
        "SELECT task_kind, difficulty FROM tasks WHERE run_id = ?", (result["run_id"],)).fetchone()
    assert row == ("docs", "1-4 hours")


def test_a_persons_label_outweighs_the_classifiers_own(repo: Path) -> None:
    request = "frobnicate the quux widget"
    with Memory(repo / "memory" / "harness.db") as memory:
        guessed = memory.start_run("do", str(repo), request, None)
        for _ in range(6):  # six of the classifier's own guesses...
            memory.start_task(guessed, request, "gpt", "claude", 1, "docs", "<15 min fix")
        corrected = memory.start_run("do", str(repo), request, None)
        for _ in range(3):  # ...against one run of three tasks that a person relabels
            memory.start_task(corrected, request, "gpt", "claude", 1, "docs", "<15 min fix")

    before = json.loads(run_cli("route", request, "--json", cwd=repo).stdout)["classification"]
    done = run_cli("label", corrected, "--kind", "refactor", "--difficulty", "1-4 hours", cwd=repo)
    after = json.loads(run_cli("route", request, "--json", cwd=repo).stdout)["classification"]

    assert done.returncode == 0 and "3 task(s) labelled refactor, 1-4 hours" in done.stdout
    assert (before["kind"], before["difficulty"]) == ("docs", "<15 min fix")
    assert (after["kind"], after["difficulty"]) == ("refactor", "1-4 hours")


def test_label_rejects_unknown_values_and_runs_in_one_line(repo: Path) -> None:
    with Memory(repo / "memory" / "harness.db") as memory:
        run_id = memory.start_run("do", str(repo), "x", None)
    bad_kind = run_cli("label", run_id, "--kind", "rewrite", cwd=repo)
    bad_run = run_cli("label", "nope", "--kind", "docs", cwd=repo)
    nothing = run_cli("label", run_id, cwd=repo)
    for done, message in ((bad_kind, "error: --kind must be one of: bug_fix"), (bad_run, "error: no run 'nope'"),
                          (nothing, "error: give --kind and/or --difficulty")):
        assert done.returncode == 2 and done.stderr.strip().startswith(message), done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
