"""Which past runs `harness eval` re-runs, and how its summary adds up."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from harness.evaluate import EvalItem, _summary, past_tasks
from harness.memory import Memory
from tests.memory_support import call


def test_past_tasks_are_judged_production_runs_of_this_repo_newest_first_once_each(tmp_path: Path) -> None:
    with Memory(tmp_path / "m.db") as m:
        def run(kind: str, request: str, base: str | None, status: str, repo: str = "/repo", when: str = "") -> str:
            run_id = m.start_run(kind, repo, request, base)
            m.record_call(run_id, None, call("implementer", "cheap", Decimal("0.25")))
            m.finish_run(run_id, status, "", {}, implementer="cheap", reviewer="strong")
            m.db.execute("UPDATE runs SET started_at = ? WHERE id = ?", (when, run_id))
            return run_id

        old = run("do", "fix a", "c1", "trusted", when="2025-01-01")
        run("do", "fix a", "c1", "not_trusted", when="2024-12-01")  # same request and base: older duplicate
        newer = run("queue", "fix b", "c2", "not_trusted", when="2025-02-01")
        run("eval", "fix c", "c3", "trusted", when="2025-03-01")  # an evaluation is not a past task
        run("do", "fix d", "c4", "error", when="2025-03-02")  # no verdict
        run("do", "fix e", None, "trusted", when="2025-03-03")  # no base commit
        run("do", "fix f", "c5", "trusted", repo="/other", when="2025-03-04")
        got = past_tasks(m, Path("/repo"), 10)
        assert [(p.run_id, p.request, p.base_commit, p.cost_usd) for p in got] == [
            (newer, "fix b", "c2", Decimal("0.25")), (old, "fix a", "c1", Decimal("0.25"))]
        assert [p.run_id for p in past_tasks(m, Path("/repo"), 1)] == [newer]


def test_summary_adds_up() -> None:
    def item(status: str, cost: str, then: str, then_cost: str) -> EvalItem:
        return EvalItem(source_run="r", eval_run="e", request="x", status=status, trusted=status == "trusted",
                        cost_usd=Decimal(cost), original_status=then, original_implementer="cheap",
                        original_cost_usd=Decimal(then_cost))

    report = _summary("new", [item("trusted", "0.30", "trusted", "1.00"), item("not_trusted", "0.10", "trusted", "0.50"),
                              item("trusted", "0.20", "not_trusted", "0.70")], [])
    assert (report.tasks, report.trusted, report.cost_usd, report.cost_per_trusted_usd) == (
        3, 2, Decimal("0.60"), Decimal("0.300000"))
    assert (report.original_trusted, report.original_cost_usd, report.original_cost_per_trusted_usd) == (
        2, Decimal("2.20"), Decimal("1.100000"))
