"""Small pure pieces: path confinement, truncation, JUnit parsing, base/head comparison, prices, budgets."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from harness.budget import Meter
from harness.config import BudgetsConfig, ModelConfig
from harness.errors import BudgetExceeded, PathOutsideRepo, PriceUnknownError
from harness.memory import Memory
from harness.models.pricing import Prices, resolve_prices
from harness.records import CallLog, ModelReply, ModelRequest, Message, TestReport, Usage
from harness.sandbox.paths import confine
from harness.testrun import compare, parse_junit
from harness.tools import truncate


@pytest.mark.parametrize("path", ["../x", "a/../../x", "/etc/passwd", "~/x", "a\x00b"])
def test_confine_refuses_escapes(path: str) -> None:
    with pytest.raises(PathOutsideRepo):
        confine(path, "/repo")


def test_confine_normalises_inside_paths() -> None:
    assert confine("a/./b/../c.py", "/repo") == "/repo/a/c.py"
    assert confine("", "/repo") == "/repo"


def test_truncate_keeps_head_and_tail_and_says_so() -> None:
    text = "".join(f"line {i}\n" for i in range(1000))
    cut = truncate(text, 600)
    assert cut.startswith("line 0\n") and cut.endswith("line 999\n")
    assert "[... truncated" in cut and len(cut) < 700
    assert truncate("short", 600) == "short"


JUNIT = """<testsuites><testsuite>
<testcase classname="tests.test_a" name="test_ok"/>
<testcase classname="tests.test_a.TestThing" name="test_bad"><failure message="x"/></testcase>
<testcase classname="tests.test_b" name="test_err"><error message="y"/></testcase>
<testcase classname="tests.test_b" name="test_skip"><skipped/></testcase>
</testsuite></testsuites>"""


def test_junit_names_become_pytest_node_ids() -> None:
    outcomes = parse_junit(JUNIT, {"tests/test_a.py", "tests/test_b.py"})
    assert outcomes == {"tests/test_a.py::test_ok": "passed", "tests/test_a.py::TestThing::test_bad": "failed",
                        "tests/test_b.py::test_err": "error", "tests/test_b.py::test_skip": "skipped"}
    assert parse_junit("not xml") == {}


def report(**outcomes: str) -> TestReport:
    failed = sum(o == "failed" for o in outcomes.values())
    return TestReport(exit_code=1 if failed else 0, passed=sum(o == "passed" for o in outcomes.values()),
                      failed=failed, outcomes=outcomes)


def test_compare_tells_new_failures_from_old_ones() -> None:
    base = report(a="passed", b="failed", c="passed", d="passed")
    head = report(a="failed", b="failed", c="passed", e="passed")
    result = compare(base, head)
    assert result.new_failures == ["a"] and result.still_failing == ["b"]
    assert result.new_tests == ["e"] and result.missing == ["d"]
    assert not result.ok
    fixed = compare(base, report(a="passed", b="passed", c="passed", d="passed"))
    assert fixed.fixed == ["b"] and fixed.ok
    # A failure that was already there on base does not make head untrustworthy on its own.
    assert compare(base, report(a="passed", b="failed", c="passed", d="passed")).ok


def test_prices_cost_and_worst_case() -> None:
    prices = Prices(input_per_mtok=Decimal(3), output_per_mtok=Decimal(15), cache_read_per_mtok=Decimal("0.3"),
                    cache_write_per_mtok=Decimal("3.75"))
    usage = Usage(input_tokens=1000, output_tokens=200, cache_read_tokens=10_000, cache_write_tokens=2000)
    assert prices.cost(usage) == Decimal("0.0030") + Decimal("0.0030") + Decimal("0.0030") + Decimal("0.0075")
    assert prices.worst_case(1000, 100) == (1000 * Decimal("3.75") + 100 * 15) / 1_000_000


def test_price_table_and_unknown_price() -> None:
    table = resolve_prices("s", ModelConfig(provider="anthropic", model="claude-sonnet-4-5"))
    assert table.input_per_mtok == 3 and table.cache_read_per_mtok < table.input_per_mtok
    override = resolve_prices("s", ModelConfig(provider="anthropic", model="claude-sonnet-4-5", output_per_mtok=1))
    assert override.output_per_mtok == 1 and override.input_per_mtok == 3
    with pytest.raises(PriceUnknownError, match="no known price"):
        resolve_prices("x", ModelConfig(provider="openai", model="surely-not-a-model"))


class OneShot:
    provider = "openai"
    model = "m"

    def __init__(self) -> None:
        self.calls = 0

    def complete(self, request: ModelRequest) -> ModelReply:
        self.calls += 1
        return ModelReply(text="hi", usage=Usage(input_tokens=1000, output_tokens=100))

    def close(self) -> None:
        pass


def test_daily_budget_counts_earlier_runs(tmp_path: Path) -> None:
    prices = {"m": Prices(input_per_mtok=Decimal(1), output_per_mtok=Decimal(4), cache_read_per_mtok=Decimal(1),
                          cache_write_per_mtok=Decimal(1))}
    request = ModelRequest(system="s", messages=[Message(role="user", text="x")], max_tokens=100)
    with Memory(tmp_path / "m.db") as memory:
        earlier = memory.start_run("do", "/r", "x", None)
        memory.record_call(earlier, None, CallLog(role="implementer", model="m", provider="openai", usage=Usage(),
                                                  cost_usd=Decimal("0.9998"), latency_ms=1, outcome="ok"))
        run = memory.start_run("do", "/r", "y", None)
        client = OneShot()
        meter = Meter(memory, run, BudgetsConfig(task_usd=Decimal(1), run_usd=Decimal(1), day_usd=Decimal(1)), prices)
        with pytest.raises(BudgetExceeded, match="day budget"):
            meter.call("implementer", "m", client, request)
        assert client.calls == 0
        roomy = Meter(memory, run, BudgetsConfig(day_usd=Decimal(2)), prices)
        roomy.call("implementer", "m", client, request)
        assert memory.run_spend(run) == Decimal("0.0014")


def test_a_branch_name_taken_at_the_last_moment_is_not_lost(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness import gitops
    from tests.conftest import git

    git(tmp_path, "init", "-q")
    (tmp_path / "a.txt").write_text("one\n")
    git(tmp_path, "add", "a.txt")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base")
    base = git(tmp_path, "rev-parse", "HEAD").strip()
    patch = b"--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-one\n+two\n"
    free = gitops.free_branch_name

    def rival_takes_it(repo: Path, wanted: str) -> str:
        name = free(repo, wanted)
        if name == wanted:  # another run creates the same branch between the check and our commit
            git(repo, "branch", wanted, base)
        return name

    monkeypatch.setattr(gitops, "free_branch_name", rival_takes_it)
    branch = gitops.commit_to_new_branch(tmp_path, base, patch, "harness/x", "msg")

    assert branch == "harness/x-2"
    assert git(tmp_path, "show", f"{branch}:a.txt") == "two\n"
    assert git(tmp_path, "rev-parse", "harness/x").strip() == base  # the rival's branch is untouched
