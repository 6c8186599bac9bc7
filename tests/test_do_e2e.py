"""`harness do` end to end: real SDK clients against a fake server, real Docker, git and SQLite."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from pathlib import Path

from tests.conftest import FAKE_KEYS, git, run_cli
from tests.fake_models import FakeModels, reply, review, tool

FIX_ADD = tool("edit_file", path="calc.py", old="    return a - b\n", new="    return a + b\n")
ADD_TEST = tool("edit_file", path="tests/test_calc.py", old="from calc import mul\n",
                new="from calc import add, mul\n\n\ndef test_add():\n    assert add(2, 3) == 5\n")
PRICES = {"openai": (Decimal("1.0"), Decimal("4.0"), Decimal("0.1"), Decimal("1.25")),
          "anthropic": (Decimal("3.0"), Decimal("15.0"), Decimal("0.3"), Decimal("3.75"))}


def expected_cost(provider: str, usages: list[dict[str, int]]) -> Decimal:
    """Hand-priced cost of a provider's scripted usages."""
    i, o, cr, cw = PRICES[provider]
    return sum((u["input_tokens"] * i + u["output_tokens"] * o + u["cache_read_tokens"] * cr
                + u["cache_write_tokens"] * cw for u in usages), Decimal(0)) / 1_000_000


def snapshot(repo: Path) -> dict[str, str]:
    """What the user can see of their repo: branch, HEAD, status, index and file contents."""
    files = {p.relative_to(repo).as_posix(): p.read_text() for p in repo.rglob("*")
             if p.is_file() and ".git" not in p.parts and "memory" not in p.parts}
    return {"branch": git(repo, "branch", "--show-current"), "head": git(repo, "rev-parse", "HEAD"),
            "status": git(repo, "status", "--porcelain"), "index": git(repo, "ls-files", "-s"),
            "files": json.dumps(files, sort_keys=True)}


def test_trusted_change_across_providers(repo: Path, fake: FakeModels) -> None:
    impl_usages = [{"input_tokens": 1200, "output_tokens": 80, "cache_read_tokens": 0, "cache_write_tokens": 0},
                   {"input_tokens": 300, "output_tokens": 60, "cache_read_tokens": 1100, "cache_write_tokens": 0},
                   {"input_tokens": 250, "output_tokens": 90, "cache_read_tokens": 1400, "cache_write_tokens": 0},
                   {"input_tokens": 200, "output_tokens": 120, "cache_read_tokens": 1650, "cache_write_tokens": 0},
                   {"input_tokens": 100, "output_tokens": 40, "cache_read_tokens": 1850, "cache_write_tokens": 0}]
    rev_usages = [{"input_tokens": 2000, "output_tokens": 150, "cache_read_tokens": 0, "cache_write_tokens": 1500}]
    fake.script("openai",
                reply(tool("read_file", path="calc.py"), usage=impl_usages[0]),
                reply(tool("read_file", path="tests/test_calc.py"), usage=impl_usages[1]),
                reply(FIX_ADD, usage=impl_usages[2]),
                reply(ADD_TEST, usage=impl_usages[3]),
                reply(tool("finish", summary="add() returns the sum; test added"), usage=impl_usages[4]))
    fake.script("anthropic", review("approve", summary="correct and tested", usage=rev_usages[0]))
    before = snapshot(repo)

    done = run_cli("do", "Fix add() so it returns the sum of its arguments", "--json", cwd=repo)

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "trusted"
    assert result["implementer"] == "gpt" and result["reviewer"] == "claude"
    # The suite's sandbox-only test passed on base and head: the tests really ran in the container.
    assert result["tests"]["base"] == {"passed": 2, "failed": 0}
    assert result["tests"]["head"] == {"passed": 3, "failed": 0}
    assert "tests/test_calc.py::test_add" in result["tests"]["fixed"]
    # Cost equals the priced usage exactly.
    assert Decimal(result["cost_usd"]) == expected_cost("openai", impl_usages) + expected_cost("anthropic", rev_usages)
    # The branch holds the change; the user's tree, index and branch are untouched.
    branch = result["branch"]
    assert branch.startswith("harness/fix-add")
    assert "return a + b" in git(repo, "show", f"{branch}:calc.py")
    assert "def test_add" in git(repo, "show", f"{branch}:tests/test_calc.py")
    assert result["run_id"] in git(repo, "log", "-1", "--format=%B", branch)
    assert snapshot(repo) == before
    # Memory holds the run, every call and the review.
    db = sqlite3.connect(repo / "memory" / "harness.db")
    assert db.execute("SELECT status, branch FROM runs").fetchall() == [("trusted", branch)]
    roles = [r[0] for r in db.execute("SELECT role FROM calls ORDER BY id")]
    assert roles == ["implementer"] * 5 + ["reviewer"]
    assert db.execute("SELECT verdict FROM reviews").fetchall() == [("approve",)]
    # The reviewer was asked through the forced tool, with the diff in the prompt.
    rev_request = fake.requests["anthropic"][0]
    assert rev_request["tool_choice"] == {"type": "tool", "name": "submit_review"}
    assert "return a + b" in json.dumps(rev_request["messages"])


