"""`harness eval` end to end: a past run re-run with a candidate model at its recorded base commit.

Real SDK clients against the fake model server, real Docker sandbox, git and SQLite.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from harness.memory import Memory
from harness.router import outcome_stats
from tests.conftest import git, run_cli
from tests.fake_models import FakeModels, reply, review, tool
from tests.test_do_e2e import ADD_TEST, FIX_ADD, snapshot


def test_eval_reruns_a_past_task_at_its_base_and_keeps_it_apart(repo: Path, fake: FakeModels) -> None:
    # Production: gpt implements, claude reviews, trusted.
    fake.script("openai", reply(FIX_ADD), reply(ADD_TEST), reply(tool("finish", summary="fixed")))
    fake.script("anthropic", review("approve"))
    done = run_cli("do", "Fix add() so it returns the sum", "--json", cwd=repo)
    assert done.returncode == 0, done.stderr
    production = json.loads(done.stdout)
    base = git(repo, "rev-parse", "HEAD").strip()
    # The repo moves on: HEAD now already has the fix, so only a run from the recorded base can redo it.
    (repo / "calc.py").write_text((repo / "calc.py").read_text().replace("return a - b", "return a + b"))
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "later work")
    branches = git(repo, "branch", "--list")
    before = snapshot(repo)

    # The candidate (claude) implements; the original reviewer is the candidate, so gpt reviews.
    fake.script("anthropic", reply(FIX_ADD), reply(ADD_TEST), reply(tool("finish", summary="fixed")))
    fake.script("openai", review("approve", summary="correct"))
    done = run_cli("eval", "--model", "claude", "--tasks", "5", "--json", cwd=repo)

    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["model"], report["tasks"], report["trusted"], report["original_trusted"]) == ("claude", 1, 1, 1)
    item = report["items"][0]
    assert item["source_run"] == production["run_id"] and item["original_implementer"] == "gpt"
    assert item["status"] == "trusted"
    # Judged like any run: tests ran in the sandbox, the reviewer (another model) saw the diff.
    assert "return a + b" in json.dumps(fake.requests["openai"][-1]["messages"])
    assert fake.requests["openai"][-1]["tool_choice"]["function"]["name"] == "submit_review"
    db = sqlite3.connect(repo / "memory" / "harness.db")
    runs = db.execute("SELECT kind, base_commit, implementer, reviewer, status FROM runs ORDER BY started_at").fetchall()
    assert runs == [("do", base, "gpt", "claude", "trusted"), ("eval", base, "claude", "gpt", "trusted")]
    diff = db.execute("SELECT t.diff FROM tasks t JOIN runs r ON r.id = t.run_id WHERE r.kind = 'eval'").fetchone()[0]
    assert "-    return a - b" in diff and "+    return a + b" in diff
    # No branch left behind and the user's tree untouched; the eval's cost is recorded.
    assert git(repo, "branch", "--list") == branches
    assert snapshot(repo) == before
    eval_spend = db.execute("SELECT count(*) FROM calls c JOIN runs r ON r.id = c.run_id WHERE r.kind = 'eval'").fetchone()[0]
    assert eval_spend == 4  # three implementer calls and one review
    # The report leaves the eval run out unless asked; the router learns from it, grouped with the original.
    plain = json.loads(run_cli("report", "--json", cwd=repo).stdout)
    both = json.loads(run_cli("report", "--json", "--include-eval", cwd=repo).stdout)
    assert (plain["total"]["attempts"], both["total"]["attempts"]) == (1, 2)
    assert plain["total"]["spend_usd"] == production["cost_usd"]
    with Memory(repo / "memory" / "harness.db") as memory:
        stats = outcome_stats(memory)
    assert sorted((o.model, o.success) for o in stats.outcomes) == [("claude", True), ("gpt", True)]
    assert len({o.group for o in stats.outcomes}) == 1


def test_eval_refuses_bad_input(repo: Path, fake: FakeModels) -> None:
    unknown = run_cli("eval", "--model", "nope", cwd=repo)
    assert unknown.returncode == 2 and unknown.stderr.startswith("error: --model 'nope'")
    empty = run_cli("eval", "--model", "claude", cwd=repo)
    assert empty.returncode == 2 and "no memory database" in empty.stderr
    assert fake.requests == {"anthropic": [], "openai": []}
