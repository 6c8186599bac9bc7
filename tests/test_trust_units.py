"""Units of the trust layer: grounding of `patterns` findings, dedup across rounds, the decision
policy (revise / escalate to a stronger tier / reject) and the reviewer's base-version context."""

from __future__ import annotations

import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from harness import gitops
from harness.config import ReviewConfig
from harness.decide import after_attempt, decide
from harness.records import Finding, Review, TestComparison, TestReport
from harness.review import against_earlier, cited_locations, parse_review
from harness.review_context import build_review_context
from tests.conftest import git

TIERS = {"cheap1": "cheap", "cheap2": "cheap", "mid1": "mid", "top1": "frontier"}


def finding(**kw: object) -> dict:
    base = {"path": "calc.py", "line": 3, "severity": "major", "category": "correctness", "message": "wrong"}
    return {**base, **kw}


def passing() -> TestComparison:
    report = TestReport(exit_code=0, passed=1, outcomes={"t.py::test_a": "passed"})
    return TestComparison(base=report, head=report)


def test_patterns_finding_without_a_citation_is_downgraded_to_a_nit() -> None:
    review = parse_review({"verdict": "request_changes", "summary": "s", "findings": [
        finding(category="patterns", message="does not match the repo's style"),
        finding(category="patterns", message="errors here are raised as ValueError, see calc/core.py:12"),
        finding(category="patterns", line=3, message="compare calc.py:3"),  # cites only itself
    ]}, "r", 1, 7)
    by_message = {f.message.split(" [")[0]: f for f in review.findings}
    assert by_message["does not match the repo's style"].severity == "nit"
    assert "ungrounded" in by_message["does not match the repo's style"].message
    assert by_message["errors here are raised as ValueError, see calc/core.py:12"].severity == "major"
    assert by_message["compare calc.py:3"].severity == "nit"


def test_findings_are_ordered_by_severity_deduplicated_and_capped() -> None:
    raw = [finding(severity="nit", message=f"nit {i}", line=i) for i in range(5)]
    raw += [finding(severity="blocker", message="crash"), finding(severity="minor", message="name"),
            finding(severity="blocker", message="crash"), finding(severity="major", message="no test")]
    review = parse_review({"verdict": "request_changes", "summary": "", "findings": raw}, "r", 1, 4)
    assert [f.severity for f in review.findings] == ["blocker", "major", "minor", "nit"]
    assert [f.message for f in review.findings][:2] == ["crash", "no test"]


def test_cited_locations() -> None:
    assert cited_locations("see pkg/mod.py:12 and `tests/test_x.py:3`, not v1.2") == [
        ("pkg/mod.py", 12), ("tests/test_x.py", 3)]


def test_rereview_drops_fixed_echoes_but_keeps_open_ones() -> None:
    earlier = [Finding(**finding(message="add a regression test for add()", category="tests"))]
    echo = Finding(**finding(message="Add a regression test for add().", category="tests", line=9))
    new = Finding(**finding(message="off by one in the loop"))
    approve = Review(verdict="approve", summary="", findings=[echo, new])
    assert against_earlier(approve, earlier, revised=True).findings == [new]
    # Not revised, or still asking for changes: the repeated point is still open, and says so.
    for review, revised in ((approve, False), (approve.model_copy(update={"verdict": "request_changes"}), True)):
        kept = against_earlier(review, earlier, revised=revised).findings
        assert len(kept) == 2 and kept[0].message.endswith("(still open from an earlier round)")