def test_request_changes_leads_to_a_revision(repo: Path, fake: FakeModels) -> None:
    # The other way round: Anthropic implements (streaming tool use), OpenAI reviews.
    fake.script("anthropic", reply(FIX_ADD), reply(tool("finish", summary="fixed")),
                reply(ADD_TEST), reply(tool("finish", summary="fixed and tested")))
    finding = {"path": "calc.py", "line": 6, "severity": "major", "category": "tests",
               "message": "add a test for add()"}
    fake.script("openai", review("request_changes", [finding]), review("approve"))

    done = run_cli("do", "Fix add() so it returns the sum", "--json", "--implementer", "claude",
                   "--reviewer", "gpt", cwd=repo)

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "trusted" and result["rounds"] == 2
    assert (result["implementer"], result["reviewer"]) == ("claude", "gpt")
    # The implementer's third request carries the reviewer's finding as a new user turn,
    # after the earlier turns unchanged (append-only conversation).
    third, second = fake.requests["anthropic"][2], fake.requests["anthropic"][1]
    assert third["messages"][: len(second["messages"]) - 1] == [
        {k: v for k, v in m.items()} for m in second["messages"][:-1]]
    revision_turn = third["messages"][-1]
    assert revision_turn["role"] == "user" and "add a test for add()" in json.dumps(revision_turn["content"])
    assert third["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert "def test_add" in git(repo, "show", f"{result['branch']}:tests/test_calc.py")
    db = sqlite3.connect(repo / "memory" / "harness.db")
    assert [r[0] for r in db.execute("SELECT verdict FROM reviews ORDER BY round")] == ["request_changes", "approve"]
    # The second review is told what the first round found.
    assert "add a test for add()" in json.dumps(fake.requests["openai"][1]["messages"])


def test_rejected_change_is_not_trusted_and_kept_on_a_marked_branch(repo: Path, fake: FakeModels) -> None:
    fake.script("openai", reply(FIX_ADD), reply(ADD_TEST), reply(tool("finish", summary="done")))
    fake.script("anthropic", review("reject", [{"path": "calc.py", "line": 6, "severity": "blocker",
                                                "category": "correctness", "message": "wrong approach"}]))

    done = run_cli("do", "Fix add() so it returns the sum", "--json", cwd=repo)

    assert done.returncode == 1
    result = json.loads(done.stdout)
    assert result["status"] == "not_trusted" and "reject" in result["reason"]
    assert result["branch"].endswith("-untrusted")
    assert "NOT TRUSTED" in git(repo, "log", "-1", "--format=%B", result["branch"])


def test_server_error_then_success_is_retried(repo: Path, fake: FakeModels) -> None:
    fake.script("openai", {"status": 500}, reply(FIX_ADD), reply(ADD_TEST), reply(tool("finish", summary="ok")))
    fake.script("anthropic", {"status": 529}, review("approve"))

    done = run_cli("do", "Fix add() so it returns the sum", "--json", cwd=repo)

    assert done.returncode == 0, done.stderr
    assert len(fake.requests["openai"]) == 4 and len(fake.requests["anthropic"]) == 2
    db = sqlite3.connect(repo / "memory" / "harness.db")
    # The failed attempts were retried inside one call: four priced calls, no duplicate charge.
    assert db.execute("SELECT count(*) FROM calls").fetchone()[0] == 4


def test_provider_down_after_retries_is_exit_4(repo: Path, fake: FakeModels) -> None:
    fake.script("openai", *[{"status": 503}] * 5)

    done = run_cli("do", "Fix add() so it returns the sum", "--json", cwd=repo)

    assert done.returncode == 4
    assert json.loads(done.stdout)["status"] == "error"
    assert "provider unavailable" in done.stderr
    assert len(fake.requests["openai"]) == 3  # one try + max_retries = 2


def test_budget_stops_before_the_call_that_would_cross_it(repo: Path, fake: FakeModels) -> None:
    fake.script("openai", reply(FIX_ADD), reply(ADD_TEST), reply(tool("finish", summary="ok")))
    # 1000 max output tokens at $4/M is $0.004 worst case for one call: a $0.003 cap refuses the first call.
    done = run_cli("do", "Fix add() so it returns the sum", "--json", "--max-cost", "0.003", cwd=repo)

    assert done.returncode == 3
    assert json.loads(done.stdout)["status"] == "budget_exceeded"
    assert "budget exceeded" in done.stderr
    assert fake.requests["openai"] == []


def test_budget_keeps_work_done_before_it_ran_out(repo: Path, fake: FakeModels) -> None:
    big = {"input_tokens": 1000, "output_tokens": 1000, "cache_read_tokens": 0, "cache_write_tokens": 0}
    fake.script("openai", reply(FIX_ADD, usage=big), reply(ADD_TEST, usage=big), reply(tool("finish", summary="ok")))
    # Per task: each call costs $0.005 and could cost ~$0.0055; a $0.009 task budget allows exactly one.
    (repo / "harness.toml").write_text((repo / "harness.toml").read_text() + "\n[budgets]\ntask_usd = 0.009\n")
    git(repo, "commit", "-qam", "budget")

    done = run_cli("do", "Fix add() so it returns the sum", "--json", cwd=repo)

    assert done.returncode == 3
    result = json.loads(done.stdout)
    assert len(fake.requests["openai"]) == 1
    assert Decimal(result["cost_usd"]) == Decimal("0.005")
    assert "return a + b" in git(repo, "show", f"{result['branch']}:calc.py")


def test_tool_path_outside_repo_is_refused(repo: Path, fake: FakeModels) -> None:
    fake.script("openai", reply(tool("read_file", path="../../etc/passwd")),
                reply(tool("write_file", path="/tmp/evil.txt", content="x")),
                reply(tool("run", command="ln -s /etc link")),
                reply(tool("read_file", path="link/passwd")),
                reply(tool("finish", summary="nothing")))
    fake.script("anthropic", review("approve"))

    run_cli("do", "Fix add() so it returns the sum", "--json", cwd=repo)

    results = [r["messages"][-1]["content"] for r in fake.requests["openai"][1:]]
    assert "outside the repository" in results[0]
    assert "absolute" in results[1]
    assert "outside the repository" in results[3]
    assert "root:" not in "".join(results)


def test_sandbox_has_no_keys_and_no_network(repo: Path, fake: FakeModels) -> None:
    fake.script("openai", reply(tool("run", command="env; echo ---; ls /sys/class/net; echo ---; id -u")),
                reply(tool("finish", summary="looked around")))

    run_cli("do", "Fix add() so it returns the sum", "--json", cwd=repo,
            env={"MY_SERVICE_TOKEN": "tok-very-secret-value-123"})

    output = fake.requests["openai"][1]["messages"][-1]["content"]
    env_part, net_part, uid_part = output.split("---")
    for secret in [*FAKE_KEYS.values(), "tok-very-secret-value-123"]:
        assert secret not in output
    assert "OPENAI_API_KEY" not in env_part and "ANTHROPIC_API_KEY" not in env_part
    assert net_part.split() == ["lo"]
    assert uid_part.strip() == "1000"