def test_round_decision_revises_then_hands_over() -> None:
    config = ReviewConfig(max_revisions=1)
    changes = Review(verdict="request_changes", summary="", findings=[Finding(**finding())])
    assert decide(passing(), [], changes, True, 1, config).action == "revise"
    assert decide(passing(), [], changes, True, 2, config).action == "escalate"
    rejected = changes.model_copy(update={"verdict": "reject"})
    assert decide(passing(), [], rejected, True, 1, config).action == "escalate"  # no revising a wrong approach
    ok = decide(passing(), [], Review(verdict="approve", summary=""), True, 1, config)
    assert ok.trusted and ok.action == "approve" and all(ok.checks.values())
    blocker = Finding(**finding(severity="blocker"), source="guard", rule="tests.deleted")
    blocked = decide(passing(), [blocker], Review(verdict="approve", summary=""), True, 2, config)
    assert not blocked.trusted and blocked.checks["no_blocking_guard"] is False


@pytest.mark.parametrize(("tried", "cascade", "expected"), [
    (["cheap1"], ["cheap1", "cheap2", "top1"], "top1"),      # a same-tier model is skipped
    (["cheap1"], ["cheap1", "mid1", "top1"], "mid1"),        # the next stronger one in the router's order
    (["mid1"], ["mid1", "cheap1"], None),                    # never down
    (["top1"], ["top1", "mid1", "cheap1"], None),
])
def test_escalation_only_goes_to_a_stronger_tier(tried: list[str], cascade: list[str], expected: str | None) -> None:
    d = after_attempt("not_trusted", False, "review: reject", tried, cascade, TIERS, Decimal("0.1"),
                      ReviewConfig(), True)
    assert d.model == expected
    assert d.action == ("escalate" if expected else "reject")
    if expected is None:
        assert "no stronger-tier implementer" in d.reason


def test_escalation_respects_the_cap_the_switch_and_hard_stops() -> None:
    args = (["cheap1"], ["cheap1", "top1"], TIERS)
    capped = after_attempt("not_trusted", False, "r", *args, Decimal("2.5"), ReviewConfig(escalation_cap_usd=Decimal(2)), True)
    assert capped.action == "reject" and "escalation cap $2 reached" in capped.reason
    off = after_attempt("not_trusted", False, "r", *args, Decimal(0), ReviewConfig(), False)
    assert off.action == "reject" and "escalation is off" in off.reason
    budget = after_attempt("budget_exceeded", False, "budget exceeded", *args, Decimal(0), ReviewConfig(), True)
    assert budget.action == "reject"
    assert after_attempt("trusted", True, "ok", *args, Decimal(0), ReviewConfig(), True).action == "approve"


def test_review_context_reads_the_base_commit_not_the_working_tree(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    (repo / "pkg").mkdir(parents=True)
    (repo / "tests").mkdir()
    (repo / "pkg" / "core.py").write_text("def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n")
    (repo / "tests" / "test_core.py").write_text("from pkg.core import mul\n\n\ndef test_mul():\n"
                                                 "    assert mul(2, 3) == 6\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base")
    base = gitops.head_commit(repo)
    # Uncommitted edits in the user's tree are not part of the base and must not be shown.
    (repo / "pkg" / "core.py").write_text((repo / "pkg" / "core.py").read_text() + "\n\ndef sneaky():\n    pass\n")
    diff = ("diff --git a/pkg/core.py b/pkg/core.py\n--- a/pkg/core.py\n+++ b/pkg/core.py\n"
            "@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n")
    text = build_review_context(gitops.archive(repo, base), diff)
    assert "pkg/core.py:5 `mul`" in text and "return a * b" in text
    assert "tests/test_core.py:1" in text and "def test_mul" in text
    assert "sneaky" not in text
    assert "must cite" in text


def test_review_context_for_a_new_file_shows_a_neighbour(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg" / "core.py").write_text("def add(a, b):\n    return a + b\n")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base")
    diff = ("diff --git a/pkg/extra.py b/pkg/extra.py\nnew file mode 100644\n--- /dev/null\n+++ b/pkg/extra.py\n"
            "@@ -0,0 +1,2 @@\n+def sub(a, b):\n+    return a - b\n")
    text = build_review_context(gitops.archive(repo, "HEAD"), diff)
    assert "pkg/core.py:1 `add` (a neighbour of new file pkg/extra.py)" in text
